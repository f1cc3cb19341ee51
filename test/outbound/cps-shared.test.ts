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
  // One connection per reservation, opened beforehand: a window then spans a round trip only.
  pools = [createPool(db.url, { max: 8 }, log), createPool(db.url, { max: 8 }, log)];
  await migrate(pools[0] as pg.Pool, log);
  await Promise.all(pools.flatMap((p) => Array.from({ length: 8 }, () => p.query('SELECT pg_sleep(0.05)'))));
});

after(async () => {
  await Promise.all(pools.map((p) => p.end()));
  await db.drop();
});

test('CPS is shared: reservations from two processes never overlap', async () => {
  const cps = 5;
  const interval = 1000 / cps;
  const calls = 16;
  const limiters = pools.map((p) => createCpsLimiter(p, cps));
  // A reservation's instant is its delay from the moment the statement ran, a moment somewhere
  // between sending it and reading its answer: each instant is known only as that window shifted
  // by the delay. The checks hold for any instants inside the windows, however long the round
  // trips of a loaded machine; a per-process budget (both processes handing out the same
  // instants) fails them by a whole interval.
  const windows: Array<{ lo: number; hi: number }> = [];
  await Promise.all(
    Array.from({ length: calls }, async (_, i) => {
      const limiter = limiters[i % 2];
      assert.ok(limiter);
      const sent = performance.now();
      const [delay = 0] = await limiter.reserve(1);
      windows.push({ lo: sent + delay, hi: performance.now() + delay });
    }),
  );
  const slack = 1; // ms: the statement reads clock_timestamp() twice, microseconds apart
  // Any two reservations are at least one interval apart: their windows allow it.
  for (const [i, a] of windows.entries()) {
    for (const b of windows.slice(i + 1)) {
      const widest = Math.max(a.hi, b.hi) - Math.min(a.lo, b.lo);
      assert.ok(widest >= interval - slack, `two reservations within ${widest.toFixed(1)} ms of each other (budget ${interval} ms apart)`);
    }
  }
  // And all of them are spread over (calls - 1) intervals, not half of that.
  const span = Math.max(...windows.map((w) => w.hi)) - Math.min(...windows.map((w) => w.lo));
  assert.ok(span >= (calls - 1) * interval - slack, `${calls} calls within ${span.toFixed(0)} ms (at least ${(calls - 1) * interval} ms)`);
});
