import type pg from 'pg';
import { withTx, type Queryable } from '../db/pool.js';
import type { RecipientRef } from './callback-data.js';
import { UNKNOWN_OUTCOME, type RecipientStatus } from './recipient-status.js';
import { applyDeliveryEvent, type DeliveryEvent } from './status-order.js';

export interface StatusUpdate extends DeliveryEvent {
  messageId: string;
  /** The recipient named by the message's callback data (callback-data.ts), when it has one. */
  recipient?: RecipientRef | null;
}

interface LockedRecipient {
  id: number;
  business_id: number;
  broadcast_id: number;
  message_id: string | null;
  status: RecipientStatus;
  reason: string | null;
  status_at: Date | null;
}

/**
 * Applies provider status events to the recipients they concern, in the order received, in
 * one transaction. Events for message ids we have not recorded yet (the provider can post
 * `sent` before its HTTP answer reached the worker) wait in whatsapp_pending_statuses; the
 * worker applies them when it records the id, and this function checks once more after
 * parking them — so whichever side commits last applies them (see docs/BROADCASTS.md).
 *
 * The lookup is by message id: provider ids are globally unique and the webhook names no
 * business; every write then carries the row's own business_id. A message id we do not know
 * yet whose event carries our callback data (the worker died between the provider's answer and
 * recording it) is adopted by the recipient the data names, when that row (same business, same
 * broadcast, checked on the row itself) has no message id and an outcome we do not know: still
 * `sending`, or failed `unknown_outcome` (adoptByCallback). Its status then moves as usual.
 */
export async function applyStatusUpdates(pool: pg.Pool, updates: readonly StatusUpdate[]): Promise<{ applied: number; parked: number }> {
  if (updates.length === 0) return { applied: 0, parked: 0 };
  const { applied, parked, adopted } = await withTx(pool, async (tx) => {
    const refs = updates.flatMap((u) => (u.recipient ? [u.recipient] : []));
    const locked = await lockRecipients(tx, updates.map((u) => u.messageId), refs);
    const found = new Map(locked.flatMap((r) => (r.message_id === null ? [] : [[r.message_id, r] as const])));
    const adopted = await adoptByCallback(tx, locked, found, updates);
    const unmatched = updates.filter((u) => !found.has(u.messageId));
    if (unmatched.length > 0) {
      await tx.query(
        `INSERT INTO whatsapp_pending_statuses (message_id, status, occurred_at, error_code)
         SELECT * FROM unnest($1::text[], $2::text[], $3::timestamptz[], $4::int[])`,
        [unmatched.map((u) => u.messageId), unmatched.map((u) => u.status), unmatched.map((u) => u.at), unmatched.map((u) => u.errorCode)],
      );
    }
    return { applied: await applyInOrder(tx, found, updates), parked: unmatched.map((u) => u.messageId), adopted };
  });
  // Events of an adopted message parked by an earlier delivery (one that lacked the callback data).
  if (adopted.length > 0) await applyPendingStatuses(pool, adopted);
  if (parked.length > 0) {
    const { rows } = await pool.query<{ message_id: string }>(
      `SELECT message_id FROM whatsapp_recipients WHERE message_id = ANY($1::text[])`,
      [parked],
    );
    if (rows.length > 0) await applyPendingStatuses(pool, rows.map((r) => r.message_id));
  }
  return { applied, parked: parked.length };
}

/** Applies (and removes) parked events of these message ids. Idempotent. */
export async function applyPendingStatuses(pool: pg.Pool, messageIds: readonly string[]): Promise<number> {
  if (messageIds.length === 0) return 0;
  return withTx(pool, async (tx) => {
    const { rows } = await tx.query<{ message_id: string; status: StatusUpdate['status']; occurred_at: Date; error_code: number | null }>(
      `DELETE FROM whatsapp_pending_statuses WHERE message_id = ANY($1::text[]) RETURNING id, message_id, status, occurred_at, error_code`,
      [messageIds],
    );
    if (rows.length === 0) return 0;
    rows.sort((a, b) => a.occurred_at.getTime() - b.occurred_at.getTime());
    const locked = await lockRecipients(tx, rows.map((r) => r.message_id), []);
    const found = new Map(locked.flatMap((r) => (r.message_id === null ? [] : [[r.message_id, r] as const])));
    return applyInOrder(tx, found, rows.map((r) => ({ messageId: r.message_id, status: r.status, at: r.occurred_at, errorCode: r.error_code })));
  });
}

