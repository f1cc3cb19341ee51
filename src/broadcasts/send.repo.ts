import type { Queryable } from '../db/pool.js';
import { jobHeldSql } from '../jobs/domain-api.js';
import { UNKNOWN_OUTCOME, emptyCounts, type RecipientCounts, type RecipientStatus } from './recipient-status.js';
import type { RecipientOutcome } from './send-outcome.js';

/**
 * The statements of the sending loop. Each runs on its own (autocommit), NOT in the batch
 * transaction: `sending` must be durable BEFORE the provider call and the outcome durable right
 * after it, whatever happens to the batch (Invariant 5). See docs/BROADCASTS.md.
 */

export interface ClaimedRecipient {
  id: number;
  phone: string;
  status: 'sending' | 'skipped';
  attempts: number;
}

/**
 * Marks the next due queued recipients `sending` (or `skipped`, when the number opted out since
 * the broadcast was created), fenced by the job claim: a worker that lost its claim (it stalled
 * and was rescued) claims nothing more. SKIP LOCKED: two holders never get the same row.
 */
export async function claimWave(
  db: Queryable,
  w: { businessId: number; broadcastId: number; jobId: number; workerId: string; claim: number; limit: number },
): Promise<ClaimedRecipient[]> {
  const { rows } = await db.query<ClaimedRecipient>({
    name: 'bulkhead_wa_claim_wave',
    text: `WITH picked AS (
             SELECT r.id,
                    EXISTS (SELECT 1 FROM whatsapp_opt_outs o WHERE o.business_id = $1 AND o.phone = r.phone) AS opted_out
               FROM whatsapp_recipients r
              WHERE r.business_id = $1 AND r.broadcast_id = $2 AND r.status = 'queued'
                AND (r.next_attempt_at IS NULL OR r.next_attempt_at <= now())
                AND ${jobHeldSql({ businessId: '$1', jobId: '$3', workerId: '$4', attempt: '$5' })}
              ORDER BY r.id
              LIMIT $6
              FOR UPDATE OF r SKIP LOCKED
           )
           UPDATE whatsapp_recipients r
              SET status = CASE WHEN p.opted_out THEN 'skipped' ELSE 'sending' END,
                  reason = CASE WHEN p.opted_out THEN 'opted_out' ELSE r.reason END,
                  attempts = r.attempts + CASE WHEN p.opted_out THEN 0 ELSE 1 END,
                  send_claim = $5, send_started_at = NULL, updated_at = now()
             FROM picked p
            WHERE r.business_id = $1 AND r.id = p.id
        RETURNING r.id, r.phone, r.status, r.attempts`,
    values: [w.businessId, w.broadcastId, w.jobId, w.workerId, w.claim, w.limit],
  });
  return rows.sort((a, b) => a.id - b.id);
}

export async function hasDueRecipients(db: Queryable, businessId: number, broadcastId: number): Promise<boolean> {
  const { rows } = await db.query({
    name: 'bulkhead_wa_has_due',
    text: `SELECT 1 FROM whatsapp_recipients
            WHERE business_id = $1 AND broadcast_id = $2 AND status = 'queued' AND (next_attempt_at IS NULL OR next_attempt_at <= now())
            LIMIT 1`,
    values: [businessId, broadcastId],
  });
  return rows.length > 0;
}

/**
 * Marks one claimed recipient's send as started, committed BEFORE the provider call: a crash
 * after it leaves an unknown outcome, a crash before it a send that never left. Fenced by the
 * claim that marked it `sending`: false (do not send) when a successor reconciled or re-claimed
 * it meanwhile (this worker stalled), so a row is never sent by two holders.
 */
export async function markSendStarted(db: Queryable, businessId: number, recipientId: number, claim: number): Promise<boolean> {
  const { rowCount } = await db.query({
    name: 'bulkhead_wa_mark_started',
    text: `UPDATE whatsapp_recipients SET send_started_at = clock_timestamp()
            WHERE business_id = $1 AND id = $2 AND status = 'sending' AND send_claim = $3`,
    values: [businessId, recipientId, claim],
  });
  return rowCount === 1;
}

/**
 * Writes what each send did. Applies to rows still `sending`, or to ones a successor already
 * reconciled as failed-unknown while this (stalled) worker was still sending: what actually
 * happened beats the guess. Returns the message ids recorded.
 */
