import type pg from 'pg';
import { withTx, type Queryable } from '../db/pool.js';
import type { RecipientStatus } from './recipient-status.js';
import { applyDeliveryEvent, type DeliveryEvent } from './status-order.js';

export interface StatusUpdate extends DeliveryEvent {
  messageId: string;
}

interface LockedRecipient {
  id: number;
  business_id: number;
  message_id: string;
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
 * The lookup is by message id alone: provider ids are globally unique and the webhook names
 * no business; every write then carries the row's own business_id.
 */
export async function applyStatusUpdates(pool: pg.Pool, updates: readonly StatusUpdate[]): Promise<{ applied: number; parked: number }> {
  if (updates.length === 0) return { applied: 0, parked: 0 };
  const { applied, parked } = await withTx(pool, async (tx) => {
    const found = await lockRecipients(tx, updates.map((u) => u.messageId));
    const unmatched = updates.filter((u) => !found.has(u.messageId));
    if (unmatched.length > 0) {
      await tx.query(
        `INSERT INTO whatsapp_pending_statuses (message_id, status, occurred_at, error_code)
         SELECT * FROM unnest($1::text[], $2::text[], $3::timestamptz[], $4::int[])`,
        [unmatched.map((u) => u.messageId), unmatched.map((u) => u.status), unmatched.map((u) => u.at), unmatched.map((u) => u.errorCode)],
      );
    }
    return { applied: await applyInOrder(tx, found, updates), parked: unmatched.map((u) => u.messageId) };
  });
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
    const found = await lockRecipients(tx, rows.map((r) => r.message_id));
    return applyInOrder(tx, found, rows.map((r) => ({ messageId: r.message_id, status: r.status, at: r.occurred_at, errorCode: r.error_code })));
  });
}

async function lockRecipients(tx: Queryable, messageIds: readonly string[]): Promise<Map<string, LockedRecipient>> {
  // ORDER BY id: two webhook deliveries touching the same recipients lock them in one order.
  const { rows } = await tx.query<LockedRecipient>(
    `SELECT id, business_id, message_id, status, reason, status_at FROM whatsapp_recipients
      WHERE message_id = ANY($1::text[]) ORDER BY id FOR UPDATE`,
    [[...new Set(messageIds)]],
  );
  return new Map(rows.map((r) => [r.message_id, r]));
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

function errorCodeFor(updates: readonly StatusUpdate[], messageId: string): number | null {
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
