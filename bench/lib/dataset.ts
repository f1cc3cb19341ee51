/** Tenants and leads generated in bulk on the server (`INSERT … SELECT generate_series`). */
import type pg from 'pg';
import { withTx } from '../../src/db/pool.js';
import type { LeadCaller } from '../../src/leads/leads.service.js';
import { insertBusiness, insertUserWithToken } from '../../src/tenancy/tenancy.repo.js';

/** Bench tenants dial and message US test numbers (+1212555…), read in the US. */
export const BENCH_BUSINESS = { country: 'US', timezone: 'UTC', locale: 'en' as const };

export interface BenchTenant extends LeadCaller {
  token: string;
}

export async function createTenant(pool: pg.Pool, name: string): Promise<BenchTenant> {
  return withTx(pool, async (tx) => {
    const business = await insertBusiness(tx, { name }, BENCH_BUSINESS);
    const { user, token } = await insertUserWithToken(tx, business.id, `owner@${business.id}.bench`);
    return { businessId: business.id, userId: user.id, defaultCountry: business.default_country, token };
  });
}

export interface LeadSet {
  count: number;
  source: 'manual' | 'import';
  /** One note, one activity and one reminder per lead. */
  children: boolean;
}

/** Leads with distinct phones (+1212 and 7 digits), then their children, then VACUUM (ANALYZE). */
export async function insertLeads(pool: pg.Pool, businessId: number, set: LeadSet): Promise<void> {
  await pool.query(
    `INSERT INTO leads (business_id, name, phone, email, source)
     SELECT $1, 'Lead ' || g, '+1212' || lpad(g::text, 7, '0'), 'lead' || g || '@example.com', $3
       FROM generate_series(1, $2) g`,
    [businessId, set.count, set.source],
  );
  if (set.children) {
    await pool.query(
      `INSERT INTO lead_notes (business_id, lead_id, text)
       SELECT business_id, id, 'Called, wants a quote' FROM leads WHERE business_id = $1`,
      [businessId],
    );
    await pool.query(
      `INSERT INTO lead_activities (business_id, lead_id, type, text)
       SELECT business_id, id, 'call', 'Outbound call, 3 min' FROM leads WHERE business_id = $1`,
      [businessId],
    );
    await pool.query(
      `INSERT INTO lead_reminders (business_id, lead_id, due_at, text)
       SELECT business_id, id, now() + interval '2 days', 'Follow up' FROM leads WHERE business_id = $1`,
      [businessId],
    );
  }
  for (const table of ['leads', 'lead_notes', 'lead_activities', 'lead_reminders']) await pool.query(`VACUUM (ANALYZE) ${table}`);
}

export async function leadIds(pool: pg.Pool, businessId: number): Promise<number[]> {
  const { rows } = await pool.query<{ id: number }>(`SELECT id FROM leads WHERE business_id = $1 ORDER BY id`, [businessId]);
  return rows.map((r) => r.id);
}

/** Leads and children left for the business (all four must reach 0). */
export async function remainingRows(pool: pg.Pool, businessId: number): Promise<number> {
  const { rows } = await pool.query<{ n: number }>(
    `SELECT ((SELECT count(*) FROM leads WHERE business_id = $1)
           + (SELECT count(*) FROM lead_notes WHERE business_id = $1)
           + (SELECT count(*) FROM lead_activities WHERE business_id = $1)
           + (SELECT count(*) FROM lead_reminders WHERE business_id = $1))::int AS n`,
    [businessId],
  );
  return rows[0]?.n ?? 0;
}
