import type pg from 'pg';
import { withTx, type Queryable } from '../db/pool.js';
import type { RecipientRef } from './callback-data.js';
import { UNKNOWN_OUTCOME, type RecipientStatus } from './recipient-status.js';
import { applyDeliveryEvent, type DeliveryEvent } from './status-order.js';

export interface StatusUpdate extends DeliveryEvent {
  /** The sender that reported it (the envelope's `metadata.phone_number_id`). */
  phoneNumberId: string;
  messageId: string;
  /** The recipient named by the message's callback data (callback-data.ts), when it has one. */
  recipient?: RecipientRef | null;
}

/**
 * At most this many parked statuses per sender number. Legitimately a status waits here only for
 * the moment between the provider's answer and our writing the message id down (our sends carry
 * callback data, so most such statuses are adopted at once instead), or until the message is
 * adopted after a crash: tens of rows. Without a cap one signed request parked 5,000 unknown
 * statuses for 7 days, and a replayed one 5,000 more each time. Beyond the cap a sender's unknown
 * statuses are dropped (logged); the recipients they might have concerned keep their last known
 * state, as they would had the webhook never come. README "Webhook security".
 */
export const PENDING_STATUSES_PER_SENDER = 1_000;

interface LockedRecipient {
  id: number;
  business_id: number;
  broadcast_id: number;
  /** The broadcast's sender: a status settles a message only when this number reported it. */
  phone_number_id: string;
  message_id: string | null;
  status: RecipientStatus;
  reason: string | null;
  status_at: Date | null;
}

/** A message is named by its sender and its id: Meta's ids are unique, but only the sender that sent it may report on it. */
function messageKey(phoneNumberId: string, messageId: string): string {
  return `${phoneNumberId}\u0000${messageId}`;
}

function keyOf(row: LockedRecipient): string | null {
  return row.message_id === null ? null : messageKey(row.phone_number_id, row.message_id);
}

export interface ApplyResult {
  applied: number;
  parked: number;
  /** Unknown statuses not parked: already parked, the sender's cap reached, or a number that never sent a broadcast. */
  notParked: number;
}

/**
 * Applies provider status events to the recipients they concern, in the order received, in
 * one transaction. Events for message ids we have not recorded yet (the provider can post
 * `sent` before its HTTP answer reached the worker) wait in whatsapp_pending_statuses; the
 * worker applies them when it records the id, and this function checks once more after
 * parking them — so whichever side commits last applies them (see docs/BROADCASTS.md).
 *
 * The lookup is by (sender, message id): the webhook names no business, only the sender number
 * that reported the status (`metadata.phone_number_id`), and a status settles a message only when
 * that number is the sender of the message's broadcast; every write then carries the row's own
 * business_id. A message id we do not know yet whose event carries our callback data (the worker
 * died between the provider's answer and recording it) is adopted by the recipient the data
 * names, when that row (same business, same broadcast, same sender, checked on the row itself)
 * has no message id and an outcome we do not know: still `sending`, or failed `unknown_outcome`
 * (adoptByCallback). Its status then moves as usual.
 */
