import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import type pg from 'pg';
import { waitFor, waitForJob } from '../helpers/harness.js';
import { FAST_TAKEOVER, spawnProbeWorker, spawnTs, type Child } from '../helpers/processes.js';
import { insertJob } from '../../src/jobs/jobs.repo.js';
import { duplicateBatches, insertProbeJob, openProbeDatabase, type ProbeDatabase } from '../fixtures/probe.js';

/**
 * Crash and stall claims, proven with real worker processes: kill -9, SIGTERM, SIGSTOP.
 * Engine timings are the production defaults (heartbeat 2 s, stale after 10 s) unless noted.
 */
let probe: ProbeDatabase;
let pool: pg.Pool;
let businessId: number;
const children: Child[] = [];

async function worker(env: Record<string, string> = {}): Promise<Child> {
  const c = await spawnProbeWorker(probe.url, env);
  children.push(c);
  return c;
}

async function holder(jobId: number): Promise<string | null> {
  const { rows } = await pool.query<{ locked_by: string | null }>(`SELECT locked_by FROM jobs WHERE id = $1`, [jobId]);
  return rows[0]?.locked_by ?? null;
}

before(async () => {
  probe = await openProbeDatabase(10);
  ({ pool, businessId } = probe);
});

after(async () => {
  for (const c of children) c.kill('SIGKILL');
  await Promise.all(children.map((c) => c.exited));
  await probe.close();
});

