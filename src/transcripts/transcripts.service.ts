import { createHash } from 'node:crypto';
import type pg from 'pg';
import type { Queryable } from '../db/pool.js';
import { withTx } from '../db/pool.js';
import { OPERATIONS } from '../gate/operations.js';
import { isActiveLockViolation } from '../jobs/admission.js';
import { activeJobByLockKey } from '../jobs/domain-api.js';
import { insertJob } from '../jobs/jobs.repo.js';
import type { Transcript } from '../contract/transcripts.js';
import { acceptJob, type AcceptDeps, type Accepted, type Caller, type Idempotency } from '../gate/accept.js';
import { NotFoundError } from '../lib/errors.js';
import { msg } from '../lib/messages.js';
import { getCallBySid } from '../outbound/calls.repo.js';
import { getTranscriptByCallSid, markPending } from './transcripts.repo.js';

export function transcriptLockKey(callSid: string): string {
  return `transcript:${callSid}`;
}

/**
 * Queues `transcribe_call` for one call inside the caller's transaction: the transcript row
 * (pending) and the job commit together. One active job per call (its lock key); with `again`
 * false (the recording webhook) a call that already has a transcript is left alone, so a repeated
 * webhook transcribes nothing twice. Returns the job id, or null when nothing was queued.
 *
 * Not through the gate (DESIGN.md: "none (one per recorded call)"): every recorded call gets one,
 * and the lock key is the dedup.
 */
export async function queueTranscription(
  tx: Queryable,
  c: { businessId: number; callId: number; callSid: string; again: boolean; createdBy: number | null },
): Promise<number | null> {
  const active = await activeJobByLockKey(tx, c.businessId, transcriptLockKey(c.callSid));
  if (active !== null) {
    if (c.again) await markPending(tx, c.businessId, c.callId, c.callSid, true);
    return null;
  }
  if (!(await markPending(tx, c.businessId, c.callId, c.callSid, c.again))) return null;
  const spec = OPERATIONS.transcribe_call;
  const job = await insertJob(tx, {
    businessId: c.businessId,
    type: 'transcribe_call',
    queue: spec.queue,
    priority: spec.priority,
    params: { call_sid: c.callSid },
    paramsHash: createHash('sha256').update(`transcribe:${c.callSid}`).digest('hex'),
    lockKey: transcriptLockKey(c.callSid),
    total: 1,
    createdBy: c.createdBy,
  });
  return job.id;
}

/**
 * The recording webhook's hook (src/outbound/twilio.webhooks.ts): after a completed recording,
 * queue its transcription. Its own transaction; a concurrent duplicate webhook that meets the
 * active-lock index is the same transcription already queued, not an error.
 */
export async function transcribeAfterRecording(pool: pg.Pool, businessId: number, callId: number): Promise<void> {
  try {
    await withTx(pool, async (tx) => {
      const { rows } = await tx.query<{ call_sid: string | null }>(`SELECT call_sid FROM calls WHERE business_id = $1 AND id = $2`, [businessId, callId]);
      const callSid = rows[0]?.call_sid;
      if (!callSid) return;
      await queueTranscription(tx, { businessId, callId, callSid, again: false, createdBy: null });
    });
  } catch (err) {
    if (!isActiveLockViolation(err)) throw err;
  }
}

/** The transcript answer of API.md; `none` for a call that has none (yet). 404 for a call not of the business. */
export async function transcriptOf(pool: pg.Pool, businessId: number, callSid: string): Promise<Transcript> {
  const call = await getCallBySid(pool, businessId, callSid);
  if (!call) throw new NotFoundError('Call');
  const t = await getTranscriptByCallSid(pool, businessId, callSid);
  if (!t) return { call_sid: callSid, status: 'none', language: null, text: null, segments: [], error: null };
  return { call_sid: callSid, status: t.status, language: t.language, text: t.text, segments: t.segments, error: t.error };
}

/**
 * POST /calls/transcribe: the recorded calls named (or of the run) become the job's targets;
 * gated like every bulk operation (rate, active lock, dedup) and audited by acceptJob.
 */
export async function acceptTranscribeBulk(
  pool: pg.Pool,
  accept: AcceptDeps,
  who: Caller,
  target: { callSids: string[] } | { runId: number },
  idempotency: Idempotency | undefined,
): Promise<Accepted> {
  const { rows } = 'callSids' in target
    ? await pool.query<{ id: number }>(
      `SELECT id FROM calls WHERE business_id = $1 AND call_sid = ANY($2::text[]) AND recording_status = 'completed' ORDER BY id`,
      [who.businessId, [...new Set(target.callSids)]],
    )
    : await pool.query<{ id: number }>(
      `SELECT id FROM calls WHERE business_id = $1 AND run_id = $2 AND recording_status = 'completed' ORDER BY id`,
      [who.businessId, target.runId],
    );
  if (rows.length === 0) throw new NotFoundError(msg('transcripts.no_recorded_calls'));
  const ids = rows.map((r) => Number(r.id));
  return acceptJob(accept, {
    caller: who,
    op: 'transcribe_calls_bulk',
    params: 'callSids' in target ? { calls: ids.length } : { run_id: target.runId, calls: ids.length },
    targets: ids,
    total: ids.length,
    idempotency,
  });
}
