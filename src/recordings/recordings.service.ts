import type pg from 'pg';
import { acceptJob, type AcceptDeps, type Caller } from '../gate/accept.js';
import { activeJobByLockKey } from '../jobs/domain-api.js';
import { GateRefusal, NotFoundError } from '../lib/errors.js';
import { isActiveCall, isFinalCall } from '../outbound/call-status.js';
import { getCallBySid, type CallRow } from '../outbound/calls.repo.js';
import { cachedSize, recordingPath } from './cache.js';

export type PlayAnswer =
  | { kind: 'file'; file: string; size: number }
  | { kind: 'processing'; jobId: number; retryAfterS: number };

const RETRY_AFTER_S = 2;

function recordingLockKey(callSid: string): string {
  return `recording:${callSid}`;
}

async function activeDownload(pool: pg.Pool, businessId: number, callSid: string): Promise<number | null> {
  return activeJobByLockKey(pool, businessId, recordingLockKey(callSid));
}

function hasNoRecording(call: CallRow): boolean {
  if (call.recording_status === 'absent' || call.recording_status === 'failed') return true;
  if (isActiveCall(call.status)) return true;
  return isFinalCall(call.status) && call.status !== 'completed';
}

/**
 * Play a recording: the cached file; else the pending download job, found by its lock key
 * BEFORE the gate — so repeated plays answer 202 with the same job, enqueue nothing and do not
 * spend the operation's rate limit (10/min); else a new high-priority download job. The job's
 * active row is the de-duplication marker: concurrent first plays meet at the gate's lock and
 * all but one are told the job id that holds it.
 */
export async function playRecording(pool: pg.Pool, accept: AcceptDeps, dataDir: string, who: Caller, callSid: string): Promise<PlayAnswer> {
  const call = await getCallBySid(pool, who.businessId, callSid);
  if (!call) throw new NotFoundError('Call');
  const file = recordingPath(dataDir, who.businessId, callSid);
  const size = await cachedSize(file);
  if (size !== null) return { kind: 'file', file, size };
  if (hasNoRecording(call)) throw new NotFoundError('A recording of this call');
  const pending = await activeDownload(pool, who.businessId, callSid);
  if (pending !== null) return { kind: 'processing', jobId: pending, retryAfterS: RETRY_AFTER_S };
  try {
    const accepted = await acceptJob(accept, {
      caller: who,
      op: 'recording_download',
      params: { call_sid: callSid },
      lockKey: recordingLockKey(callSid),
      total: 1,
    });
    return { kind: 'processing', jobId: Number(accepted.body.job_id), retryAfterS: RETRY_AFTER_S };
  } catch (err) {
    const jobId = err instanceof GateRefusal ? err.details?.job_id : undefined;
    if (err instanceof GateRefusal && err.gateCode !== 'rate_limited' && typeof jobId === 'number') {
      // Another play won the race (or just finished): serve the file if it is there now.
      const now = await cachedSize(file);
      if (now !== null) return { kind: 'file', file, size: now };
      return { kind: 'processing', jobId, retryAfterS: RETRY_AFTER_S };
    }
    throw err;
  }
}
