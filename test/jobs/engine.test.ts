import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { createLogger } from '../../src/lib/logger.js';
import { loadConfig } from '../../src/config/config.js';
import { HandlerRegistry } from '../../src/jobs/registry.js';
import { Worker } from '../../src/jobs/worker.js';
import { pauseJob, resumeJob, cancelJob } from '../../src/jobs/jobs.repo.js';
import { TEST_ENV, waitFor, waitForJob } from '../helpers/harness.js';
import { duplicateBatches, insertProbeJob, probeHandler, openProbeDatabase, type ProbeDatabase } from '../fixtures/probe.js';
import type pg from 'pg';

const log = createLogger('silent');
let probe: ProbeDatabase;
let pool: pg.Pool;
let businessId: number;
const workers: Worker[] = [];

async function startWorker(env: Record<string, string> = {}): Promise<Worker> {
  const config = loadConfig({ ...TEST_ENV, ...env, DATABASE_URL: probe.url });
  const w = new Worker({ pool, databaseUrl: probe.url, registry: new HandlerRegistry().register(probeHandler), config: config.worker, log });
  await w.start();
  workers.push(w);
  return w;
}

async function stopAll(): Promise<void> {
  await Promise.all(workers.splice(0).map((w) => w.stop()));
}

before(async () => {
  probe = await openProbeDatabase(20);
  ({ pool, businessId } = probe);
});

after(async () => {
  await stopAll();
  await probe.close();
});

