import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { z } from 'zod';
import { loadConfig } from '../../src/config/config.js';
import { BatchSizer, pauseBetweenBatches } from '../../src/jobs/batch-pacing.js';
import { insertJob } from '../../src/jobs/jobs.repo.js';
import { HandlerRegistry } from '../../src/jobs/registry.js';
import { defineJob } from '../../src/jobs/types.js';
import { Worker, type BatchReport } from '../../src/jobs/worker.js';
import { TEST_ENV, waitForJob } from '../helpers/harness.js';
import { createLogger } from '../../src/lib/logger.js';
import { openProbeDatabase, type ProbeDatabase } from '../fixtures/probe.js';
import type pg from 'pg';

const CFG = { targetMs: 200, minSize: 10, maxSize: 10_000 };

describe('BatchSizer (pure)', () => {
  test('converges on the size that takes the target duration, moving at most ×2 per batch', () => {
    const s = new BatchSizer(CFG, 50);
    const sizes = [s.size];
    // A steady table: 1 ms per row, so 200 rows take the 200 ms target.
    for (let i = 0; i < 8; i++) {
      s.observe(s.size, s.size * 1);
      sizes.push(s.size);
    }
    assert.deepEqual(sizes.slice(0, 3), [50, 100, 200]);
    assert.equal(s.size, 200);
  });

  test('shrinks when batches get slow, never below the floor or above the ceiling', () => {
    const s = new BatchSizer(CFG, 1000);
    s.observe(1000, 4000); // 4 ms per row: 50 rows per 200 ms, but at most ÷2 per batch
    assert.equal(s.size, 500);
    for (let i = 0; i < 10; i++) s.observe(s.size, s.size * 100);
    assert.equal(s.size, 10, 'the floor');
    const fast = new BatchSizer(CFG, 50);
    for (let i = 0; i < 20; i++) fast.observe(fast.size, 1);
    assert.equal(fast.size, 10_000, 'the ceiling');
  });

  test('one slow batch does not halve the next (moving average), an empty batch teaches nothing', () => {
    const s = new BatchSizer(CFG, 200);
    for (let i = 0; i < 5; i++) s.observe(200, 200);
    s.observe(200, 600); // a checkpoint, a cold cache
    assert.ok(s.size > 100, `size after one slow batch: ${s.size}`);
    const before = s.size;
    s.observe(0, 5000);
    assert.equal(s.size, before);
  });
});

describe('pauseBetweenBatches (pure)', () => {
  const sleeps: number[] = [];
  const sleep = async (ms: number) => {
    sleeps.push(ms);
  };

  test('JOB_BATCH_PAUSE_MS set: always that pause, whatever the load', async () => {
    sleeps.length = 0;
    assert.equal(await pauseBetweenBatches({ fixedPauseMs: 200, pressureActive: 8, maxPauseMs: 1000 }, { active: async () => 0 }, sleep), 200);
    assert.deepEqual(sleeps, [200]);
  });

  test('unset: no pause while the database is quiet; waits while it is busy, at most maxPauseMs', async () => {
    sleeps.length = 0;
    const cfg = { fixedPauseMs: null, pressureActive: 8, maxPauseMs: 1000 };
    assert.equal(await pauseBetweenBatches(cfg, { active: async () => 8 }, sleep), 0);
    const load = [20, 12, 9, 3];
    assert.equal(await pauseBetweenBatches(cfg, { active: async () => load.shift() ?? 0 }, sleep), 150, 'three steps until the load fell');
    assert.equal(await pauseBetweenBatches(cfg, { active: async () => 50 }, sleep), 1000, 'bounded: the job always moves');
  });
});

/**
 * A job over a steady "table": every row costs 1 ms in PostgreSQL (pg_sleep), whatever the
 * machine, so the size that meets the target is known (200 rows for 200 ms) and the test is on
 * batch durations, not on machine speed.
 */
const steadyJob = defineJob({
  type: 'steady',
  params: z.object({ rows: z.number().int().positive(), msPerRow: z.number().positive() }),
  batch: async ({ tx, params, checkpoint, batchSize }) => {
    const done = typeof checkpoint === 'number' ? checkpoint : 0;
    const n = Math.min(batchSize, params.rows - done);
    await tx.query('SELECT pg_sleep($1)', [(n * params.msPerRow) / 1000]);
    return { processed: n, succeeded: n, failed: 0, checkpoint: done + n, done: done + n >= params.rows };
  },
});

describe('adaptive batches in the worker', () => {
  let probe: ProbeDatabase;
  let pool: pg.Pool;
  let businessId: number;
  const log = createLogger('silent');

  before(async () => {
    probe = await openProbeDatabase(5);
    ({ pool, businessId } = probe);
  });

  after(async () => {
    await probe.close();
  });

  /** Runs one steady job to completion in a worker configured from `env`; the batches it ran. */
  async function runSteady(env: Record<string, string>, params: { rows: number; msPerRow: number }): Promise<BatchReport[]> {
    const config = loadConfig({ ...TEST_ENV, ...env, DATABASE_URL: probe.url });
    const reports: BatchReport[] = [];
    const worker = new Worker({
      pool, databaseUrl: probe.url, registry: new HandlerRegistry().register(steadyJob), config: config.worker, log, onBatch: (b) => reports.push(b),
    });
    await worker.start();
    try {
      const job = await insertJob(pool, {
        businessId, type: 'steady', queue: 'default', priority: 0, params,
        paramsHash: `steady-${Math.random()}`, lockKey: null, total: params.rows, createdBy: null,
      });
      assert.equal((await waitForJob({ pool }, job.id, 'completed', 60_000)).processed, params.rows);
    } finally {
      await worker.stop();
    }
    return reports;
  }

  test('with JOB_BATCH_SIZE unset, batches settle within the target ±50 % on a steady table', async () => {
    const reports = await runSteady({ JOB_BATCH_SIZE: '', JOB_BATCH_PAUSE_MS: '', JOB_BATCH_TARGET_MS: '200' }, { rows: 5_000, msPerRow: 1 });
    const settled = reports.slice(4, -1); // after the ramp-up from 50, without the short last batch
    assert.ok(settled.length >= 10, `${reports.length} batches: ${reports.map((r) => r.size).join(' ')}`);
    const within = settled.filter((r) => r.ms >= 100 && r.ms <= 300);
    const durations = settled.map((r) => Math.round(r.ms)).join(' ');
    assert.ok(within.length >= Math.ceil(settled.length * 0.8), `batch ms: ${durations}`);
    const sorted = settled.map((r) => r.ms).sort((a, b) => a - b);
    const median = sorted[Math.floor(sorted.length / 2)] ?? 0;
    assert.ok(median >= 150 && median <= 250, `median ${Math.round(median)} ms; batch ms: ${durations}`);
  });

  test('JOB_BATCH_SIZE set: every batch is that size (the fixed override)', async () => {
    const reports = await runSteady({ JOB_BATCH_SIZE: '70' }, { rows: 350, msPerRow: 0.1 });
    assert.deepEqual(reports.map((r) => r.size), [70, 70, 70, 70, 70]);
});
});
