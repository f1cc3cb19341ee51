import type pg from 'pg';
import { withTx, type Queryable } from '../db/pool.js';
import { advance, isFinalCall, outcomeOf, type CallStatus } from './call-status.js';
import { lockCall, updateCall, type CallRow } from './calls.repo.js';
import { nextRetry, NO_RETRY, type RetryPolicy } from './retry.js';

/** NOTIFY channel: payload = a business id whose slots may have freed up (or whose run resumed). */
export const DIALER_CHANNEL = 'bulkhead_dialer';

export interface ProviderReport {
  status: CallStatus;
  sid?: string | null | undefined;
  durationS?: number | null | undefined;
  error?: string | null | undefined;
}

export interface ApplyResult {
  call: CallRow | null;
  changed: boolean;
  ended: boolean;
}

/**
 * The one way a call's state changes — status callbacks, create-call answers and the sweeper all
 * come here. Under the call's row lock: the status moves forward only (a late "ringing" after
 * "completed" or a duplicate changes nothing); the sid is recorded once; when the call ends, its
 * run item takes the outcome (or goes back to the queue for a retry per the business's policy),
 * the dialer is told the business has a free slot (NOTIFY, delivered at commit) and the run's job
 * is woken to count progress. All of it commits together.
 */
export async function applyProviderState(pool: pg.Pool, businessId: number, callId: number, r: ProviderReport): Promise<ApplyResult> {
  return withTx(pool, (tx) => applyInTx(tx, businessId, callId, r));
}

export async function applyInTx(tx: pg.PoolClient, businessId: number, callId: number, r: ProviderReport): Promise<ApplyResult> {
  const call = await lockCall(tx, businessId, callId);
  if (!call) return { call: null, changed: false, ended: false };
  if (r.sid && call.call_sid && r.sid !== call.call_sid) return { call, changed: false, ended: false };
  const next = advance(call.status, r.status);
  if (next === null) {
    if (r.sid && !call.call_sid) {
      await updateCall(tx, businessId, callId, { status: call.status, sid: r.sid, durationS: null, error: null });
      return { call: { ...call, call_sid: r.sid }, changed: true, ended: false };
    }
    return { call, changed: false, ended: false };
  }
  await updateCall(tx, businessId, callId, { status: next, sid: r.sid ?? null, durationS: r.durationS ?? null, error: r.error ?? null });
  const updated: CallRow = { ...call, status: next, call_sid: call.call_sid ?? r.sid ?? null };
  const ended = isFinalCall(next);
  if (call.run_item_id !== null) {
    if (ended) await settleItem(tx, businessId, call, next, r.error ?? null);
    else await tx.query(
      `UPDATE run_items SET status = 'calling', updated_at = now()
        WHERE business_id = $1 AND id = $2 AND call_id = $3 AND status = 'dialing'`,
      [businessId, call.run_item_id, call.id],
    );
  }
  if (ended) await tx.query(`SELECT pg_notify($1, $2::text)`, [DIALER_CHANNEL, businessId]);
  return { call: updated, changed: true, ended };
}

async function retryPolicy(db: Queryable, businessId: number): Promise<RetryPolicy> {
  const { rows } = await db.query<{ retry_busy: number; retry_no_answer: number; retry_delay_s: number }>(
    `SELECT retry_busy, retry_no_answer, retry_delay_s FROM dialer_settings WHERE business_id = $1`,
    [businessId],
  );
  const r = rows[0];
  return r ? { busy: r.retry_busy, noAnswer: r.retry_no_answer, delayS: r.retry_delay_s } : NO_RETRY;
}

async function settleItem(tx: pg.PoolClient, businessId: number, call: CallRow, final: CallStatus, error: string | null): Promise<void> {
  const outcome = outcomeOf(final);
  const retry = outcome === 'busy' || outcome === 'no_answer' ? nextRetry(outcome, call.attempt, await retryPolicy(tx, businessId)) : null;
  if (retry) {
    await tx.query(
      `UPDATE run_items SET status = 'queued', next_attempt_at = now() + make_interval(secs => $4), error = $5, updated_at = now()
        WHERE business_id = $1 AND id = $2 AND call_id = $3`,
      [businessId, call.run_item_id, call.id, retry.delayS, `${outcome}; retry ${call.attempt + 1} due`],
    );
    return;
  }
  const { rows } = await tx.query<{ run_id: number }>(
    `UPDATE run_items SET status = $4, error = coalesce($5, error), updated_at = now()
      WHERE business_id = $1 AND id = $2 AND call_id = $3
      RETURNING run_id`,
    [businessId, call.run_item_id, call.id, outcome, error],
  );
  const runId = rows[0]?.run_id;
  if (runId === undefined) return;
  // Wake the run's job so its progress (and completion) follows within ~100 ms; calls ending
  // within that window share one wake-up instead of one batch each.
  await tx.query(
    `UPDATE jobs SET run_at = now() + interval '250 milliseconds'
      WHERE business_id = $1 AND id = (SELECT job_id FROM outbound_runs WHERE business_id = $1 AND id = $2)
        AND status = 'queued' AND run_at > now() + interval '250 milliseconds'`,
    [businessId, runId],
  );
}
