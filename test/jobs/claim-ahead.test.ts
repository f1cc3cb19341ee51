import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import pg from 'pg';
import { z } from 'zod';
import { createLogger } from '../../src/lib/logger.js';
import { loadConfig } from '../../src/config/config.js';
import { HandlerRegistry } from '../../src/jobs/registry.js';
import { Worker } from '../../src/jobs/worker.js';
import { defineJob } from '../../src/jobs/types.js';
import { openOnFirstStatement } from '../../src/jobs/batch-tx.js';
import { ClaimAhead } from '../../src/jobs/claim-ahead.js';
import { commitBatches } from '../../src/jobs/sql/batch.js';
import { TEST_ENV, waitFor } from '../helpers/harness.js';
import { insertProbeJob, probeHandler, openProbeDatabase, type ProbeDatabase } from '../fixtures/probe.js';

/*
 * The engine's short-job path (issue 11): jobs claimed ahead of free slots, batches that make no
 * statement settled together, one NOTIFY per statement. Real workers on a real PostgreSQL.
 */

const log = createLogger('silent');
let probe: ProbeDatabase;
let pool: pg.Pool;
let businessId: number;
const workers: Worker[] = [];

/** How many times each job's batch ran, over every worker of this process. */
const runs = new Map<number, number>();
const noStatement = defineJob({
  type: 'no_statement',
  params: z.object({}),
  async batch({ job }) {
    runs.set(job.id, (runs.get(job.id) ?? 0) + 1);
    return { processed: 1, succeeded: 1, failed: 0, checkpoint: null, done: true };
  },
});

/** Claim statements sent through `p` (the worker claims through its pool). */
function countClaims(p: pg.Pool): { readonly claims: number } {
  const counter = { claims: 0 };
  const query = p.query.bind(p) as (...a: unknown[]) => unknown;
  (p as unknown as { query: (...a: unknown[]) => unknown }).query = (...args: unknown[]) => {
    const name = (args[0] as { name?: string } | undefined)?.name ?? '';
    if (name.startsWith('bulkhead_claim_jobs')) counter.claims += 1;
    return query(...args);
  };
  return counter;
}

async function startWorker(workerPool: pg.Pool, env: Record<string, string> = {}): Promise<Worker> {
  const config = loadConfig({ ...TEST_ENV, ...env, DATABASE_URL: probe.url });
  const registry = new HandlerRegistry().register(probeHandler).register(noStatement);
  const w = new Worker({ pool: workerPool, databaseUrl: probe.url, registry, config: config.worker, log });
  await w.start();
  workers.push(w);
  return w;
}

async function insertNoStatementJobs(n: number): Promise<number[]> {
  const { rows } = await pool.query<{ id: string }>(
    `INSERT INTO jobs (business_id, type, queue, params, params_hash, total)
     SELECT $1, 'no_statement', 'default', '{}'::jsonb, 'ns-' || g || '-' || random(), 1 FROM generate_series(1, $2) g RETURNING id`,
    [businessId, n],
  );
  return rows.map((r) => Number(r.id));
}

before(async () => {
  probe = await openProbeDatabase(20);
  ({ pool, businessId } = probe);
});

after(async () => {
  await Promise.all(workers.splice(0).map((w) => w.stop()));
  await probe.close();
});

describe('claim ahead (pure)', () => {
  test('nothing ahead until a job has ended; short jobs up to the maximum; long jobs none', () => {
    const ahead = new ClaimAhead(4, 100);
    assert.equal(ahead.size, 0, 'no job time seen yet');
    ahead.observe(1);
    assert.equal(ahead.size, 100, '4 slots × 50 ms ÷ 1 ms = 200, capped at 100');
    const slow = new ClaimAhead(4, 100);
    slow.observe(2_000);
    assert.equal(slow.size, 0, 'two-second jobs: nothing ahead');
    for (let i = 0; i < 30; i++) ahead.observe(2_000);
    assert.equal(ahead.size, 0, 'jobs that turned slow stop the claiming ahead');
    assert.equal(new ClaimAhead(4, 0).size, 0);
  });
});

