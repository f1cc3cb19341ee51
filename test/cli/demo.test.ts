import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import pg from 'pg';
import { ensureDemo } from '../../src/cli/demo.js';
import { normalizePhone } from '../../src/leads/phone.js';
import { verifyPassword } from '../../src/people/passwords.js';
import { hashToken } from '../../src/tenancy/tokens.js';
import { createTestDatabase, type TestDatabase } from '../helpers/db.js';

/**
 * The demo `npm start` seeds (DEMO=1) on an empty database: what a first-time user sees. The
 * seed once failed on every fresh database (an untyped CASE of two parameters is text, the
 * owner column bigint) while every test started with DEMO=0: this file runs the seed itself.
 */
let db: TestDatabase;
let pool: pg.Pool;

before(async () => {
  db = await createTestDatabase();
  pool = new pg.Pool({ connectionString: db.url, max: 2 });
});
after(async () => {
  await pool.end();
  await db.drop();
});

test('an empty database gets the Israeli demo business: leads with valid Israeli numbers, owned by its owner and agent, notes, receipts in shekels', async () => {
  const demo = await ensureDemo(pool);
  assert.ok(demo);
  assert.equal(demo.seeded, true);
  const { rows: [business] } = await pool.query<{ default_country: string; timezone: string; locale: string }>(
    `SELECT default_country, timezone, locale FROM businesses WHERE id = $1`, [demo.businessId]);
  assert.deepEqual(business, { default_country: 'IL', timezone: 'Asia/Jerusalem', locale: 'he' });

  const { rows: leads } = await pool.query<{ phone: string; owner: string | null }>(
    `SELECT l.phone, u.email AS owner FROM leads l LEFT JOIN users u ON u.id = l.owner_user_id WHERE l.business_id = $1`, [demo.businessId]);
  assert.equal(leads.length, 3_000);
  // Valid by the rule the API applies to every lead it takes (and already in its E.164 form).
  const invalid = leads.filter((l) => normalizePhone(l.phone, 'IL') !== l.phone || !l.phone.startsWith('+972'));
  assert.deepEqual(invalid, [], 'every demo number is a valid Israeli E.164 number');
  const owners = new Map<string | null, number>();
  for (const l of leads) owners.set(l.owner, (owners.get(l.owner) ?? 0) + 1);
  assert.deepEqual(Object.fromEntries(owners), { 'owner@demo.local': 1_500, 'agent@demo.local': 1_500 });

  const { rows: [counts] } = await pool.query<{ notes: number; receipts: number; shekels: number }>(
    `SELECT (SELECT count(*)::int FROM lead_notes WHERE business_id = $1) AS notes,
            (SELECT count(*)::int FROM receipts WHERE business_id = $1) AS receipts,
            (SELECT count(*)::int FROM receipts WHERE business_id = $1 AND currency = 'ILS') AS shekels`, [demo.businessId]);
  assert.equal(counts?.notes, 1_000);
  assert.equal(counts?.receipts, counts?.shekels);
  assert.ok((counts?.receipts ?? 0) > 0);
});

test('every start: a fresh owner token and fresh passwords that work, the old ones no longer; nothing seeded twice', async () => {
  const first = await ensureDemo(pool);
  const second = await ensureDemo(pool);
  assert.ok(first && second);
  assert.equal(second.seeded, false);
  assert.equal(second.businessId, first.businessId);
  assert.notEqual(second.token, first.token);
  const { rows: tokens } = await pool.query<{ n: number }>(`SELECT count(*)::int AS n FROM api_tokens WHERE token_hash = $1`, [hashToken(second.token)]);
  assert.equal(tokens[0]?.n, 1);
  const before = new Map(first.people.map((x) => [x.email, x.password]));
  for (const p of second.people) {
    const { rows: [u] } = await pool.query<{ password_hash: string | null }>(`SELECT password_hash FROM users WHERE email = $1`, [p.email]);
    assert.equal(await verifyPassword(u?.password_hash ?? null, p.password), true, `${p.email}: the printed password works`);
    const old = before.get(p.email);
    assert.ok(old !== undefined);
    assert.equal(await verifyPassword(u?.password_hash ?? null, old), false, `${p.email}: the previous start's password no longer works`);
  }
  const { rows: [n] } = await pool.query<{ n: number }>(`SELECT count(*)::int AS n FROM leads WHERE business_id = $1`, [second.businessId]);
  assert.equal(n?.n, 3_000);
});
