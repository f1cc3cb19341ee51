import { readFile } from 'node:fs/promises';
import type pg from 'pg';
import { z } from 'zod';
import { defineJob, type BatchResult } from '../jobs/types.js';
import { PermanentError } from '../lib/errors.js';
import { getCallBySid } from '../outbound/calls.repo.js';
import { TranscriptionError, type TranscriptionProvider } from '../providers/transcription/types.js';
import type { RecordingsCache } from '../recordings/cache.js';
import { ensureDownload, hasNoRecording, TRANSCRIPTION_DOWNLOAD_PRIORITY } from '../recordings/recordings.service.js';
import { businessLanguage, completeTranscript, failTranscript } from './transcripts.repo.js';

export interface TranscribeJobDeps {
  pool: pg.Pool;
  cache: RecordingsCache;
  provider: TranscriptionProvider;
  /** The engine's JOB_MAX_CONSECUTIVE_FAILURES: the last transient failure marks the transcript failed. */
  maxConsecutiveFailures: number;
  /** Shared by this process's transcriptions: a provider 429 holds them all, not only the one that met it. */
  throttle: ProviderThrottle;
}

/** How long a 429 holds every transcription of this process (the provider's Retry-After). */
export class ProviderThrottle {
  #until = 0;
  hold(ms: number): void {
    this.#until = Math.max(this.#until, Date.now() + ms);
  }
  remainingMs(): number {
    return Math.max(0, this.#until - Date.now());
  }
}

const Params = z.looseObject({ call_sid: z.string().regex(/^CA[0-9a-fA-F]{32}$/) });
const Checkpoint = z.object({ waits: z.number().int().min(0) }).nullable().catch(null);

/** Waits for the recording's download (1 s, 2 s … 30 s), about 10 minutes in all, before giving up. */
const MAX_WAITS = 25;

const one = (result: Record<string, unknown>, ok = true): BatchResult => ({
  processed: 1, succeeded: ok ? 1 : 0, failed: ok ? 0 : 1, checkpoint: null, done: true, result,
});

/**
 * `transcribe_call`: one batch per call. The recording comes from the shared cache; when it is not
 * there the job asks for the same download a play would (one active download per call, high
 * priority on the recordings queue) and snoozes until it is cached, so a transcription never
 * downloads beside a play. Then the provider transcribes it in the business's language.
 *
 * Outcomes: a provider 429 snoozes for its Retry-After (the queue slows, nothing fails); a
 * permanent provider error (bad audio, unsupported format) marks the transcript failed with the
 * reason and completes the job — never retried; a transient error follows the engine's retries,
 * and the last allowed one marks the transcript failed so none stays `pending` forever. The
 * transcript is written in the batch's transaction: a kill -9 mid-transcription commits nothing,
 * the rescued job transcribes again, and the row is written once.
 */
export function transcribeJob(deps: TranscribeJobDeps) {
  return defineJob({
    type: 'transcribe_call',
    params: Params,
    // One call per batch and nothing to pace against but the provider (its 429s snooze the job).
    batchPauseMs: 0,
    batch: async ({ tx, job, params: { call_sid: sid }, checkpoint, log }) => {
      const businessId = job.business_id;
      const call = await getCallBySid(tx, businessId, sid);
      if (!call) throw new PermanentError(`call ${sid} not found`);
      const held = deps.throttle.remainingMs();
      if (held > 0) return { processed: 0, succeeded: 0, failed: 0, checkpoint, done: false, snoozeMs: held };

      const cached = await deps.cache.open(businessId, sid);
      if (!cached) {
        if (hasNoRecording(call)) {
          await failTranscript(tx, businessId, call.id, 'the call has no recording');
          return one({ transcript: 'failed', reason: 'no recording' }, false);
        }
        const waits = Checkpoint.parse(checkpoint)?.waits ?? 0;
        if (waits >= MAX_WAITS) {
          await failTranscript(tx, businessId, call.id, 'the recording could not be downloaded');
          return one({ transcript: 'failed', reason: 'download' }, false);
        }
        const cachedNow = async () => (await deps.cache.open(businessId, sid)) !== null;
        // null: the file arrived meanwhile; the next pass (in a second) transcribes it.
        await ensureDownload(deps.pool, { businessId, userId: null }, sid, { priority: TRANSCRIPTION_DOWNLOAD_PRIORITY, cached: cachedNow });
        return { processed: 0, succeeded: 0, failed: 0, checkpoint: { waits: waits + 1 }, done: false, snoozeMs: Math.min(30_000, 1_000 * 2 ** Math.min(waits, 5)) };
      }

      const language = await businessLanguage(tx, businessId);
      try {
        const t = await deps.provider.transcribe({ audio: await readFile(cached.file), filename: `${sid}.wav`, language });
        await completeTranscript(tx, businessId, call.id, { language, text: t.text, segments: t.segments });
        log.info({ callSid: sid, chars: t.text.length, segments: t.segments.length }, 'call transcribed');
        return one({ transcript: 'completed', chars: t.text.length });
      } catch (err) {
        if (!(err instanceof TranscriptionError)) throw err;
        if (err.kind === 'rate_limited') {
          const ms = err.retryAfterMs ?? 5_000;
          deps.throttle.hold(ms);
          log.info({ callSid: sid, retryAfterMs: ms }, 'transcription provider rate limit: the queue waits');
          return { processed: 0, succeeded: 0, failed: 0, checkpoint, done: false, snoozeMs: ms };
        }
        if (err.kind === 'rejected' || job.consecutive_failures + 1 >= deps.maxConsecutiveFailures) {
          await failTranscript(tx, businessId, call.id, err.message);
          log.warn({ callSid: sid, err: err.message }, 'transcription failed');
          return one({ transcript: 'failed', reason: err.message }, false);
        }
        throw err;
      }
    },
  });
}
