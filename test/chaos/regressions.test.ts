import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import type pg from 'pg';
import { loadConfig } from '../../src/config/config.js';
import { migrate } from '../../src/db/migrate.js';
import { createPool, withTx } from '../../src/db/pool.js';
import { HandlerRegistry } from '../../src/jobs/registry.js';
import { Worker } from '../../src/jobs/worker.js';
import { createLogger } from '../../src/lib/logger.js';
import { createProbeSchema, insertProbeJob, probeHandler } from '../fixtures/probe.js';
import { createTestDatabase, type TestDatabase } from '../helpers/db.js';
import { TEST_ENV, waitForJob } from '../helpers/harness.js';

/** Regression tests for what the chaos suite (bench/chaos) broke. */
const log = createLogger('silent');
let db: TestDatabase;
let pool: pg.Pool;
let admin: pg.Pool;

before(async () => {
  db = await createTestDatabase();
  pool = createPool(db.url, { max: 4 }, log);
  admin = createPool(db.url, { max: 1 }, log);
  await migrate(pool, log);
});

after(async () => {
  await pool.end();
  await admin.end();
  await db.drop();
});

test('a connection cut while checked out (between two queries of a transaction) does not crash the process', async () => {
  const crashes: unknown[] = [];
  const onUncaught = (err: unknown) => crashes.push(err);
  process.prependListener('uncaughtException', onUncaught);
  try {
    await assert.rejects(withTx(pool, async (tx) => {
      const { rows } = await tx.query<{ pid: number }>('SELECT pg_backend_pid() AS pid');
      // What a PostgreSQL restart does to every backend; the client sits idle in our hands meanwhile.
      await admin.query('SELECT pg_terminate_backend($1)', [rows[0]?.pid]);
      await new Promise((r) => setTimeout(r, 300));
      await tx.query('SELECT 1');
    }));
    assert.deepEqual(crashes, [], 'no uncaught error event');
    // The broken client was discarded: the pool works on.
    assert.equal(await withTx(pool, async (tx) => (await tx.query<{ n: number }>('SELECT 1 AS n')).rows[0]?.n), 1);
  } finally {
    process.off('uncaughtException', onUncaught);
  }
});

test('a batch failure the database refuses to record (restarting) is retried, not left `running` under a live worker', async () => {
  const businessId = await createProbeSchema(pool);
  // The pool the worker sees: its first two attempts to record the batch failure meet a
  // database that is shutting down (57P01), as during a PostgreSQL restart.
  let refusals = 0;
  const flaky = new Proxy(pool, {
    get(target, prop, receiver) {
      if (prop !== 'query') return Reflect.get(target, prop, receiver) as unknown;
      return (config: unknown, ...rest: unknown[]) => {
        if (typeof config === 'object' && config !== null && (config as { name?: string }).name === 'bulkhead_batch_failure' && refusals < 2) {
          refusals += 1;
          return Promise.reject(Object.assign(new Error('terminating connection due to administrator command'), { code: '57P01' }));
        }
        return (target.query as (...a: unknown[]) => Promise<unknown>)(config, ...rest);
      };
    },
  });
  const config = loadConfig({ ...TEST_ENV, JOB_RETRY_BASE_MS: '10', DATABASE_URL: db.url });
  const worker = new Worker({ pool: flaky, databaseUrl: db.url, registry: new HandlerRegistry().register(probeHandler), config: config.worker, log });
  await worker.start();
  try {
    const job = await insertProbeJob(pool, businessId, { batches: 2, failTimes: 1 });
    // Before the fix the job stayed `running`, held by a worker that heartbeats and never runs it.
    const done = await waitForJob({ pool }, job.id, 'completed', 15_000);
    assert.equal(done.processed, 2);
    assert.equal(refusals, 2);
  } finally {
    await worker.stop();
  }
});

test('a bare 5xx from something between us and the Cloud API is an unknown outcome (never resent); the API\'s own refusals are retried', async () => {
  const { classifySendFailure } = await import('../../src/providers/whatsapp/classify.js');
  const { parseSendResponse } = await import('../../src/providers/whatsapp/cloud-api.js');
  const kind = (status: number, body: string) => {
    const r = parseSendResponse(status, body);
    return r.ok ? 'ok' : classifySendFailure(r).kind;
  };
  // The chaos suite's fault proxy: the message reached the provider, the answer was replaced by a 500.
  assert.equal(kind(500, '{"code":20500,"message":"Internal Server Error"}'), 'unknown');
  assert.equal(kind(502, '<html>Bad Gateway</html>'), 'unknown');
  assert.equal(kind(504, ''), 'unknown');
  assert.equal(kind(503, ''), 'retry');
  assert.equal(kind(500, '{"error":{"message":"(#131000) Something went wrong","code":131000}}'), 'retry');
  assert.equal(kind(500, '{"error":{"message":"(#1) An unknown error occurred","code":1}}'), 'retry');
});

test('the errors of a restarting database are retryable (503 database_unavailable, not 500)', async () => {
  const { isRetryablePgError } = await import('../../src/db/pool.js');
  assert.ok(isRetryablePgError(new Error('Client has encountered a connection error and is not queryable')));
  assert.ok(isRetryablePgError(Object.assign(new Error('terminating connection due to administrator command'), { code: '57P01' })));
  assert.ok(isRetryablePgError(Object.assign(new Error('read ECONNRESET'), { code: 'ECONNRESET' })));
  assert.ok(!isRetryablePgError(Object.assign(new Error('duplicate key'), { code: '23505' })));
});
