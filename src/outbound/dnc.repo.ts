import type { Queryable } from '../db/pool.js';

export interface DncRow {
  phone: string;
  reason: string | null;
  created_at: Date;
}

export async function addDnc(db: Queryable, businessId: number, phone: string, reason: string | null, userId: number): Promise<DncRow> {
  const { rows } = await db.query<DncRow>(
    `INSERT INTO dnc_numbers (business_id, phone, reason, created_by) VALUES ($1, $2, $3, $4)
     ON CONFLICT (business_id, phone) DO UPDATE SET reason = coalesce(EXCLUDED.reason, dnc_numbers.reason)
     RETURNING phone, reason, created_at`,
    [businessId, phone, reason, userId],
  );
  const row = rows[0];
  if (!row) throw new Error('INSERT … RETURNING gave no row');
  return row;
}

export async function removeDnc(db: Queryable, businessId: number, phone: string): Promise<boolean> {
  const { rowCount } = await db.query(`DELETE FROM dnc_numbers WHERE business_id = $1 AND phone = $2`, [businessId, phone]);
  return (rowCount ?? 0) > 0;
}

/** Keyset by phone (the list's natural order); `after` is the last phone of the previous page. */
export async function listDnc(db: Queryable, businessId: number, after: string | null, limit: number): Promise<DncRow[]> {
  const { rows } = await db.query<DncRow>(
    `SELECT phone, reason, created_at FROM dnc_numbers
      WHERE business_id = $1 AND ($2::text IS NULL OR phone > $2)
      ORDER BY phone LIMIT $3`,
    [businessId, after, limit],
  );
  return rows;
}

export async function dncPhones(db: Queryable, businessId: number, phones: string[]): Promise<Set<string>> {
  const { rows } = await db.query<{ phone: string }>(
    `SELECT phone FROM dnc_numbers WHERE business_id = $1 AND phone = ANY($2::text[])`,
    [businessId, phones],
  );
  return new Set(rows.map((r) => r.phone));
}
