import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import pg from 'pg';
import { migrate } from '../../src/db/migrate.js';
import { createPool } from '../../src/db/pool.js';
import { createLogger } from '../../src/lib/logger.js';
import { createCpsLimiter } from '../../src/outbound/cps.js';
import { createTestDatabase, type TestDatabase } from '../helpers/db.js';

/**
 * TWILIO_CPS is one budget for the account, whatever the number of processes: two limiters on
 * two pools (two worker processes) reserving at the same time must hand out start instants at
 * least 1/cps apart from each other — a per-process limiter would give both the same instants.
 */
const log = createLogger('silent');
let db: TestDatabase;
let pools: pg.Pool[] = [];

before(async () => {
  db = await createTestDatabase();
  pools = [createPool(db.url, { max: 4 }, log), createPool(db.url, { max: 4 }, log)];
  await migrate(pools[0] as pg.Pool, log);
});

after(async () => {
  await Promise.all(pools.map((p) => p.end()));
  await db.drop();
});

test('CPS is shared: reservations from two processes never overlap', async () => {
  // A long interval against the jitter of taking each instant on the query's return (the machine
  // may be loaded): a per-process budget would give both processes the same instants (gap ≈ 0).
  const cps = 5;
  const interval = 1000 / cps;
  const calls = 16;
  const limiters = pools.map((p) => createCpsLimiter(p, cps));
  const instants: number[] = [];
  await Promise.all(
    Array.from({ length: calls }, async (_, i) => {
      const limiter = limiters[i % 2];
      assert.ok(limiter);
      const [delay] = await limiter.reserve(1);
      instants.push(performance.now() + (delay ?? 0));
    }),
  );
  instants.sort((a, b) => a - b);
  const gaps = instants.slice(1).map((t, i) => t - (instants[i] ?? t));
  // Each instant is taken on return of its query, so it carries that round trip's jitter.
  assert.ok(Math.min(...gaps) >= interval / 2, `closest starts ${Math.min(...gaps).toFixed(1)} ms apart (budget ${interval} ms)`);
  const span = (instants.at(-1) ?? 0) - (instants[0] ?? 0);
  assert.ok(span >= (calls - 1) * interval - interval / 2, `${calls} calls span ${span.toFixed(0)} ms ≥ ${(calls - 1) * interval} ms`);
});