export async function applyStatusUpdates(
  pool: pg.Pool,
  updates: readonly StatusUpdate[],
  opts: { pendingCap?: number } = {},
): Promise<ApplyResult> {
  if (updates.length === 0) return { applied: 0, parked: 0, notParked: 0 };
  const cap = opts.pendingCap ?? PENDING_STATUSES_PER_SENDER;
  const { applied, parked, notParked, adopted } = await withTx(pool, async (tx) => {
    const locked = await lockRecipients(tx, updates, updates.flatMap((u) => (u.recipient ? [{ ...u.recipient, phoneNumberId: u.phoneNumberId }] : [])));
    const found = new Map(locked.flatMap((r) => { const k = keyOf(r); return k === null ? [] : [[k, r] as const]; }));
    const adopted = await adoptByCallback(tx, locked, found, updates);
    const unmatched = updates.filter((u) => !found.has(messageKey(u.phoneNumberId, u.messageId)));
    const { parked, notParked } = await park(tx, unmatched, cap);
    return { applied: await applyInOrder(tx, found, updates), parked, notParked, adopted };
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
  return { applied, parked: parked.length, notParked };
}

/**
 * Parks unknown statuses, per sender: only for a number that has sent a broadcast (no other
 * number's status can ever match one of our messages), once per (sender, message, status) — a
 * replayed delivery parks nothing new — and at most `cap` rows per sender in all. The advisory
 * lock serializes parking per sender so two concurrent deliveries cannot both fill the last
 * places; it is the transaction's last lock (after the recipients' row locks), senders in sorted
 * order, so it cannot close a cycle with them.
 */
async function park(tx: Queryable, unmatched: readonly StatusUpdate[], cap: number): Promise<{ parked: string[]; notParked: number }> {
  const bySender = new Map<string, StatusUpdate[]>();
  for (const u of unmatched) bySender.set(u.phoneNumberId, [...(bySender.get(u.phoneNumberId) ?? []), u]);
  const parked: string[] = [];
  let notParked = 0;
  for (const sender of [...bySender.keys()].sort()) {
    const list = bySender.get(sender) ?? [];
    await tx.query(`SELECT pg_advisory_xact_lock(hashtextextended('whatsapp:pending:' || $1, 0))`, [sender]);
    const { rows } = await tx.query<{ message_id: string }>(
      `WITH v AS (
         SELECT DISTINCT ON (message_id, status) message_id, status, occurred_at, error_code, ord
           FROM unnest($2::text[], $3::text[], $4::timestamptz[], $5::int[]) WITH ORDINALITY AS v(message_id, status, occurred_at, error_code, ord)
          ORDER BY message_id, status, ord),
       fresh AS (
         SELECT v.*, row_number() OVER (ORDER BY v.ord) AS n FROM v
          WHERE NOT EXISTS (SELECT 1 FROM whatsapp_pending_statuses p WHERE p.phone_number_id = $1 AND p.message_id = v.message_id AND p.status = v.status)),
       room AS (
         SELECT CASE WHEN EXISTS (SELECT 1 FROM whatsapp_broadcasts WHERE phone_number_id = $1)
                     THEN $6::int - (SELECT count(*) FROM whatsapp_pending_statuses WHERE phone_number_id = $1)
                     ELSE 0 END AS places)
       INSERT INTO whatsapp_pending_statuses (phone_number_id, message_id, status, occurred_at, error_code)
       SELECT $1, message_id, status, occurred_at, error_code FROM fresh WHERE n <= (SELECT places FROM room)
       ON CONFLICT DO NOTHING
       RETURNING message_id`,
      [sender, list.map((u) => u.messageId), list.map((u) => u.status), list.map((u) => u.at), list.map((u) => u.errorCode), cap],
    );
    parked.push(...rows.map((r) => r.message_id));
    notParked += list.length - rows.length;
  }
  return { parked, notParked };
}

/** Applies (and removes) parked events of these message ids, each only to a message its own sender sent. Idempotent. */
export async function applyPendingStatuses(pool: pg.Pool, messageIds: readonly string[]): Promise<number> {
  if (messageIds.length === 0) return 0;
  return withTx(pool, async (tx) => {
    const { rows } = await tx.query<{ phone_number_id: string; message_id: string; status: StatusUpdate['status']; occurred_at: Date; error_code: number | null }>(
      `DELETE FROM whatsapp_pending_statuses p
        USING whatsapp_recipients r JOIN whatsapp_broadcasts b ON b.id = r.broadcast_id AND b.business_id = r.business_id
        WHERE p.message_id = ANY($1::text[]) AND r.message_id = p.message_id AND b.phone_number_id = p.phone_number_id
       RETURNING p.id, p.phone_number_id, p.message_id, p.status, p.occurred_at, p.error_code`,
      [messageIds],
    );
    if (rows.length === 0) return 0;
    rows.sort((a, b) => a.occurred_at.getTime() - b.occurred_at.getTime());
    const updates: StatusUpdate[] = rows.map((r) => ({ phoneNumberId: r.phone_number_id, messageId: r.message_id, status: r.status, at: r.occurred_at, errorCode: r.error_code }));
    const locked = await lockRecipients(tx, updates, []);
    const found = new Map(locked.flatMap((r) => { const k = keyOf(r); return k === null ? [] : [[k, r] as const]; }));
    return applyInOrder(tx, found, updates);
  });
}

/**
 * Locks the recipients of these (sender, message id) pairs and those named by callback data
 * (matched on id, business, broadcast and the broadcast's sender together, so a forged or stale
 * reference to another tenant's row, or one reported by another number, finds nothing). One
 * statement, ORDER BY id: two webhook deliveries lock the same rows in one order.
 */
async function lockRecipients(
  tx: Queryable,
  messages: ReadonlyArray<{ phoneNumberId: string; messageId: string }>,
  refs: ReadonlyArray<RecipientRef & { phoneNumberId: string }>,
): Promise<LockedRecipient[]> {
  const pairs = [...new Map(messages.map((m) => [messageKey(m.phoneNumberId, m.messageId), m])).values()];
  // Index lookups (message id, primary key), each checked against its broadcast's sender, then
  // one lock statement by primary key.
  const { rows: ids } = await tx.query<{ id: number }>(
    `SELECT r.id FROM unnest($1::text[], $2::text[]) AS m(phone_number_id, message_id)
       JOIN whatsapp_recipients r ON r.message_id = m.message_id
       JOIN whatsapp_broadcasts b ON b.id = r.broadcast_id AND b.business_id = r.business_id AND b.phone_number_id = m.phone_number_id
     UNION
     SELECT r.id FROM unnest($3::bigint[], $4::bigint[], $5::bigint[], $6::text[]) AS v(id, business_id, broadcast_id, phone_number_id)
       JOIN whatsapp_recipients r ON r.id = v.id AND r.business_id = v.business_id AND r.broadcast_id = v.broadcast_id
       JOIN whatsapp_broadcasts b ON b.id = r.broadcast_id AND b.business_id = r.business_id AND b.phone_number_id = v.phone_number_id`,
    [
      pairs.map((m) => m.phoneNumberId),
      pairs.map((m) => m.messageId),
      refs.map((r) => r.recipientId),
      refs.map((r) => r.businessId),
      refs.map((r) => r.broadcastId),
      refs.map((r) => r.phoneNumberId),
    ],
  );
  if (ids.length === 0) return [];
  // A row that got its message id in between is caught by the re-check after parking.
  const { rows } = await tx.query<LockedRecipient>(
    `SELECT r.id, r.business_id, r.broadcast_id, b.phone_number_id, r.message_id, r.status, r.reason, r.status_at
       FROM whatsapp_recipients r JOIN whatsapp_broadcasts b ON b.id = r.broadcast_id AND b.business_id = r.business_id
      WHERE r.id = ANY($1::bigint[]) ORDER BY r.id FOR UPDATE OF r`,
    [ids.map((r) => r.id)],
  );
  return rows;
}

/**
 * Gives a recipient named by callback data the message id of the event, when the id is not
 * known yet and the row's outcome is not either (`sending`, or failed `unknown_outcome`), and the
 * event's sender is the broadcast's: the provider accepted that message for that recipient. A row
 * with a message id keeps it (a recipient has at most one accepted message; a second id stays
 * parked). Adds the rows to `found`; returns the adopted message ids.
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
    const key = messageKey(u.phoneNumberId, u.messageId);
    if (!ref || found.has(key)) continue;
    const row = byId.get(ref.recipientId);
    if (!row || row.business_id !== ref.businessId || row.broadcast_id !== ref.broadcastId || row.phone_number_id !== u.phoneNumberId) continue;
    if (row.message_id !== null || !adoptable(row)) continue;
    row.message_id = u.messageId;
    found.set(key, row);
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
      [businessId, list.map((r) => r.id), list.map((r) => r.message_id), list.map((r) => firstEventAt(updates, r))],
    );
  }
  return adopted.flatMap((r) => (r.message_id === null ? [] : [r.message_id]));
}

function adoptable(row: LockedRecipient): boolean {
  return row.status === 'sending' || (row.status === 'failed' && row.reason === UNKNOWN_OUTCOME);
}

function concerns(u: StatusUpdate, row: LockedRecipient): boolean {
  return u.messageId === row.message_id && u.phoneNumberId === row.phone_number_id;
}

function firstEventAt(updates: readonly StatusUpdate[], row: LockedRecipient): Date | null {
  let at: Date | null = null;
  for (const u of updates) if (concerns(u, row) && (at === null || u.at < at)) at = u.at;
  return at;
}

async function applyInOrder(tx: Queryable, found: Map<string, LockedRecipient>, updates: readonly StatusUpdate[]): Promise<number> {
  const changed = new Map<number, LockedRecipient & { delivered_at?: Date; read_at?: Date }>();
  for (const u of updates) {
    const key = messageKey(u.phoneNumberId, u.messageId);
    const row = found.get(key);
    if (!row) continue;
    const next = applyDeliveryEvent({ status: row.status, reason: row.reason, statusAt: row.status_at }, u);
    if (!next) continue;
    const merged = { ...(changed.get(row.id) ?? row), status: next.status, reason: next.reason, status_at: next.statusAt };
    found.set(key, merged);
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
        list.map((r) => errorCodeFor(updates, r)),
      ],
    );
  }
  return rows.length;
}

function errorCodeFor(updates: readonly StatusUpdate[], row: LockedRecipient): number | null {
  for (let i = updates.length - 1; i >= 0; i -= 1) {
    const u = updates[i];
    if (u && concerns(u, row) && u.status === 'failed') return u.errorCode;
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
       JOIN whatsapp_broadcasts b ON b.id = r.broadcast_id AND b.business_id = r.business_id AND b.phone_number_id = p.phone_number_id
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
