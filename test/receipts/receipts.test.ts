import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { createTenant, startTestEnv, waitForJob, type Tenant, type TestEnv } from '../helpers/harness.js';
import { client, liftRateLimits } from '../leads/helpers.js';

interface Receipt {
  id: number;
  vendor: string;
  amount: number;
  currency: string;
  issued_at: string;
  created_at: string;
}

let env: TestEnv;
let a: Tenant;
let b: Tenant;
let apiA: ReturnType<typeof client>;
let apiB: ReturnType<typeof client>;

before(async () => {
  env = await startTestEnv({ env: { JOB_BATCH_SIZE: '50' } });
  a = await createTenant(env);
  b = await createTenant(env);
  await liftRateLimits(env, a);
  apiA = client(env, a);
  apiB = client(env, b);
});
after(() => env.close());

async function seedReceipts(t: Tenant, n: number): Promise<void> {
  await env.pool.query(
    `INSERT INTO receipts (business_id, vendor, amount, currency, issued_at)
     SELECT $1, 'Vendor ' || g, g * 1.25, 'EUR', now() FROM generate_series(1, $2) g`,
    [t.businessId, n],
  );
}

describe('create and list', () => {
  test('creates a receipt; amounts are numbers with at most 2 decimals', async () => {
    const res = await apiA<Receipt>('POST', '/receipts', { vendor: 'Acme', amount: 12.5, currency: 'USD', issued_at: '2024-03-01T10:00:00+01:00' });
    assert.equal(res.status, 201);
    assert.equal(res.body.vendor, 'Acme');
    assert.equal(res.body.amount, 12.5);
    assert.equal(typeof res.body.amount, 'number');
    assert.equal(res.body.currency, 'USD');
    assert.equal(res.body.issued_at, '2024-03-01T09:00:00.000Z');
    const big = await apiA<Receipt>('POST', '/receipts', { vendor: 'Big', amount: 999999999999.99, currency: 'JPY', issued_at: '2024-03-01T10:00:00Z' });
    assert.equal(big.status, 201);
    assert.equal(big.body.amount, 999999999999.99);
    const cents = await apiA<Receipt>('POST', '/receipts', { vendor: 'Cents', amount: 0.07, currency: 'EUR', issued_at: '2024-03-01T10:00:00Z' });
    assert.equal(cents.body.amount, 0.07);
  });

  test('bad receipts are 400 naming the field', async () => {
    const good = { vendor: 'Acme', amount: 1, currency: 'USD', issued_at: '2024-03-01T10:00:00Z' };
    const cases: [Record<string, unknown>, string][] = [
      [{ ...good, amount: -1 }, 'body.amount'],
      [{ ...good, amount: 1.234 }, 'body.amount'],
      [{ ...good, amount: '12.00' }, 'body.amount'],
      [{ ...good, amount: 1e13 }, 'body.amount'],
      [{ ...good, currency: 'usd' }, 'body.currency'],
      [{ ...good, currency: 'DOLLARS' }, 'body.currency'],
      [{ ...good, issued_at: 'yesterday' }, 'body.issued_at'],
      [{ ...good, vendor: '' }, 'body.vendor'],
      [{ ...good, vendor: 'v'.repeat(201) }, 'body.vendor'],
    ];
    for (const [payload, path] of cases) {
      const res = await apiA<{ error: { code: string; details: { issues: { path: string }[] } } }>('POST', '/receipts', payload);
      assert.equal(res.status, 400, JSON.stringify(payload));
      assert.ok(res.body.error.details.issues.some((i) => i.path === path), `${JSON.stringify(res.body)} should name ${path}`);
    }
  });

  test('lists with pagination, and only the caller\'s receipts', async () => {
    const t = await createTenant(env);
    const api = client(env, t);
    await seedReceipts(t, 123);
    const seen: Receipt[] = [];
    let cursor: string | null = null;
    do {
      const res: { status: number; body: { items: Receipt[]; next_cursor: string | null } } = await api(
        'GET',
        `/receipts?limit=20${cursor ? `&cursor=${cursor}` : ''}`,
      );
      assert.equal(res.status, 200);
      seen.push(...res.body.items);
      cursor = res.body.next_cursor;
    } while (cursor);
    assert.equal(seen.length, 123);
    assert.equal(new Set(seen.map((r) => r.id)).size, 123);
    assert.equal(seen[3]?.amount, 5);
    const fromB = await apiB<{ items: Receipt[] }>('GET', '/receipts?limit=500');
    assert.equal(fromB.body.items.length, 0);
  });
});

describe('delete all', () => {
  test('deletes every receipt of the business in batches and none of another\'s', async () => {
    await seedReceipts(a, 240);
    await seedReceipts(b, 30);
    const { rows } = await env.pool.query<{ n: number }>(`SELECT count(*)::int AS n FROM receipts WHERE business_id = $1`, [a.businessId]);
    const expected = rows[0]?.n ?? 0;
    assert.ok(expected >= 240);

    const res = await apiA<{ job_id: number; status: string }>('DELETE', '/receipts', undefined, { 'idempotency-key': 'wipe-1' });
    assert.equal(res.status, 202);
    assert.equal(res.body.status, 'queued');
    assert.equal(res.headers.location, `/api/v1/jobs/${res.body.job_id}`);
    const job = await waitForJob(env, res.body.job_id, 'completed');
    assert.deepEqual({ total: job.total, processed: job.processed, succeeded: job.succeeded, failed: job.failed }, {
      total: expected, processed: expected, succeeded: expected, failed: 0,
    });
    const left = await apiA<{ items: Receipt[] }>('GET', '/receipts');
    assert.equal(left.body.items.length, 0);
    const bLeft = await env.pool.query<{ n: number }>(`SELECT count(*)::int AS n FROM receipts WHERE business_id = $1`, [b.businessId]);
    assert.equal(bLeft.rows[0]?.n, 30);

    const replay = await apiA<{ job_id: number }>('DELETE', '/receipts', undefined, { 'idempotency-key': 'wipe-1' });
    assert.equal(replay.status, 202);
    assert.equal(replay.body.job_id, res.body.job_id);
  });

  test('deleting when there are none completes at once', async () => {
    const t = await createTenant(env);
    const res = await client(env, t)<{ job_id: number }>('DELETE', '/receipts');
    assert.equal(res.status, 202);
    const job = await waitForJob(env, res.body.job_id, 'completed');
    assert.equal(job.total, 0);
    assert.equal(job.processed, 0);
  });
});