describe('short jobs (real workers, real PostgreSQL)', () => {
  test('2,000 statement-less jobs over two workers: each runs once, claims are a fraction of the jobs', async () => {
    const poolA = new pg.Pool({ connectionString: probe.url, max: 6 });
    const poolB = new pg.Pool({ connectionString: probe.url, max: 6 });
    try {
      const a = countClaims(poolA);
      const b = countClaims(poolB);
      const ids = await insertNoStatementJobs(2_000);
      await startWorker(poolA, { WORKER_CONCURRENCY: '4' });
      await startWorker(poolB, { WORKER_CONCURRENCY: '4' });
      await waitFor(async () => {
        const { rows } = await pool.query<{ n: number }>(`SELECT count(*)::int AS n FROM jobs WHERE id = ANY($1) AND status = 'completed'`, [ids]);
        return rows[0]?.n === ids.length;
      }, 'every job completed', 60_000);
      assert.deepEqual(ids.filter((id) => runs.get(id) !== 1), [], 'every job ran exactly once');
      const { rows } = await pool.query<{ processed: number; attempts: number; locked_by: string | null; finished: boolean }>(
        `SELECT processed, attempts, locked_by, finished_at IS NOT NULL AS finished FROM jobs WHERE id = ANY($1)`,
        [ids],
      );
      assert.ok(rows.every((r) => r.processed === 1 && r.attempts === 1 && r.locked_by === null && r.finished), 'settled: progress, one claim each, let go');
      const claims = a.claims + b.claims;
      assert.ok(claims < ids.length / 10, `jobs are claimed ahead: ${claims} claims for ${ids.length} jobs`);
    } finally {
      await Promise.all(workers.splice(0).map((w) => w.stop()));
      await poolA.end();
      await poolB.end();
    }
  });

  test('jobs claimed ahead go back to the queue when the worker stops', async () => {
    const warm = await insertNoStatementJobs(50);
    const w = await startWorker(pool, { WORKER_CONCURRENCY: '1' });
    await waitFor(async () => {
      const { rows } = await pool.query<{ n: number }>(`SELECT count(*)::int AS n FROM jobs WHERE id = ANY($1) AND status = 'completed'`, [warm]);
      return rows[0]?.n === warm.length;
    }, 'the warm-up jobs');
    // Its jobs were short, so the worker now claims ahead: these 300 ms jobs wait for its one slot.
    const slow = await Promise.all(Array.from({ length: 6 }, () => insertProbeJob(pool, businessId, { batches: 1, sleepMs: 300 })));
    const slowIds = slow.map((j) => j.id);
    await waitFor(async () => {
      const { rows } = await pool.query<{ n: number }>(`SELECT count(*)::int AS n FROM jobs WHERE id = ANY($1) AND locked_by = $2`, [slowIds, w.id]);
      return (rows[0]?.n ?? 0) > 1;
    }, 'more jobs held than the worker has slots');
    await w.stop();
    workers.splice(workers.indexOf(w), 1);
    const { rows } = await pool.query<{ status: string; locked_by: string | null }>(`SELECT status, locked_by FROM jobs WHERE id = ANY($1)`, [slowIds]);
    assert.deepEqual(rows.filter((r) => r.locked_by !== null || !['queued', 'completed'].includes(r.status)), [], 'none held after the stop');
    assert.ok(rows.some((r) => r.status === 'queued'), 'the jobs it had not started are queued again');
    await startWorker(pool, { WORKER_CONCURRENCY: '3' });
    await waitFor(async () => {
      const { rows: done } = await pool.query<{ n: number }>(`SELECT count(*)::int AS n FROM jobs WHERE id = ANY($1) AND status = 'completed'`, [slowIds]);
      return done[0]?.n === slowIds.length;
    }, 'the handed-back jobs completed by another worker');
    await Promise.all(workers.splice(0).map((x) => x.stop()));
  });
});

