import { z } from 'zod';
import { defineJob } from '../jobs/types.js';
import { PermanentError } from '../lib/errors.js';
import { getCallBySid, setRecording } from '../outbound/calls.repo.js';
import { ProviderError, type TelephonyProvider } from '../providers/telephony/types.js';
import type { RecordingsCache } from './cache.js';

export interface DownloadJobDeps {
  cache: RecordingsCache;
  /** The account the call was placed through (its business's own, or the deployment's). */
  providerFor: (businessId: number, accountSid: string | null) => Promise<TelephonyProvider>;
}

/**
 * `recording_download`: one batch fetches the recording into the cache (temp file + rename). A
 * call without a recording is marked so (recording_status 'absent') and the job completes: the
 * stream endpoint then answers 404 instead of enqueueing again. Provider errors other than
 * "not found" fail the batch and the engine retries it with backoff.
 */
const DownloadParams = z.looseObject({ call_sid: z.string().min(1) });

export function downloadJob(deps: DownloadJobDeps) {
  return defineJob({
    type: 'recording_download',
    params: DownloadParams,
    batch: async ({ tx, job, params: { call_sid: sid }, log }) => {
      const call = await getCallBySid(tx, job.business_id, sid);
      if (!call) throw new PermanentError(`call ${sid} not found`);
      const done = (result: Record<string, unknown>) => ({ processed: 1, succeeded: 1, failed: 0, checkpoint: null, done: true, result });
      const cached = await deps.cache.open(job.business_id, sid);
      if (cached !== null) return done({ bytes: cached.size, cached: true });
      const provider = await deps.providerFor(job.business_id, call.account_sid).catch((err: unknown) => {
        // The business's subaccount is gone (channel changed): retrying cannot bring it back.
        if (err instanceof ProviderError && err.kind === 'rejected') throw new PermanentError(`the recording of ${sid} is at a Twilio account that is no longer the business's`);
        throw err;
      });
      let recordingSid = call.recording_sid;
      if (!recordingSid) recordingSid = (await provider.findRecording(sid))?.sid ?? null;
      if (!recordingSid) {
        await setRecording(tx, job.business_id, call.id, { sid: null, status: 'absent', durationS: null });
        return done({ recording: 'none' });
      }
      try {
        const bytes = await deps.cache.store(job.business_id, sid, (out) => provider.downloadRecording(recordingSid, out));
        await setRecording(tx, job.business_id, call.id, { sid: recordingSid, status: 'completed', durationS: null });
        log.info({ callSid: sid, bytes }, 'recording cached');
        return done({ bytes });
      } catch (err) {
        if (err instanceof ProviderError && err.kind === 'not_found') {
          await setRecording(tx, job.business_id, call.id, { sid: recordingSid, status: 'absent', durationS: null });
          return done({ recording: 'none' });
        }
        throw err;
      }
    },
  });
}
