import { z } from 'zod';
import { defineJob } from '../jobs/types.js';
import { PermanentError } from '../lib/errors.js';
import { cancelQueuedItems, runBatchState } from './runs.repo.js';

export interface RunJobDeps {
  requestFill(businessId: number): void;
  pollMs: number;
}

/**
 * `enqueue_outbound_calls`: the job is the run. A batch does not dial (the dialer does, outside
 * any transaction); it counts the run's ended items into the job's progress (processed = calls
 * ended, succeeded = completed), asks the dialer to fill the business's slots, and snoozes until
 * a call of the run ends (call-state.ts wakes it) or DIALER_RUN_POLL_MS passes. It completes when
 * every item has ended. A cancel requested while the job is held marks the queued items
 * cancelled in the batch that ends the job; calls in flight finish.
 */
const RunParams = z.looseObject({ lead_count: z.number().int().nonnegative(), concurrency: z.number().int().positive() });

export function runJob(deps: RunJobDeps) {
  return defineJob({
    type: 'enqueue_outbound_calls',
    params: RunParams,
    batch: async ({ tx, job }) => {
      let p = await runBatchState(tx, job.business_id, job.id);
      if (!p) throw new PermanentError(`run of job ${job.id} not found`);
      const cancelling = p.cancelRequested;
      if (cancelling && (await cancelQueuedItems(tx, job.business_id, p.runId)) > 0) p = (await runBatchState(tx, job.business_id, job.id)) ?? p;
      const done = p.ended >= p.total;
      // Only when this run could dial now: a call's end already NOTIFYs the dialers, and an
      // unconditional fill here cost one more claim transaction per call ended (measured: 40 %
      // of all fills in bench/dialer.ts were such no-ops). Resume, rescue and the first batch
      // still fill here; retries and calling hours are the sweeper's.
      if (!done && !cancelling && p.due > 0 && p.active < p.concurrency) deps.requestFill(job.business_id);
      const succeeded = p.completed - job.succeeded;
      const ended = p.ended - job.processed;
      return {
        processed: ended,
        succeeded,
        failed: ended - succeeded,
        checkpoint: { ended: p.ended },
        total: p.total,
        done,
        ...(done || cancelling ? {} : { snoozeMs: deps.pollMs }),
      };
    },
  });
}
