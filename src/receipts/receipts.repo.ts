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
}

const COLUMNS = 'id, vendor, amount, currency, issued_at, created_at';

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

/**
 * Deletes the business's next `limit` receipts after `afterId` in one statement (keyset on id).
 * `picked` below the limit means nothing is left after them.
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
       DELETE FROM receipts r USING picked p WHERE r.business_id = $1 AND r.id = p.id RETURNING r.id)
     SELECT (SELECT count(*)::int FROM picked) AS picked,
            (SELECT count(*)::int FROM gone) AS deleted,
            (SELECT max(id) FROM picked) AS last_id`,
    [businessId, afterId, limit],
  );
  const r = rows[0];
  return { picked: r?.picked ?? 0, changed: r?.deleted ?? 0, lastId: r?.last_id ?? null };
}