/**
 * Locks the recipients of these message ids and those named by callback data (matched on id,
 * business and broadcast together, so a forged or stale reference to another tenant's row finds
 * nothing). One statement, ORDER BY id: two webhook deliveries lock the same rows in one order.
 */
async function lockRecipients(tx: Queryable, messageIds: readonly string[], refs: readonly RecipientRef[]): Promise<LockedRecipient[]> {
  // Two index lookups (message id, primary key), then one lock statement by primary key.
  const { rows: ids } = await tx.query<{ id: number }>(
    `SELECT id FROM whatsapp_recipients WHERE message_id = ANY($1::text[])
     UNION
     SELECT r.id FROM unnest($2::bigint[], $3::bigint[], $4::bigint[]) AS v(id, business_id, broadcast_id)
       JOIN whatsapp_recipients r ON r.id = v.id AND r.business_id = v.business_id AND r.broadcast_id = v.broadcast_id`,
    [[...new Set(messageIds)], refs.map((r) => r.recipientId), refs.map((r) => r.businessId), refs.map((r) => r.broadcastId)],
  );
  if (ids.length === 0) return [];
  // A row that got its message id in between is caught by the re-check after parking.
  const { rows } = await tx.query<LockedRecipient>(
    `SELECT id, business_id, broadcast_id, message_id, status, reason, status_at FROM whatsapp_recipients
      WHERE id = ANY($1::bigint[]) ORDER BY id FOR UPDATE`,
    [ids.map((r) => r.id)],
  );
  return rows;
}

/**
 * Gives a recipient named by callback data the message id of the event, when the id is not
 * known yet and the row's outcome is not either (`sending`, or failed `unknown_outcome`): the
 * provider accepted that message for that recipient. A row with a message id keeps it (a
 * recipient has at most one accepted message; a second id stays parked). Adds the rows to
 * `found`; returns the adopted message ids.
 */
async function adoptByCallback(
  tx: Queryable,
  locked: readonly LockedRecipient[],
  found: Map<string, LockedRecipient>,
  updates: readonly StatusUpdate[],
): Promise<string[]> {
  const byId = new Map(locked.map((r) => [r.id, r]));
  const adopted: LockedRecipient[] = [];
  for (const u of updates) {
    const ref = u.recipient;
    if (!ref || found.has(u.messageId)) continue;
    const row = byId.get(ref.recipientId);
    if (!row || row.business_id !== ref.businessId || row.broadcast_id !== ref.broadcastId) continue;
    if (row.message_id !== null || !adoptable(row)) continue;
    row.message_id = u.messageId;
    found.set(u.messageId, row);
    adopted.push(row);
  }
  if (adopted.length === 0) return [];
  const byBusiness = new Map<number, LockedRecipient[]>();
  for (const r of adopted) byBusiness.set(r.business_id, [...(byBusiness.get(r.business_id) ?? []), r]);
  for (const [businessId, list] of byBusiness) {
    // sent_at: when the provider says it was sent (the worker that would have written it is gone).
    await tx.query(
      `UPDATE whatsapp_recipients r
          SET message_id = v.message_id, sent_at = coalesce(r.sent_at, v.sent_at), updated_at = now()
         FROM unnest($2::bigint[], $3::text[], $4::timestamptz[]) AS v(id, message_id, sent_at)
        WHERE r.business_id = $1 AND r.id = v.id AND r.message_id IS NULL`,
      [businessId, list.map((r) => r.id), list.map((r) => r.message_id), list.map((r) => firstEventAt(updates, r.message_id))],
    );
  }
  return adopted.flatMap((r) => (r.message_id === null ? [] : [r.message_id]));
}