export async function recordOutcomes(db: Queryable, businessId: number, outcomes: readonly RecipientOutcome[]): Promise<void> {
  if (outcomes.length === 0) return;
  await db.query({
    name: 'bulkhead_wa_record_outcomes',
    text: `UPDATE whatsapp_recipients r
              SET status = v.status, reason = v.reason, error_code = v.error_code,
                  message_id = coalesce(v.message_id, r.message_id),
                  attempts = r.attempts - CASE WHEN v.not_sent THEN 1 ELSE 0 END,
                  next_attempt_at = CASE WHEN v.retry_ms IS NULL THEN NULL
                                         ELSE clock_timestamp() + make_interval(secs => v.retry_ms / 1000) END,
                  sent_at = CASE WHEN v.status = 'sent' THEN clock_timestamp() ELSE r.sent_at END,
                  updated_at = now()
             FROM unnest($2::bigint[], $3::text[], $4::text[], $5::int[], $6::text[], $7::float8[], $8::boolean[])
                  AS v(id, status, reason, error_code, message_id, retry_ms, not_sent)
            WHERE r.business_id = $1 AND r.id = v.id
              AND (r.status = 'sending' OR (r.status = 'failed' AND r.reason = $9 AND NOT v.not_sent))`,
    values: [
      businessId,
      outcomes.map((o) => o.id),
      outcomes.map((o) => o.status),
      outcomes.map((o) => o.reason),
      outcomes.map((o) => o.errorCode),
      outcomes.map((o) => o.messageId),
      outcomes.map((o) => o.retryAfterMs),
      outcomes.map((o) => o.notSent),
      UNKNOWN_OUTCOME,
    ],
  });
}

/**
 * Recipients left `sending` by a batch that did not finish (a killed or rescued worker, a batch
 * that threw). One whose send was started (send_started_at) may have reached the provider: it is
 * never resent, it becomes failed with reason unknown_outcome, and a later status webhook for its
 * message (by message id, or by the callback data naming it) can still settle it. One whose send
 * never started was only claimed for a later slot: it goes back to `queued`, its attempt not
 * counted (the request never left; markSendStarted fences a stalled holder). Runs at the start of
 * each batch, when this job has no send in flight.
 */
export async function reconcileOrphans(db: Queryable, businessId: number, broadcastId: number): Promise<{ unknown: number; requeued: number }> {
  const { rows } = await db.query<{ unknown: number; requeued: number }>({
    name: 'bulkhead_wa_reconcile_orphans',
    text: `WITH o AS (
             UPDATE whatsapp_recipients
                SET status = CASE WHEN send_started_at IS NULL THEN 'queued' ELSE 'failed' END,
                    reason = CASE WHEN send_started_at IS NULL THEN reason ELSE $3 END,
                    attempts = attempts - CASE WHEN send_started_at IS NULL THEN 1 ELSE 0 END,
                    updated_at = now()
              WHERE business_id = $1 AND broadcast_id = $2 AND status = 'sending'
          RETURNING status
           )
           SELECT count(*) FILTER (WHERE status = 'failed')::int AS unknown,
                  count(*) FILTER (WHERE status = 'queued')::int AS requeued
             FROM o`,
    values: [businessId, broadcastId, UNKNOWN_OUTCOME],
  });
  return rows[0] ?? { unknown: 0, requeued: 0 };
}

export interface BroadcastProgress {
  counts: RecipientCounts;
  /** ms until the earliest queued recipient is due (≤ 0: due now); null when none is queued. */
  nextDueInMs: number | null;
}

/** Recipient counts of several broadcasts in one grouped query (lists; no query per broadcast). */
export async function countsOf(db: Queryable, businessId: number, broadcastIds: number[]): Promise<Map<number, RecipientCounts>> {
  const { rows } = await db.query<{ broadcast_id: number; status: RecipientStatus; n: number }>(
    `SELECT broadcast_id, status, count(*)::int AS n FROM whatsapp_recipients
      WHERE business_id = $1 AND broadcast_id = ANY($2::bigint[]) GROUP BY broadcast_id, status`,
    [businessId, broadcastIds],
  );
  const out = new Map(broadcastIds.map((id) => [id, emptyCounts()]));
  for (const r of rows) {
    const counts = out.get(Number(r.broadcast_id));
    if (counts) counts[r.status] = r.n;
  }
  return out;
}

export async function progressOf(db: Queryable, businessId: number, broadcastId: number): Promise<BroadcastProgress> {
  const { rows } = await db.query<{ status: RecipientStatus; n: number; next_due_ms: number | string | null }>({
    name: 'bulkhead_wa_progress',
    text: `SELECT status, count(*)::int AS n,
                  extract(epoch FROM (min(coalesce(next_attempt_at, now())) - now())) * 1000 AS next_due_ms
             FROM whatsapp_recipients WHERE business_id = $1 AND broadcast_id = $2
            GROUP BY status`,
    values: [businessId, broadcastId],
  });
  const counts = emptyCounts();
  let nextDueInMs: number | null = null;
  for (const r of rows) {
    counts[r.status] = r.n;
    if (r.status === 'queued' && r.next_due_ms !== null) nextDueInMs = Number(r.next_due_ms);
  }
  return { counts, nextDueInMs };
}
