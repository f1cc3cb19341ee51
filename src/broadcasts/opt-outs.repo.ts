import type { Queryable } from '../db/pool.js';

export interface OptOutRow {
  id: number;
  phone: string;
  source: 'api' | 'inbound_stop';
  created_at: Date;
}

/** Idempotent: the existing row when the number is already opted out. */
export async function addOptOut(db: Queryable, businessId: number, phone: string, source: OptOutRow['source']): Promise<OptOutRow> {
  const { rows } = await db.query<OptOutRow>(
    `WITH ins AS (
       INSERT INTO whatsapp_opt_outs (business_id, phone, source) VALUES ($1, $2, $3)
       ON CONFLICT (business_id, phone) DO NOTHING
       RETURNING id, phone, source, created_at)
     SELECT * FROM ins
     UNION ALL
     SELECT id, phone, source, created_at FROM whatsapp_opt_outs WHERE business_id = $1 AND phone = $2
     LIMIT 1`,
    [businessId, phone, source],
  );
  const row = rows[0];
  if (!row) throw new Error('opt-out neither inserted nor found');
  return row;
}

export async function listOptOuts(db: Queryable, businessId: number, f: { afterId?: number | undefined; limit: number }): Promise<OptOutRow[]> {
  const { rows } = await db.query<OptOutRow>(
    `SELECT id, phone, source, created_at FROM whatsapp_opt_outs
      WHERE business_id = $1 AND ($2::bigint IS NULL OR id > $2) ORDER BY id LIMIT $3`,
    [businessId, f.afterId ?? null, f.limit],
  );
  return rows;
}

/**
 * The businesses that messaged `phone` from this sender number: where an inbound STOP belongs.
 * The one statement without `business_id = $1`: the inbound message names no business, only the
 * shared sender number, so the lookup is by phone across tenants and its answer is used for
 * nothing but inserting each business's own opt-out.
 */
export async function businessesThatMessaged(db: Queryable, phoneNumberId: string, phone: string): Promise<number[]> {
  const { rows } = await db.query<{ business_id: number }>(
    `SELECT DISTINCT r.business_id
       FROM whatsapp_recipients r JOIN whatsapp_broadcasts b ON b.id = r.broadcast_id AND b.business_id = r.business_id
      WHERE r.phone = $2 AND b.phone_number_id = $1 AND r.attempts > 0`,
    [phoneNumberId, phone],
  );
  return rows.map((r) => r.business_id);
}
