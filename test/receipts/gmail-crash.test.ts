import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import type pg from 'pg';
import { RECEIPT_QUERY } from '../../src/receipts/extract.js';
import { isReceiptsModule } from '../../src/receipts/module.js';
import { createTenant, startTestEnv, waitFor, waitForJob, type Tenant, type TestEnv } from '../helpers/harness.js';
import { FAST_TAKEOVER, spawnTs, type Child } from '../helpers/processes.js';

/**
 * kill -9 of a real `bulkhead worker` in the middle of a Gmail sync: the first page is
 * committed, the second has been read from Gmail and is being stored when the process dies. A
 * second worker takes the job over from its checkpoint; every receipt exists exactly once.
 *
 * Each worker process runs its own Google simulator (no GOOGLE_CLIENT_ID): the grant this
 * process's simulator gave at the consent is honoured there too, over the same seeded mailbox
 * (src/providers/google/simulator.ts). To make the kill land inside the second batch, this test
 * holds, in an open transaction, uncommitted receipts of the second page's messages: the
 * worker's insert of the first of them waits on that transaction (the unique index), which the
 * test sees in pg_stat_activity before it kills.
 */
let env: TestEnv;
let t: Tenant;
const children: Child[] = [];

/** The seeded mailbox's receipt-looking mail: 8 messages, 6 of them receipts (test/receipts/gmail-sync.test.ts). */
const LISTED = 8;
const RECEIPTS = 6;
/** JOB_BATCH_SIZE of the workers: pages of 3 messages, so the sync takes 3 batches. */
const PAGE = 3;

before(async () => {
  env = await startTestEnv({ worker: false, env: { GMAIL_SYNC_EVERY_MS: '3600000' } });
  t = await createTenant(env);
  const started = await env.app.inject({ method: 'POST', url: '/api/v1/integrations/gmail/connect', headers: t.headers });
  assert.equal(started.statusCode, 200, started.body);
  const google = await fetch((started.json() as { auth_url: string }).auth_url, { redirect: 'manual' });
  const back = new URL(google.headers.get('location') ?? '');
  const done = await env.app.inject({ method: 'GET', url: `${back.pathname}${back.search}` });
  assert.equal(done.statusCode, 200, done.body);
});

after(async () => {
  for (const c of children) c.kill('SIGKILL');
  await Promise.all(children.map((c) => c.exited));
  await env.close();
});

async function workerProcess(): Promise<Child> {
  const c = await spawnTs('src/cli/main.ts', {
    DATABASE_URL: env.url,
    // The sealed refresh token opens with this process's secrets key (DATA_DIR/secrets-key).
    DATA_DIR: env.config.dataDir,
    JOB_BATCH_SIZE: String(PAGE),
    GMAIL_SYNC_EVERY_MS: '3600000',
    ...FAST_TAKEOVER,
  }, ['worker'], /worker running/);
  children.push(c);
  return c;
}

test('kill -9 mid-sync, then another worker resumes: every receipt exactly once', async () => {
  const m = env.modules.find(isReceiptsModule);
  const ids = m?.simulator()?.messageIds(RECEIPT_QUERY) ?? [];
  assert.equal(ids.length, LISTED);

  // Receipts of the second and third pages, inserted and not committed: the worker's insert of
  // the same message waits for this transaction.
  const hold: pg.PoolClient = await env.pool.connect();
  await hold.query('BEGIN');
  await hold.query(
    `INSERT INTO receipts (business_id, vendor, amount, currency, issued_at, source, gmail_message_id)
     SELECT $1, 'held by the test', 1, 'ILS', now(), 'gmail', id FROM unnest($2::text[]) AS id`,
    [t.businessId, ids.slice(PAGE)],
  );

  const res = await env.app.inject({ method: 'POST', url: '/api/v1/receipts/sync', headers: t.headers });
  assert.equal(res.statusCode, 202, res.body);
  const jobId = (res.json() as { job_id: number }).job_id;

  const first = await workerProcess();
  await waitFor(async () => {
    const { rows } = await env.pool.query(
      `SELECT 1 FROM pg_stat_activity WHERE wait_event_type = 'Lock' AND query LIKE 'INSERT INTO receipts%' AND datname = current_database()`,
    );
    return rows.length > 0;
  }, 'the first worker storing the second page, waiting on the held receipts', 15_000);
  const during = await env.pool.query<{ processed: number; status: string }>(`SELECT processed, status FROM jobs WHERE id = $1`, [jobId]);
  assert.deepEqual(during.rows[0], { processed: PAGE, status: 'running' }, 'the first page is committed, the second is not');
  first.kill('SIGKILL');
  await first.exited;
  await hold.query('ROLLBACK');
  hold.release();

  await workerProcess();
  const job = await waitForJob(env, jobId, (j) => ['completed', 'failed', 'cancelled'].includes(j.status), 15_000);
  assert.equal(job.status, 'completed', JSON.stringify(job));
  assert.equal(job.result?.imported, RECEIPTS, 'the counts of the rolled-back batch were not kept');
  assert.equal(job.result?.already_known, 0);
  const { rows } = await env.pool.query<{ gmail_message_id: string; n: number; vendor: string }>(
    `SELECT gmail_message_id, count(*)::int AS n, min(vendor) AS vendor FROM receipts WHERE business_id = $1 GROUP BY gmail_message_id`,
    [t.businessId],
  );
  assert.equal(rows.length, RECEIPTS);
  for (const r of rows) {
    assert.equal(r.n, 1, `message ${r.gmail_message_id} has ${r.n} receipts`);
    assert.ok(ids.includes(r.gmail_message_id));
    assert.notEqual(r.vendor, 'held by the test');
  }
  const { rows: attempts } = await env.pool.query<{ attempts: number }>(`SELECT attempts FROM jobs WHERE id = $1`, [jobId]);
  assert.ok((attempts[0]?.attempts ?? 0) >= 2, 'the second worker took the job over');
});
