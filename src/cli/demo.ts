import { randomBytes } from 'node:crypto';
import type pg from 'pg';
import { withTx } from '../db/pool.js';
import { hashPassword } from '../people/passwords.js';
import type { Role } from '../people/roles.js';
import { insertBusiness, insertUserWithToken } from '../tenancy/tenancy.repo.js';
import { hashToken, newToken } from '../tenancy/tokens.js';

/** The demo is what Bulkhead is built for: an Israeli business, in Hebrew. */
const DEMO_BUSINESS_NAME = 'שחר נכסים (הדגמה)';
const DEMO_BUSINESS = { country: 'IL', timezone: 'Asia/Jerusalem', locale: 'he' as const };
const DEMO_PEOPLE: ReadonlyArray<{ email: string; role: Role }> = [
  { email: 'owner@demo.local', role: 'owner' },
  { email: 'agent@demo.local', role: 'agent' },
];
const DEMO_LEADS = 3_000;

const FIRST = ['דנה', 'נועה', 'אבי', 'מאיה', 'ליאור', 'שמואל', 'אלון', 'רות', 'עומר', 'טל', 'יעל', 'בני', 'מוחמד', 'סאמר', 'אולגה'];
const LAST = ['כהן', 'לוי', 'מזרחי', 'פרץ', 'ביטון', 'פרידמן', 'שפירא', 'כץ', 'אדלר', 'אבו-ראס', 'חדאד', 'גולן'];
const STATUSES = ['new', 'contacted', 'qualified', 'lost'];
const TAGS = ['vip', 'קונה', 'מוכר', 'שוכר', 'חם', 'קר'];
const NOTES = ['התקשרתי לגבי הדירה ברחוב הרצל', 'מבקש לחזור אליו אחרי החגים', 'מעוניין בדירת 4 חדרים', 'שלחתי הצעת מחיר'];

export interface Demo {
  businessId: number;
  /** The owner's bearer token (new on every start). */
  token: string;
  /** Each demo person's email and a fresh password (new on every start). */
  people: Array<{ email: string; role: Role; password: string }>;
  seeded: boolean;
}

/**
 * Seeds the demo business on an empty database, and on every start issues a fresh token for its
 * owner and fresh passwords for its owner and agent (all stored hashed, so old ones cannot be
 * shown again).
 */
export async function ensureDemo(pool: pg.Pool): Promise<Demo | null> {
  // Hashed before the transaction: ~60 ms of argon2id each need not hold the seed lock.
  const people = await Promise.all(DEMO_PEOPLE.map(async (p) => {
    const password = randomBytes(9).toString('base64url');
    return { ...p, password, hash: await hashPassword(password) };
  }));
  return withTx(pool, async (tx) => {
    await tx.query(`SELECT pg_advisory_xact_lock(hashtextextended('demo-seed', 0))`);
    const existing = await tx.query<{ id: number }>(`SELECT id FROM businesses WHERE name = $1 ORDER BY id LIMIT 1`, [DEMO_BUSINESS_NAME]);
    let businessId = existing.rows[0]?.id;
    const seeded = businessId === undefined;
    if (businessId === undefined) {
      const { rows } = await tx.query<{ n: number }>(`SELECT count(*)::int AS n FROM businesses`);
      // A database with real tenants gets no demo data.
      if ((rows[0]?.n ?? 0) > 0) return null;
      businessId = (await insertBusiness(tx, { name: DEMO_BUSINESS_NAME }, DEMO_BUSINESS)).id;
      for (const p of DEMO_PEOPLE) await insertUserWithToken(tx, businessId, p.email, p.role);
    }
    const users = new Map<string, number>();
    for (const p of people) {
      const { rows } = await tx.query<{ id: number }>(
        `UPDATE users SET password_hash = $3, invite_hash = NULL, invite_expires_at = NULL, disabled = false, role = $4
          WHERE business_id = $1 AND email = $2 RETURNING id`,
        [businessId, p.email, p.hash, p.role],
      );
      const id = rows[0]?.id ?? (await insertUserWithToken(tx, businessId, p.email, p.role)).user.id;
      if (!rows[0]) await tx.query(`UPDATE users SET password_hash = $2, invite_hash = NULL, invite_expires_at = NULL WHERE id = $1`, [id, p.hash]);
      users.set(p.email, id);
    }
    const ownerId = users.get('owner@demo.local');
    if (ownerId === undefined) throw new Error('demo owner missing');
    const token = newToken();
    await tx.query(`INSERT INTO api_tokens (token_hash, user_id, business_id, name, role) VALUES ($1, $2, $3, 'demo', 'owner')`, [hashToken(token), ownerId, businessId]);
    if (seeded) await seedData(tx, businessId, ownerId, users.get('agent@demo.local') ?? ownerId);
    return { businessId, token, people: people.map(({ email, role, password }) => ({ email, role, password })), seeded };
  });
}

/**
 * Leads with Hebrew (and Arabic and Russian-Israeli) names and Israeli numbers: four in five
 * mobiles (050, 052, 053, 054, 058), the rest Tel Aviv (03) and Jerusalem (02) landlines, all
 * valid for libphonenumber; a third with notes, half owned by the agent; receipts in shekels.
 */
async function seedData(tx: pg.PoolClient, businessId: number, ownerId: number, agentId: number): Promise<void> {
  await tx.query(
    `INSERT INTO leads (business_id, name, phone, email, status, tags, owner_user_id)
     SELECT $1,
            ($3::text[])[1 + i % array_length($3::text[], 1)] || ' ' || ($4::text[])[1 + (i / 7) % array_length($4::text[], 1)],
            CASE WHEN i % 5 = 0 THEN CASE WHEN i % 10 = 0 THEN '+9723' ELSE '+9722' END || (6000000 + i)::text
                 ELSE '+972' || (ARRAY['50', '52', '53', '54', '58'])[1 + i % 5] || lpad((1000000 + i * 37)::text, 7, '0') END,
            'lead' || i || '@example.co.il',
            ($5::text[])[1 + i % array_length($5::text[], 1)],
            ARRAY[($6::text[])[1 + i % array_length($6::text[], 1)]],
            CASE WHEN i % 2 = 0 THEN $2::bigint ELSE $8::bigint END
       FROM generate_series(1, $7::int) AS i`,
    [businessId, ownerId, FIRST, LAST, STATUSES, TAGS, DEMO_LEADS, agentId],
  );
  await tx.query(
    `INSERT INTO lead_notes (business_id, lead_id, text, created_by)
     SELECT business_id, id, ($3::text[])[1 + id % array_length($3::text[], 1)] || ' (' || to_char(created_at, 'DD/MM/YYYY') || ')', $2
       FROM leads WHERE business_id = $1 AND id % 3 = 0`,
    [businessId, ownerId, NOTES],
  );
  await tx.query(
    `INSERT INTO receipts (business_id, vendor, amount, currency, issued_at)
     SELECT $1, (ARRAY['בזק', 'חברת החשמל', 'פז', 'Google Ireland', 'משרד עו"ד לוי'])[1 + i % 5], (i * 13.37)::numeric(14,2), 'ILS', now() - make_interval(days => i)
       FROM generate_series(1, 25) AS i`,
    [businessId],
  );
}