describe('settling statement-less batches together', () => {
  test('each row is fenced by its own claim: a moved-on claim is neither updated nor returned', async () => {
    const ids = await insertNoStatementJobs(2);
    const [first, second] = ids;
    assert.ok(first !== undefined && second !== undefined);
    await pool.query(`UPDATE jobs SET status = 'running', locked_by = 'fence-test', attempts = 1, started_at = now() WHERE id = ANY($1)`, [ids]);
    const done = { processed: 1, succeeded: 1, failed: 0, checkpoint: null, done: true };
    const { rows } = await pool.query<{ id: string; status: string }>(
      commitBatches('fence-test', [{ jobId: second, attempt: 1, result: done }, { jobId: first, attempt: 2, result: done }]),
    );
    assert.deepEqual(rows.map((r) => [Number(r.id), r.status]), [[second, 'completed']]);
    const { rows: firstRow } = await pool.query<{ status: string; processed: number }>(`SELECT status, processed FROM jobs WHERE id = $1`, [first]);
    assert.deepEqual(firstRow[0], { status: 'running', processed: 0 }, 'the stale attempt changed nothing');
    await pool.query(`UPDATE jobs SET status = 'cancelled', finished_at = now(), locked_by = NULL WHERE id = $1`, [first]);
  });
});

describe('the batch transaction opens with the first statement', () => {
  test('no statement: no connection taken', async () => {
    const lazy = openOnFirstStatement(pool);
    const idleBefore = pool.idleCount;
    assert.equal(lazy.client, null);
    lazy.release(false);
    assert.equal(pool.idleCount, idleBefore);
  });

  test('statements share one transaction, in the order they were made, and roll back together', async () => {
    await pool.query(`CREATE TABLE IF NOT EXISTS lazy_tx_probe (n int)`);
    const lazy = openOnFirstStatement(pool);
    const [x1, , x2] = await Promise.all([
      lazy.tx.query<{ x: string }>(`SELECT txid_current()::text AS x`),
      lazy.tx.query(`INSERT INTO lazy_tx_probe VALUES (1), (2)`),
      lazy.tx.query<{ x: string }>(`SELECT txid_current()::text AS x`),
    ]);
    assert.equal(x1.rows[0]?.x, x2.rows[0]?.x, 'one transaction');
    const seen = await lazy.tx.query<{ n: number }>(`SELECT count(*)::int AS n FROM lazy_tx_probe`);
    assert.equal(seen.rows[0]?.n, 2, 'the insert ran before the count that was made after it');
    assert.ok(lazy.client);
    await lazy.client.query('ROLLBACK');
    lazy.release(false);
    const { rows } = await pool.query<{ n: number }>(`SELECT count(*)::int AS n FROM lazy_tx_probe`);
    assert.equal(rows[0]?.n, 0, 'rolled back together');
  });
});

describe('NOTIFY once per statement (migration 018)', () => {
  test('an UPDATE of three jobs is one bulkhead_job notification naming all three; a queued one wakes its queue once', async () => {
    const ids = await insertNoStatementJobs(3);
    const listener = new pg.Client({ connectionString: probe.url });
    await listener.connect();
    try {
      const got: { channel: string; payload: string }[] = [];
      listener.on('notification', (n) => got.push({ channel: n.channel, payload: n.payload ?? '' }));
      await listener.query('LISTEN bulkhead_job');
      await listener.query('LISTEN bulkhead_queue');
      await pool.query(`UPDATE jobs SET status = 'cancelled', finished_at = now() WHERE id = ANY($1)`, [ids]);
      await pool.query(`UPDATE jobs SET status = 'queued', finished_at = NULL, queue = 'ahead_test', run_at = now() + interval '1 hour' WHERE id = ANY($1)`, [ids]);
      await waitFor(async () => got.filter((g) => g.channel === 'bulkhead_job').length >= 2 && got.some((g) => g.channel === 'bulkhead_queue'), 'the notifications');
      const jobNotes = got.filter((g) => g.channel === 'bulkhead_job');
      assert.equal(jobNotes.length, 2, 'one per statement');
      assert.deepEqual(jobNotes[0]?.payload.split(',').sort(), ids.map((id) => `${businessId}:${id}:cancelled`).sort());
      assert.deepEqual(got.filter((g) => g.channel === 'bulkhead_queue').map((g) => g.payload), ['ahead_test'], 'one wake-up for the queue');
      await pool.query(`UPDATE jobs SET status = 'cancelled', finished_at = now() WHERE id = ANY($1)`, [ids]);
    } finally {
      await listener.end();
    }
  });
});
