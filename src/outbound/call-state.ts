import type pg from 'pg';
import { withTx, type Queryable } from '../db/pool.js';
import { wakeJobSql } from '../jobs/domain-api.js';
import { advance, finalOutcomeSql, isFinalCall, outcomeOf, rankSql, type CallStatus } from './call-status.js';
import { ACTIVE_SQL, lockCall, updateCall, type CallRow } from './calls.repo.js';
import { nextRetry, retryDelayS, retryDueSql, retryOutcomeOf } from './retry.js';
import { getRetryContext } from './settings.repo.js';

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
 * come here. The status moves forward only (a late "ringing" after "completed" or a duplicate
 * changes nothing); the sid is recorded once (a report carrying another sid is ignored).
 *
 * A call that stays active (queued / initiated / ringing / in-progress, or only learns its sid)
 * changes in ONE autocommit statement (advanceActive): three of a call's four status callbacks
 * and the create-call answer are such reports, and each used to be a five-round-trip
 * transaction. Measured (bench/dialer.ts, 1000 businesses): those transactions were most of the
 * database's work and queued the refill path behind them (seconds of refill latency on 2 cores).
 *
 * A report that ends the call takes the call's row lock in a transaction with the item's outcome
 * (or its re-queueing for a retry per the business's policy), the run job's wake-up and the
 * NOTIFY that tells the business's dialer it has a free slot: all of it commits together.
 */
export async function applyProviderState(pool: pg.Pool, businessId: number, callId: number, r: ProviderReport): Promise<ApplyResult> {
  if (!isFinalCall(r.status)) return advanceActive(pool, businessId, callId, r);
  if (await endActiveCall(pool, businessId, callId, r)) return { call: null, changed: true, ended: true };
  return withTx(pool, (tx) => applyInTx(tx, businessId, callId, r));
}

// The call's answered_by and outcome as the flow's webhooks left them (the row before this UPDATE).
const RETRY_DUE = retryDueSql({ status: '$7::text', answeredBy: 'c.answered_by', outcome: 'c.outcome', attempt: 'c.attempt', businessId: '$1' });

/**
 * The first final report of a call that no retry applies to, in ONE autocommit statement: the
 * call ends, its item takes the outcome, the run's job is woken and the NOTIFY is queued — one
 * round trip where the transaction took five, on the refill path (final callback → next dial).
 * Atomic as any single statement; the call's row lock orders it against every other report
 * (a concurrent change is re-checked: a call no longer active is left alone). Anything else —
 * a retry due per the policy (RETRY_DUE: nextRetry's rule, generated from the same table), a
 * duplicate, a late sid — returns false and takes the transactional path.
 */
async function endActiveCall(db: Queryable, businessId: number, callId: number, r: ProviderReport): Promise<boolean> {
  const { rows } = await db.query({
    name: 'bulkhead_call_end',
    text: `WITH c AS (
             UPDATE calls c
                SET status = $3::text, call_sid = coalesce(c.call_sid, $4), duration_s = coalesce($5, c.duration_s), error = coalesce($6, c.error),
                    outcome = coalesce(c.outcome, ${finalOutcomeSql('$3::text')}),
                    ended_at = coalesce(c.ended_at, now()), updated_at = now(), checked_at = now()
              WHERE c.business_id = $1 AND c.id = $2 AND c.status IN ${ACTIVE_SQL}
                AND ($4::text IS NULL OR c.call_sid IS NULL OR c.call_sid = $4)
                AND (c.run_item_id IS NULL OR NOT ${RETRY_DUE})
             RETURNING c.id, c.run_item_id),
           i AS (
             UPDATE run_items i SET status = $7::text, error = coalesce($6, i.error), updated_at = now()
               FROM c
              WHERE i.business_id = $1 AND i.id = c.run_item_id AND i.call_id = c.id
             RETURNING i.run_id),
           j AS (
             ${wakeJobSql({ businessId: '$1', jobId: '(SELECT r.job_id FROM outbound_runs r JOIN i ON r.id = i.run_id WHERE r.business_id = $1)', withinMs: 250 })})
           SELECT pg_notify($8, $1::text) FROM c`,
    values: [businessId, callId, r.status, r.sid ?? null, r.durationS ?? null, r.error ?? null, outcomeOf(r.status), DIALER_CHANNEL],
  });
  return rows.length > 0;
}

const RANK_OLD = rankSql('c.status');
const RANK_NEW = rankSql('$3::text');

/**
 * A non-final report in one statement. Safe without an explicit lock: the UPDATE takes the call's
 * row lock, and when a concurrent transaction (a final callback) changed the row first, PostgreSQL
 * re-checks the WHERE on the new version — a call that ended meanwhile is left alone, and so is
 * its item, which the outer UPDATE only touches through the call the CTE returned.
 */
async function advanceActive(db: Queryable, businessId: number, callId: number, r: ProviderReport): Promise<ApplyResult> {
  const { rows } = await db.query<{ status: CallStatus; call_sid: string | null }>({
    name: 'bulkhead_call_advance',
    text: `WITH c AS (
             UPDATE calls c
                SET status = CASE WHEN ${RANK_OLD} < ${RANK_NEW} THEN $3::text ELSE c.status END,
                    call_sid = coalesce(c.call_sid, $4),
                    error = coalesce($5, c.error),
                    answered_at = CASE WHEN $3::text = 'in-progress' AND c.answered_at IS NULL THEN now() ELSE c.answered_at END,
                    updated_at = now(), checked_at = now()
              WHERE c.business_id = $1 AND c.id = $2
                AND c.status IN ${ACTIVE_SQL}
                AND ($4::text IS NULL OR c.call_sid IS NULL OR c.call_sid = $4)
                AND (${RANK_OLD} < ${RANK_NEW} OR (c.call_sid IS NULL AND $4::text IS NOT NULL))
             RETURNING c.id, c.run_item_id, c.status, c.call_sid),
           i AS (
             UPDATE run_items i SET status = 'calling', updated_at = now()
               FROM c
              WHERE i.business_id = $1 AND i.id = c.run_item_id AND i.call_id = c.id AND i.status = 'dialing' AND c.status <> 'dialing')
           SELECT status, call_sid FROM c`,
    values: [businessId, callId, r.status, r.sid ?? null, r.error ?? null],
  });
  const row = rows[0];
  return { call: null, changed: row !== undefined, ended: false };
}

async function applyInTx(tx: pg.PoolClient, businessId: number, callId: number, r: ProviderReport): Promise<ApplyResult> {
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
  const ended = isFinalCall(next);
  // The NOTIFY rides on the call's own UPDATE (one round trip less on the refill path); it is
  // delivered at COMMIT, so no dialer sees the slot before it is really free.
  await updateCall(tx, businessId, callId, { status: next, sid: r.sid ?? null, durationS: r.durationS ?? null, error: r.error ?? null }, ended ? DIALER_CHANNEL : null);
  const updated: CallRow = { ...call, status: next, call_sid: call.call_sid ?? r.sid ?? null };
  if (call.run_item_id !== null) {
    if (ended) await settleItem(tx, businessId, call, next, r.error ?? null);
    else await tx.query(
      `UPDATE run_items SET status = 'calling', updated_at = now()
        WHERE business_id = $1 AND id = $2 AND call_id = $3 AND status = 'dialing'`,
      [businessId, call.run_item_id, call.id],
    );
  }
  return { call: updated, changed: true, ended };
}

/** `call` is the row as locked, before this report: its answered_by and outcome are the flow's, as RETRY_DUE reads them. */
async function settleItem(tx: pg.PoolClient, businessId: number, call: CallRow, final: CallStatus, error: string | null): Promise<void> {
  const outcome = outcomeOf(final);
  const retried = retryOutcomeOf({ status: outcome, answeredBy: call.answered_by, outcome: call.outcome });
  const context = retried === null ? null : await getRetryContext(tx, businessId);
  const retry = context ? nextRetry(retried, call.attempt, context.policy) : null;
  if (retry && context) {
    await tx.query(
      `UPDATE run_items SET status = 'queued', next_attempt_at = now() + make_interval(secs => $4), error = $5, updated_at = now()
        WHERE business_id = $1 AND id = $2 AND call_id = $3`,
      [businessId, call.run_item_id, call.id, retryDelayS(retry, new Date(), context), `${retried}; retry ${call.attempt + 1} due`],
    );
    return;
  }
  // One statement: the item's outcome and the wake-up of its run's job, so the run's progress
  // (and completion) follows within ~250 ms; calls ending within that window share one wake-up.
  await tx.query(
    `WITH i AS (
       UPDATE run_items SET status = $4, error = coalesce($5, error), updated_at = now()
        WHERE business_id = $1 AND id = $2 AND call_id = $3
        RETURNING run_id)
     ${wakeJobSql({ businessId: '$1', jobId: '(SELECT r.job_id FROM outbound_runs r JOIN i ON r.id = i.run_id WHERE r.business_id = $1)', withinMs: 250 })}`,
    [businessId, call.run_item_id, call.id, outcome, error],
  );
}
