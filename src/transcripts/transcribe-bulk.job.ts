import { z } from 'zod';
import { defineJob } from '../jobs/types.js';
import { getCalls } from '../outbound/calls.repo.js';
import { queueTranscription } from './transcripts.service.js';

const Params = z.looseObject({});
const Checkpoint = z.object({ next: z.number().int().min(0) }).nullable().catch(null);

/**
 * `transcribe_calls_bulk`: re-transcribes the calls the job targets (ids resolved when it was
 * accepted). Each batch queues one `transcribe_call` per call (the transcript back to pending),
 * so the bulk job is pausable and cancellable at batch boundaries like every bulk job, and the
 * transcriptions themselves run one per call under the provider's rate limit.
 */
export const transcribeBulkJob = defineJob({
  type: 'transcribe_calls_bulk',
  params: Params,
  batch: async ({ tx, job, checkpoint, batchSize }) => {
    const targets = job.targets ?? [];
    const from = Checkpoint.parse(checkpoint)?.next ?? 0;
    const ids = targets.slice(from, from + batchSize);
    const calls = await getCalls(tx, job.business_id, ids);
    let queued = 0;
    for (const call of calls) {
      if (!call.call_sid) continue;
      await queueTranscription(tx, { businessId: job.business_id, callId: call.id, callSid: call.call_sid, again: true, createdBy: job.created_by });
      queued++;
    }
    const next = from + ids.length;
    return { processed: ids.length, succeeded: queued, failed: ids.length - queued, checkpoint: { next }, done: next >= targets.length };
  },
});