function adoptable(row: LockedRecipient): boolean {
  return row.status === 'sending' || (row.status === 'failed' && row.reason === UNKNOWN_OUTCOME);
}

function firstEventAt(updates: readonly StatusUpdate[], messageId: string | null): Date | null {
  let at: Date | null = null;
  for (const u of updates) if (u.messageId === messageId && (at === null || u.at < at)) at = u.at;
  return at;
}

async function applyInOrder(tx: Queryable, found: Map<string, LockedRecipient>, updates: readonly StatusUpdate[]): Promise<number> {
  const changed = new Map<number, LockedRecipient & { delivered_at?: Date; read_at?: Date }>();
  for (const u of updates) {
    const row = found.get(u.messageId);
    if (!row) continue;
    const next = applyDeliveryEvent({ status: row.status, reason: row.reason, statusAt: row.status_at }, u);
    if (!next) continue;
    const merged = { ...(changed.get(row.id) ?? row), status: next.status, reason: next.reason, status_at: next.statusAt };
    found.set(u.messageId, merged);
    changed.set(row.id, merged);
  }
  if (changed.size === 0) return 0;
  const rows = [...changed.values()];
  // One statement per business keeps `business_id = $1` on every write of tenant data.
  const byBusiness = new Map<number, typeof rows>();
  for (const r of rows) byBusiness.set(r.business_id, [...(byBusiness.get(r.business_id) ?? []), r]);
  for (const [businessId, list] of byBusiness) {
    await tx.query(
      `UPDATE whatsapp_recipients r
          SET status = v.status, reason = v.reason, status_at = v.status_at,
              error_code = CASE WHEN v.status = 'failed' THEN coalesce(v.error_code, r.error_code) ELSE r.error_code END,
              delivered_at = CASE WHEN v.status IN ('delivered', 'read') THEN coalesce(r.delivered_at, v.status_at) ELSE r.delivered_at END,
              read_at = CASE WHEN v.status = 'read' THEN coalesce(r.read_at, v.status_at) ELSE r.read_at END,
              updated_at = now()
         FROM unnest($2::bigint[], $3::text[], $4::text[], $5::timestamptz[], $6::int[]) AS v(id, status, reason, status_at, error_code)
        WHERE r.business_id = $1 AND r.id = v.id`,
      [
        businessId,
        list.map((r) => r.id),
        list.map((r) => r.status),
        list.map((r) => r.reason),
        list.map((r) => r.status_at),
        list.map((r) => errorCodeFor(updates, r.message_id)),
      ],
    );
  }
  return rows.length;
}

function errorCodeFor(updates: readonly StatusUpdate[], messageId: string | null): number | null {
  for (let i = updates.length - 1; i >= 0; i -= 1) {
    const u = updates[i];
    if (u && u.messageId === messageId && u.status === 'failed') return u.errorCode;
  }
  return null;
}

/**
 * Parked events whose message id is known by now. The worker applies them right after recording
 * the id, but a worker killed between those two steps would leave them parked for ever; this
 * sweep (each broadcast batch, and a timer in worker processes) picks them up.
 */
export async function applyMatchedPendingStatuses(pool: pg.Pool, limit = 1_000): Promise<number> {
  const { rows } = await pool.query<{ message_id: string }>(
    `SELECT DISTINCT p.message_id FROM whatsapp_pending_statuses p
       JOIN whatsapp_recipients r ON r.message_id = p.message_id
      LIMIT $1`,
    [limit],
  );
  return rows.length === 0 ? 0 : applyPendingStatuses(pool, rows.map((r) => r.message_id));
}

/** Parked events older than this never found their message (sent by another system, or lost). */
export async function prunePendingStatuses(db: Queryable, olderThanDays = 7): Promise<number> {
  const { rowCount } = await db.query(
    `DELETE FROM whatsapp_pending_statuses WHERE received_at < now() - make_interval(days => $1)`,
    [olderThanDays],
  );
  return rowCount ?? 0;
}