describe('worker processes', () => {
  test('two worker processes share 40 jobs: both work, no batch runs twice, exact counts', async () => {
    const a = await worker({ WORKER_CONCURRENCY: '3' });
    const b = await worker({ WORKER_CONCURRENCY: '3' });
    const jobs = await Promise.all(Array.from({ length: 40 }, () => insertProbeJob(pool, businessId, { batches: 10, sleepMs: 2 })));
    for (const j of jobs) assert.equal((await waitForJob({ pool }, j.id, 'completed', 60_000)).processed, 10);
    assert.deepEqual(await duplicateBatches(pool), []);
    const { rows } = await pool.query<{ worker: string; n: number }>(
      `SELECT worker, count(*)::int AS n FROM probe_log WHERE job_id = ANY($1) GROUP BY worker`,
      [jobs.map((j) => j.id)],
    );
    assert.deepEqual(new Set(rows.map((r) => r.worker)), new Set([a.id, b.id]), 'both processes ran batches');
    assert.equal(rows.reduce((n, r) => n + r.n, 0), 400);
    a.kill('SIGTERM');
    b.kill('SIGTERM');
    await Promise.all([a.exited, b.exited]);
  });

  test('kill -9 mid-job: another process continues within 15 s, exact counts, no batch applied twice', async () => {
    const a = await worker();
    const job = await insertProbeJob(pool, businessId, { batches: 60, sleepMs: 40 });
    await waitFor(async () => (await holder(job.id)) === a.id, 'A holds the job');
    await waitForJob({ pool }, job.id, (j) => j.processed >= 5);
    const b = await worker();
    a.kill('SIGKILL'); // most likely mid-batch: 40 ms of every ~45 ms is inside a transaction
    const killedAt = Date.now();
    await a.exited;
    await waitFor(async () => (await holder(job.id)) === b.id, 'B takes over', 20_000);
    const tookOverMs = Date.now() - killedAt;
    assert.ok(tookOverMs <= 15_000, `took over after ${tookOverMs} ms`);
    const done = await waitForJob({ pool }, job.id, 'completed', 30_000);
    assert.equal(done.processed, 60);
    assert.equal(done.succeeded, 60);
    assert.deepEqual(await duplicateBatches(pool), []);
    const { rows } = await pool.query<{ n: number }>(`SELECT count(*)::int AS n FROM probe_log WHERE job_id = $1`, [job.id]);
    assert.equal(rows[0]?.n, 60, 'every batch applied exactly once');
    b.kill('SIGTERM');
    await b.exited;
  });

  test('kill -9 of a real `bulkhead worker` mid bulk delete: the next one finishes with exact counts', async () => {
    const { rows: leads } = await pool.query<{ id: number }>(
      `INSERT INTO leads (business_id, phone) SELECT $1, '+1718' || lpad(i::text, 7, '0') FROM generate_series(1, 3000) i RETURNING id`,
      [businessId],
    );
    await pool.query(
      `INSERT INTO lead_notes (business_id, lead_id, text) SELECT $1, id, 'n' FROM leads WHERE business_id = $1`,
      [businessId],
    );
    const ids = leads.map((l) => l.id);
    const job = await insertJob(pool, {
      businessId, type: 'delete_leads_bulk', queue: 'maintenance', params: { lead_count: ids.length },
      targets: ids, paramsHash: 'crash', lockKey: 'delete_leads_bulk', total: ids.length, createdBy: null,
    });
    // The takeover after a kill -9 at the default heartbeat settings is the previous test's subject;
    // this one is about the real CLI worker's batches, so a killed worker goes stale in 1.5 s, not 10.
    const cliEnv = { DATABASE_URL: probe.url, JOB_BATCH_SIZE: '50', JOB_BATCH_PAUSE_MS: '5', ...FAST_TAKEOVER };
    const first = await spawnTs('src/cli/main.ts', cliEnv, ['worker'], /worker started/);
    children.push(first);
    await waitForJob({ pool }, job.id, (j) => j.processed >= 600, 30_000);
    first.kill('SIGKILL');
    await first.exited;
    const second = await spawnTs('src/cli/main.ts', cliEnv, ['worker'], /worker started/);
    children.push(second);
    const done = await waitForJob({ pool }, job.id, 'completed', 60_000);
    // A batch applied twice would find its leads gone and count them as failed.
    assert.deepEqual([done.processed, done.succeeded, done.failed], [3000, 3000, 0]);
    const { rows: left } = await pool.query<{ n: number }>(`SELECT count(*)::int AS n FROM leads WHERE business_id = $1`, [businessId]);
    assert.equal(left[0]?.n, 0);
    const { rows: notes } = await pool.query<{ n: number }>(`SELECT count(*)::int AS n FROM lead_notes WHERE business_id = $1`, [businessId]);
    assert.equal(notes[0]?.n, 0, 'children went with their leads');
    second.kill('SIGTERM');
    assert.equal(await second.exited, 0);
  });

  test('SIGTERM finishes the batch in flight and hands the job back at once', async () => {
    const a = await worker();
    const b = await worker({ WORKER_CONCURRENCY: '1' });
    const job = await insertProbeJob(pool, businessId, { batches: 100, sleepMs: 30 });
    const first = await waitFor(async () => holder(job.id), 'someone holds the job');
    const [owner, other] = first === a.id ? [a, b] : [b, a];
    await waitForJob({ pool }, job.id, (j) => j.processed >= 3);
    const termAt = Date.now();
    owner.kill('SIGTERM');
    assert.equal(await owner.exited, 0, 'clean exit');
    await waitFor(async () => (await holder(job.id)) === other.id, 'the other worker continues');
    assert.ok(Date.now() - termAt < 5_000, 'handed back without waiting for staleness (10 s)');
    const done = await waitForJob({ pool }, job.id, 'completed', 30_000);
    assert.equal(done.processed, 100);
    assert.deepEqual(await duplicateBatches(pool), []);
    other.kill('SIGTERM');
    await other.exited;
  });

  test('a frozen worker (SIGSTOP) loses its claim; after SIGCONT its late commit is rejected', async () => {
    const fast = { ...FAST_TAKEOVER, DB_IDLE_IN_TX_TIMEOUT_MS: '1500' };
    const a = await worker(fast);
    const job = await insertProbeJob(pool, businessId, { batches: 80, sleepMs: 30 });
    await waitFor(async () => (await holder(job.id)) === a.id, 'A holds the job');
    await waitForJob({ pool }, job.id, (j) => j.processed >= 3);
    a.kill('SIGSTOP');
    const b = await worker(fast);
    await waitFor(async () => (await holder(job.id)) === b.id, 'B takes over from the frozen A', 20_000);
    a.kill('SIGCONT');
    const done = await waitForJob({ pool }, job.id, 'completed', 30_000);
    assert.equal(done.processed, 80);
    assert.deepEqual(await duplicateBatches(pool), [], 'A committed nothing after it lost the claim');
    await waitFor(async () => a.lines.some((l) => /JOB_LOST|Connection terminated|terminating connection|could not release/.test(l)), 'A noticed it lost the claim', 10_000);
    a.kill('SIGTERM');
    b.kill('SIGTERM');
    await Promise.all([a.exited, b.exited]);
  });
});
