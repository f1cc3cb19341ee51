import type { Queryable } from '../db/pool.js';
import type { KeysetStep } from '../jobs/batches.js';

export interface ReceiptRow {
  id: number;
  vendor: string;
  /** numeric(14,2), parsed to a number by the pool's type parser. */
  amount: number;
  currency: string;
  issued_at: Date;
  created_at: Date;
  source: 'manual' | 'gmail';
  gmail_message_id: string | null;
  subject: string | null;
  sender: string | null;
  has_attachment: boolean;
}

const COLUMNS = 'id, vendor, amount, currency, issued_at, created_at, source, gmail_message_id, subject, sender, has_attachment';

export async function insertReceipt(
  db: Queryable,
  businessId: number,
  r: { vendor: string; amount: number; currency: string; issuedAt: string },
): Promise<ReceiptRow> {
  // The amount travels as a decimal string so PostgreSQL, not float formatting, owns the digits.
  const { rows } = await db.query<ReceiptRow>(
    `INSERT INTO receipts (business_id, vendor, amount, currency, issued_at)
     VALUES ($1, $2, $3::numeric, $4, $5) RETURNING ${COLUMNS}`,
    [businessId, r.vendor, r.amount.toFixed(2), r.currency, r.issuedAt],
  );
  const row = rows[0];
  if (!row) throw new Error('INSERT … RETURNING gave no row');
  return row;
}

export interface GmailReceipt {
  gmailMessageId: string;
  vendor: string;
  /** Decimal text ("1234.50"). */
  amount: string;
  currency: string;
  issuedAt: Date;
  subject: string;
  sender: string;
  attachment: { filename: string; contentType: string; bytes: Buffer } | null;
}

/**
 * One receipt per Gmail message: ON CONFLICT on (business, message id) makes a rerun, a resumed
 * batch or a second sync insert nothing. A message whose receipt "delete all" removed is skipped
 * unless `revive` (an explicit full resync), which also clears its mark. Returns the new id, or
 * null when the message already had a receipt (or was deleted and not revived).
 */
export async function insertGmailReceipt(db: Queryable, businessId: number, r: GmailReceipt, revive: boolean): Promise<number | null> {
  const { rows } = await db.query<{ id: number }>(
    `INSERT INTO receipts (business_id, vendor, amount, currency, issued_at, source, gmail_message_id, subject, sender, has_attachment)
     SELECT $1, $2, $3::numeric, $4, $5, 'gmail', $6, $7, $8, $9
      WHERE $10::boolean OR NOT EXISTS (SELECT 1 FROM gmail_deleted_messages d WHERE d.business_id = $1 AND d.gmail_message_id = $6)
     ON CONFLICT (business_id, gmail_message_id) WHERE gmail_message_id IS NOT NULL DO NOTHING
     RETURNING id`,
    [businessId, r.vendor, r.amount, r.currency, r.issuedAt, r.gmailMessageId, r.subject, r.sender, r.attachment !== null, revive],
  );
  const id = rows[0]?.id ?? null;
  if (id === null) return null;
  if (revive) await db.query(`DELETE FROM gmail_deleted_messages WHERE business_id = $1 AND gmail_message_id = $2`, [businessId, r.gmailMessageId]);
  if (r.attachment) {
    await db.query(
      `INSERT INTO receipt_attachments (receipt_id, business_id, filename, content_type, bytes) VALUES ($1, $2, $3, $4, $5)`,
      [id, businessId, r.attachment.filename, r.attachment.contentType, r.attachment.bytes],
    );
  }
  return id;
}

/**
 * Of these Gmail message ids, the ones the sync need not read again: they have a receipt, or
 * (unless `revive`) "delete all" removed theirs.
 */
export async function knownGmailMessages(db: Queryable, businessId: number, ids: readonly string[], revive: boolean): Promise<Set<string>> {
  if (ids.length === 0) return new Set();
  const { rows } = await db.query<{ id: string }>(
    `SELECT gmail_message_id AS id FROM receipts WHERE business_id = $1 AND gmail_message_id = ANY($2::text[])
     UNION
     SELECT gmail_message_id FROM gmail_deleted_messages WHERE NOT $3::boolean AND business_id = $1 AND gmail_message_id = ANY($2::text[])`,
    [businessId, ids, revive],
  );
  return new Set(rows.map((r) => r.id));
}

export async function listReceipts(db: Queryable, businessId: number, afterId: number | undefined, limit: number): Promise<ReceiptRow[]> {
  const { rows } = await db.query<ReceiptRow>(
    `SELECT ${COLUMNS} FROM receipts WHERE business_id = $1 AND id > $2 ORDER BY id LIMIT $3`,
    [businessId, afterId ?? 0, limit],
  );
  return rows;
}

export async function countReceipts(db: Queryable, businessId: number): Promise<number> {
  const { rows } = await db.query<{ n: number }>(`SELECT count(*)::int AS n FROM receipts WHERE business_id = $1`, [businessId]);
  return rows[0]?.n ?? 0;
}

export async function getAttachment(
  db: Queryable,
  businessId: number,
  receiptId: number,
): Promise<{ filename: string; content_type: string; bytes: Buffer } | null> {
  const { rows } = await db.query<{ filename: string; content_type: string; bytes: Buffer }>(
    `SELECT filename, content_type, bytes FROM receipt_attachments WHERE business_id = $1 AND receipt_id = $2`,
    [businessId, receiptId],
  );
  return rows[0] ?? null;
}

export async function receiptExists(db: Queryable, businessId: number, receiptId: number): Promise<boolean> {
  const { rows } = await db.query(`SELECT 1 FROM receipts WHERE business_id = $1 AND id = $2`, [businessId, receiptId]);
  return rows.length > 0;
}

/**
 * Deletes the business's next `limit` receipts after `afterId` in one statement (keyset on id).
 * `picked` below the limit means nothing is left after them. The Gmail messages of the deleted
 * receipts are marked in the same statement, so the next incremental sync does not bring them back.
 */
export async function deleteReceiptsAfter(
  db: Queryable,
  businessId: number,
  afterId: number,
  limit: number,
): Promise<KeysetStep> {
  const { rows } = await db.query<{ picked: number; deleted: number; last_id: number | null }>(
    `WITH picked AS (
       SELECT id FROM receipts WHERE business_id = $1 AND id > $2 ORDER BY id LIMIT $3),
     gone AS (
       DELETE FROM receipts r USING picked p WHERE r.business_id = $1 AND r.id = p.id RETURNING r.id, r.gmail_message_id),
     marked AS (
       INSERT INTO gmail_deleted_messages (business_id, gmail_message_id)
       SELECT $1, gmail_message_id FROM gone WHERE gmail_message_id IS NOT NULL
       ON CONFLICT DO NOTHING)
     SELECT (SELECT count(*)::int FROM picked) AS picked,
            (SELECT count(*)::int FROM gone) AS deleted,
            (SELECT max(id) FROM picked) AS last_id`,
    [businessId, afterId, limit],
  );
  const r = rows[0];
  return { picked: r?.picked ?? 0, changed: r?.deleted ?? 0, lastId: r?.last_id ?? null };
}