describe('job engine (in-process workers)', () => {
  test('two workers share 30 jobs: every batch runs exactly once, every job completes', async () => {
    await startWorker({ WORKER_CONCURRENCY: '3' });
    await startWorker({ WORKER_CONCURRENCY: '3' });
    const jobs = await Promise.all(Array.from({ length: 30 }, () => insertProbeJob(pool, businessId, { batches: 5 })));
    for (const j of jobs) {
      const done = await waitForJob({ pool }, j.id, 'completed');
      assert.equal(done.processed, 5);
    }
    assert.deepEqual(await duplicateBatches(pool), []);
    const { rows } = await pool.query<{ n: number }>(`SELECT count(*)::int AS n FROM probe_log WHERE job_id = ANY($1)`, [jobs.map((j) => j.id)]);
    assert.equal(rows[0]?.n, 150);
    const { rows: byWorker } = await pool.query<{ n: number }>(
      `SELECT count(DISTINCT worker)::int AS n FROM probe_log WHERE job_id = ANY($1)`,
      [jobs.map((j) => j.id)],
    );
    assert.equal(byWorker[0]?.n, 2, 'both workers took part');
    await stopAll();
  });

  test('a NOTIFY wakes an idle worker long before its poll interval', async () => {
    await startWorker({ WORKER_POLL_MS: '60000' });
    const started = Date.now();
    const job = await insertProbeJob(pool, businessId, { batches: 1 });
    await waitForJob({ pool }, job.id, 'completed', 5_000);
    assert.ok(Date.now() - started < 5_000);
    await stopAll();
  });

  test('higher priority is claimed first', async () => {
    const low = await insertProbeJob(pool, businessId, { batches: 1 }, { priority: 0 });
    const high = await insertProbeJob(pool, businessId, { batches: 1 }, { priority: 10 });
    await startWorker({ WORKER_CONCURRENCY: '1' });
    await waitForJob({ pool }, low.id, 'completed');
    const { rows } = await pool.query<{ job_id: number }>(`SELECT job_id FROM probe_log WHERE job_id = ANY($1) ORDER BY at`, [[low.id, high.id]]);
    assert.deepEqual(rows.map((r) => r.job_id), [high.id, low.id]);
    await stopAll();
  });

  test('pause stops at a batch boundary, resume continues from the checkpoint, nothing runs twice', async () => {
    await startWorker();
    const job = await insertProbeJob(pool, businessId, { batches: 40, sleepMs: 20 });
    await waitForJob({ pool }, job.id, (j) => j.processed >= 3);
    assert.ok(await pauseJob(pool, businessId, job.id));
    // The worker lets go at its next boundary: paused and unlocked, progress frozen.
    await waitFor(async () => (await pool.query(`SELECT 1 FROM jobs WHERE id = $1 AND status = 'paused' AND locked_by IS NULL`, [job.id])).rowCount, 'paused job let go');
    const frozen = (await waitForJob({ pool }, job.id, 'paused')).processed;
    await new Promise((r) => setTimeout(r, 150));
    assert.equal((await waitForJob({ pool }, job.id, 'paused')).processed, frozen, 'no batch while paused');
    assert.ok(await resumeJob(pool, businessId, job.id));
    const done = await waitForJob({ pool }, job.id, 'completed');
    assert.equal(done.processed, 40);
    assert.deepEqual(await duplicateBatches(pool), []);
    await stopAll();
  });

  test('cancel of a running job ends it at the next boundary and keeps what it did', async () => {
    await startWorker();
    const job = await insertProbeJob(pool, businessId, { batches: 1000, sleepMs: 10 });
    await waitForJob({ pool }, job.id, (j) => j.processed >= 2);
    const requested = await cancelJob(pool, businessId, job.id);
    assert.equal(requested?.cancel_requested, true);
    const done = await waitForJob({ pool }, job.id, 'cancelled');
    assert.ok(done.processed >= 2 && done.processed < 1000);
    const { rows } = await pool.query<{ n: number }>(`SELECT count(*)::int AS n FROM probe_log WHERE job_id = $1`, [job.id]);
    assert.equal(rows[0]?.n, done.processed, 'reported progress equals the batches that committed');
    assert.equal(await cancelJob(pool, businessId, job.id), null, 'a cancelled job cannot be cancelled again');
    await stopAll();
  });

  test('a failing batch is retried with backoff and the job completes once it succeeds', async () => {
    await startWorker({ JOB_RETRY_BASE_MS: '20' });
    const job = await insertProbeJob(pool, businessId, { batches: 2, failTimes: 2 });
    const done = await waitForJob({ pool }, job.id, 'completed');
    assert.equal(done.processed, 2);
    const { rows } = await pool.query<{ n: number }>(`SELECT count(*)::int AS n FROM probe_log WHERE job_id = $1`, [job.id]);
    assert.equal(rows[0]?.n, 2, 'failed batches rolled back their writes');
    await stopAll();
  });

  test('too many consecutive failures fail the job; a PermanentError fails it at once', async () => {
    await startWorker({ JOB_RETRY_BASE_MS: '10', JOB_MAX_CONSECUTIVE_FAILURES: '3' });
    const flaky = await insertProbeJob(pool, businessId, { batches: 2, failTimes: 100 });
    const permanent = await insertProbeJob(pool, businessId, { batches: 2, permanent: true });
    const f = await waitForJob({ pool }, flaky.id, 'failed');
    // Not a domain error: the client reads a sentence with an error id, never the raw text.
    assert.match(f.last_error ?? '', /error id [0-9a-f]{12}/);
    assert.doesNotMatch(f.last_error ?? '', /probe: failure/);
    const p = await waitForJob({ pool }, permanent.id, 'failed');
    assert.match(p.last_error ?? '', /permanent/);
    const { rows } = await pool.query<{ attempts: number }>(`SELECT attempts FROM jobs WHERE id = $1`, [permanent.id]);
    assert.equal(rows[0]?.attempts, 1);
    await stopAll();
  });

  test('a runtime slice hands the job back and it continues by itself from its checkpoint', async () => {
    await startWorker({ JOB_RUNTIME_SLICE_MS: '60' });
    const job = await insertProbeJob(pool, businessId, { batches: 30, sleepMs: 10 });
    const done = await waitForJob({ pool }, job.id, 'completed');
    assert.equal(done.processed, 30);
    const { rows } = await pool.query<{ attempts: number }>(`SELECT attempts FROM jobs WHERE id = $1`, [job.id]);
    assert.ok((rows[0]?.attempts ?? 0) > 1, 'the job was sliced into several claims');
    assert.deepEqual(await duplicateBatches(pool), []);
    await stopAll();
  });

  test('the active lock is released by the UPDATE that ends the job: completed, failed and cancelled', async () => {
    for (const params of [{ batches: 1 }, { batches: 1, permanent: true }]) {
      const j = await insertProbeJob(pool, businessId, params, { lockKey: 'probe-lock' });
      // No worker yet: a running one can end this one-batch job before the second insert, and the
      // insert would rightly succeed (seen at TEST_CONCURRENCY=3).
      await assert.rejects(insertProbeJob(pool, businessId, params, { lockKey: 'probe-lock' }), /jobs_active_lock/);
      await startWorker({ JOB_RETRY_BASE_MS: '10' });
      await waitForJob({ pool }, j.id, (x) => x.status === 'completed' || x.status === 'failed');
      await stopAll();
    }
    const queued = await insertProbeJob(pool, businessId, { batches: 1 }, { lockKey: 'probe-lock' });
    await cancelJob(pool, businessId, queued.id);
    const again = await insertProbeJob(pool, businessId, { batches: 1 }, { lockKey: 'probe-lock' });
    assert.ok(again.id > queued.id, 'lock free after cancel');
    await cancelJob(pool, businessId, again.id);
  });

  test('a stale worker\'s late commit is rejected by the fence (in-process)', async () => {
    // Worker A claims a long job, then its heartbeats are made stale by hand (as if it froze).
    const a = await startWorker({ WORKER_HEARTBEAT_MS: '60000', WORKER_STALE_MS: '60000' });
    const job = await insertProbeJob(pool, businessId, { batches: 200, sleepMs: 15 });
    await waitForJob({ pool }, job.id, (j) => j.processed >= 2);
    await pool.query(`UPDATE workers SET heartbeat_at = now() - interval '1 hour' WHERE id = $1`, [a.id]);
    // Worker B's rescuer re-queues the job and B takes it over with a new attempt number.
    await startWorker({ WORKER_HEARTBEAT_MS: '50', WORKER_STALE_MS: '1000' });
    const done = await waitForJob({ pool }, job.id, 'completed');
    assert.equal(done.processed, 200);
    assert.deepEqual(await duplicateBatches(pool), [], 'A never committed after losing its claim');
    const { rows } = await pool.query<{ n: number }>(`SELECT count(DISTINCT worker)::int AS n FROM probe_log WHERE job_id = $1`, [job.id]);
    assert.equal(rows[0]?.n, 2);
    await stopAll();
  });
});
