import { createHash } from 'node:crypto';
import type pg from 'pg';
import { withTx } from '../db/pool.js';
import type { Caller } from '../gate/accept.js';
import { OPERATIONS } from '../gate/operations.js';
import { isActiveLockViolation } from '../jobs/admission.js';
import { activeJobByLockKey } from '../jobs/domain-api.js';
import { insertJob } from '../jobs/jobs.repo.js';
import { NotFoundError } from '../lib/errors.js';
import { isActiveCall, isFinalCall } from '../outbound/call-status.js';
import { getCallBySid, type CallRow } from '../outbound/calls.repo.js';
import type { RecordingsCache } from './cache.js';

export type PlayAnswer =
  | { kind: 'file'; file: string; size: number }
  | { kind: 'processing'; jobId: number; retryAfterS: number };

const RETRY_AFTER_S = 2;

export function recordingLockKey(callSid: string): string {
  return `recording:${callSid}`;
}

export function hasNoRecording(call: CallRow): boolean {
  // The recording callback can arrive before the call's final status callback: a completed
  // recording is there whatever the call's status says yet.
  if (call.recording_status === 'completed') return false;
  if (call.recording_status === 'absent' || call.recording_status === 'failed') return true;
  if (isActiveCall(call.status)) return true;
  return isFinalCall(call.status) && call.status !== 'completed';
}

/**
 * Play a recording: the cached file; else the pending download job, found by its lock key; else
 * a new high-priority download job. Plays never pass the gate (DESIGN.md: "none (plays are never
 * refused)"): no rate limit, no dedup window — the job's active row is the only de-duplication
 * marker, and the unique index over active lock keys (jobs_active_lock) makes concurrent first
 * plays meet there: all but one are told the job id that holds it. Why not the gate with a high
 * limit: a per-business override in businesses.rate_limits would bring the refusal back, and the
 * dedup window would answer a replay after an eviction with a finished job.
 */
export async function playRecording(pool: pg.Pool, store: RecordingsCache, who: Caller, callSid: string): Promise<PlayAnswer> {
  const call = await getCallBySid(pool, who.businessId, callSid);
  if (!call) throw new NotFoundError('Call');
  const cached = await store.open(who.businessId, callSid);
  if (cached) return { kind: 'file', ...cached };
  if (hasNoRecording(call)) throw new NotFoundError('A recording of this call');
  const jobId = await ensureDownload(pool, who, callSid, { cached: async () => (await store.open(who.businessId, callSid)) !== null });
  // The download may have finished between the cache check and here.
  const now = await store.open(who.businessId, callSid);
  if (now) return { kind: 'file', ...now };
  // Seen in the cache a moment ago and evicted since (the LRU under size pressure): ask again.
  if (jobId === null) return playRecording(pool, store, who, callSid);
  return { kind: 'processing', jobId, retryAfterS: RETRY_AFTER_S };
}

/**
 * A download a transcription asks for: below a play's (OPERATIONS.recording_download.priority),
 * above other work, so a backlog of transcriptions fetching their recordings never queues ahead
 * of a play. A play of a call whose download a transcription already queued joins that job.
 */
export const TRANSCRIPTION_DOWNLOAD_PRIORITY = 5;

/**
 * The active download job of a call's recording, enqueued if there is none — or null when
 * `cached` says the file is there after all. That second look closes a race: a download job
 * renames its file into the cache before it commits, so once no active job is seen, an earlier
 * one has committed and its file is visible; without the look, a play that missed the cache just
 * before that rename would queue a second download of the same recording.
 */
export async function ensureDownload(
  pool: pg.Pool,
  who: { businessId: number; userId: number | null },
  callSid: string,
  opts: { priority?: number; cached: () => Promise<boolean> },
): Promise<number | null> {
  const priority = opts.priority ?? OPERATIONS.recording_download.priority;
  const lockKey = recordingLockKey(callSid);
  const pending = await activeJobByLockKey(pool, who.businessId, lockKey);
  if (pending !== null) return pending;
  if (await opts.cached()) return null;
  const spec = OPERATIONS.recording_download;
  try {
    const job = await withTx(pool, (tx) =>
      insertJob(tx, {
        businessId: who.businessId,
        type: 'recording_download',
        queue: spec.queue,
        priority,
        params: { call_sid: callSid },
        paramsHash: createHash('sha256').update(callSid).digest('hex'),
        lockKey,
        total: 1,
        createdBy: who.userId,
      }),
    );
    return job.id;
  } catch (err) {
    if (!isActiveLockViolation(err)) throw err;
    const holder = await activeJobByLockKey(pool, who.businessId, lockKey);
    // The holder finished between the violation and the look-up: one more round finds the file.
    return holder ?? ensureDownload(pool, who, callSid, opts);
  }
}
