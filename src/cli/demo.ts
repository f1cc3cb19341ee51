import type pg from 'pg';
import { randomBytes } from 'node:crypto';
import { withTx } from '../db/pool.js';
import { hashPassword } from '../people/passwords.js';
import { insertBusiness, insertUserWithToken } from '../tenancy/tenancy.repo.js';
import { hashToken, newToken } from '../tenancy/tokens.js';

const DEMO_BUSINESS_NAME = 'Demo Realty';
const DEMO_EMAIL = 'demo@bulkhead.local';
const DEMO_LEADS = 3_000;

const FIRST = ['Dana', 'Noa', 'Avi', 'Maya', 'Lior', 'Sam', 'Alex', 'Ruth', 'Omer', 'Tal', 'Yael', 'Ben'];
const LAST = ['Cohen', 'Levi', 'Mizrahi', 'Peretz', 'Biton', 'Friedman', 'Shapiro', 'Katz', 'Adler', 'Stone'];
const STATUSES = ['new', 'contacted', 'qualified', 'lost'];
const TAGS = ['vip', 'buyer', 'seller', 'renter', 'hot', 'cold'];

/**
 * Seeds the demo business on an empty database, and on every start issues a fresh token and a
 * fresh password for its owner (both are stored hashed, so old ones cannot be shown again).
 */
export async function ensureDemo(pool: pg.Pool): Promise<{ businessId: number; token: string; email: string; password: string; seeded: boolean }> {
  // Hashed before the transaction: ~60 ms of argon2id need not hold the seed lock.
  const password = randomBytes(9).toString('base64url');
  const passwordHash = await hashPassword(password);
  const demo = await withTx(pool, async (tx) => {
    await tx.query(`SELECT pg_advisory_xact_lock(hashtextextended('demo-seed', 0))`);
    const existing = await tx.query<{ id: number; user_id: number }>(
      `SELECT b.id, u.id AS user_id FROM businesses b JOIN users u ON u.business_id = b.id
        WHERE b.name = $1 AND u.email = $2 ORDER BY b.id LIMIT 1`,
      [DEMO_BUSINESS_NAME, DEMO_EMAIL],
    );
    const found = existing.rows[0];
    if (found) {
      const token = newToken();
      await tx.query(`INSERT INTO api_tokens (token_hash, user_id, business_id, name, role) VALUES ($1, $2, $3, 'demo', 'owner')`, [hashToken(token), found.user_id, found.id]);
      await setDemoPassword(tx, found.user_id, passwordHash);
      return { businessId: found.id, token, seeded: false };
    }
    const { rows } = await tx.query<{ n: number }>(`SELECT count(*)::int AS n FROM businesses`);
    if ((rows[0]?.n ?? 0) > 0) {
      // A database with real tenants gets no demo data.
      return { businessId: 0, token: '', seeded: false };
    }
    const business = await insertBusiness(tx, { name: DEMO_BUSINESS_NAME, timezone: 'America/New_York' });
    const { user, token } = await insertUserWithToken(tx, business.id, DEMO_EMAIL, 'owner');
    await setDemoPassword(tx, user.id, passwordHash);
    await tx.query(
      `INSERT INTO leads (business_id, name, phone, email, status, tags, owner_user_id)
       SELECT $1,
              ($3::text[])[1 + i % array_length($3::text[], 1)] || ' ' || ($4::text[])[1 + (i / 7) % array_length($4::text[], 1)],
              '+1212555' || lpad(i::text, 4, '0'),
              'lead' || i || '@example.com',
              ($5::text[])[1 + i % array_length($5::text[], 1)],
              ARRAY[($6::text[])[1 + i % array_length($6::text[], 1)]],
              $2
         FROM generate_series(1, $7::int) AS i`,
      [business.id, user.id, FIRST, LAST, STATUSES, TAGS, DEMO_LEADS],
    );
    await tx.query(
      `INSERT INTO lead_notes (business_id, lead_id, text, created_by)
       SELECT business_id, id, 'Called about the listing on ' || to_char(created_at, 'YYYY-MM-DD'), $2
         FROM leads WHERE business_id = $1 AND id % 3 = 0`,
      [business.id, user.id],
    );
    await tx.query(
      `INSERT INTO receipts (business_id, vendor, amount, currency, issued_at)
       SELECT $1, 'Vendor ' || i, (i * 13.37)::numeric(14,2), 'USD', now() - make_interval(days => i)
         FROM generate_series(1, 25) AS i`,
      [business.id],
    );
    return { businessId: business.id, token, seeded: true };
  });
  return { ...demo, email: DEMO_EMAIL, password: demo.token ? password : '' };
}

async function setDemoPassword(tx: pg.PoolClient, userId: number, passwordHash: string): Promise<void> {
  await tx.query(`UPDATE users SET password_hash = $2, invite_hash = NULL, invite_expires_at = NULL, disabled = false WHERE id = $1`, [userId, passwordHash]);
}
