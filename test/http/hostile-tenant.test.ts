/**
 * Issue 12, point 1, the short version of bench/hostile-tenant.ts: business B loops on the most
 * expensive requests the API refuses anyway while business A reads its leads. The API is a real
 * `bulkhead api` process at the production request budget. Before the fix a single refused
 * broadcast held the event loop for 2.5-5 s and A's p99 went from ~9 ms to ~5.5 s.
 */
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import pg from 'pg';
import { createTestDatabase, type TestDatabase } from '../helpers/db.js';
import { cpuMs, createBusiness, measureReads, startApiChild, startHostileLoad, type Business, type HostileApi } from '../helpers/hostile.js';

const WINDOW_MS = 5_000;

let db: TestDatabase;
let api: HostileApi;
let a: Business;
let b: Business;

/** The largest event-loop delay of the API process since the previous call (prom-client resets it on every scrape). */
async function maxLoopLagMs(): Promise<number> {
  const text = await (await fetch(`${api.baseUrl}/metrics`)).text();
  const value = /^nodejs_eventloop_lag_max_seconds (\S+)$/m.exec(text)?.[1];
  assert.ok(value !== undefined, 'the API reports nodejs_eventloop_lag_max_seconds');
  return Number(value) * 1000;
}

before(async () => {
  db = await createTestDatabase();
  api = await startApiChild(db.url, { API_RATE_PER_S: '50', API_RATE_BURST: '200' });
  a = await createBusiness(api.baseUrl, 'A');
  b = await createBusiness(api.baseUrl, 'B');
  const client = new pg.Client(db.url);
  await client.connect();
  await client.query(`INSERT INTO leads (business_id, phone, name) SELECT $1, '+1555' || lpad(g::text, 7, '0'), 'Lead ' || g FROM generate_series(1, 200) g`, [a.id]);
  await client.end();
});

after(async () => {
  await api?.stop();
  await db?.drop();
});

test("B's refused requests neither stall the process nor cost it much", async (t) => {
  await measureReads(api.baseUrl, a.token, 500); // warm-up
  const cpu0 = await cpuMs(api.child.pid);
  const unloaded = await measureReads(api.baseUrl, a.token, WINDOW_MS);
  const cpu1 = await cpuMs(api.child.pid);
  await maxLoopLagMs();

  const load = await startHostileLoad(api.baseUrl, b.token, { connections: 3 });
  const cpu2 = await cpuMs(api.child.pid);
  const attacked = await measureReads(api.baseUrl, a.token, WINDOW_MS);
  const cpu3 = await cpuMs(api.child.pid);
  await load.stop();
  const lagMs = await maxLoopLagMs();

  // What B's requests cost the API process, as a share of one core over the window: its CPU
  // time beyond what the same window of A's reads costs alone. CPU time, not latency, is what
  // this test judges: it runs beside the other test files, whose load would make any latency
  // bound either flaky or too loose to fail (the latency target itself is the benchmark's,
  // bench/hostile-tenant.ts, measured alone). Before the fix B kept the process busy without a
  // break (2.5-6 s of event loop per request).
  const extraCpuShare = (cpu3 - cpu2 - (cpu1 - cpu0)) / WINDOW_MS;
  const report = JSON.stringify({ unloaded, attacked, lagMs, extraCpuShare, b: Object.fromEntries([...load.statuses].map(([k, v]) => [k, Object.fromEntries(v)])) });
  t.diagnostic(report);
  assert.equal(attacked.errors, 0, `A's reads all succeed: ${report}`);
  assert.ok(extraCpuShare < 0.35, `B's refused requests cost the API less than a third of a core: ${report}`);
  // No single stall near what one such request cost before (2.5 s and more), even on a loaded machine.
  assert.ok(lagMs < 1_500, `the API's event loop never stopped for long: ${report}`);
  const refusedByBudget = [...load.statuses.values()].reduce((n, byStatus) => n + (byStatus.get(429) ?? 0), 0);
  assert.ok(refusedByBudget > 0, `B ran out of request budget and got 429s: ${report}`);
});
