import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { retryAfterMsOf } from '../../src/providers/google/google.js';
import { GMAIL_USER_PACE, GMAIL_USER_UNITS_PER_S, QuotaPacer, quotaWait } from '../../src/providers/google/quota.js';
import { newReceiptMail } from '../../src/providers/google/seed.js';
import type { GoogleSimulator } from '../../src/providers/google/simulator.js';
import { isReceiptsModule } from '../../src/receipts/module.js';
import { unavailableWaitMs } from '../../src/receipts/sync-gmail.job.js';
import { createTenant, startTestEnv, waitForJob, type Tenant, type TestEnv } from '../helpers/harness.js';

/**
 * Issue 17, "Gmail 429 and 5xx back off and retry; quota per user respected": the pace of Gmail
 * calls per mailbox and the wait after Gmail's 429 / 5xx as pure functions, then a sync of a
 * large mailbox through the simulator, which counts the quota units each mailbox spends.
 */

/** The most units spent in any one-second window of `calls` ({at, units}, in time order). */
function peak(calls: Array<{ at: number; units: number }>): number {
  let best = 0;
  for (const c of calls) best = Math.max(best, calls.filter((d) => d.at > c.at - 1000 && d.at <= c.at).reduce((n, d) => n + d.units, 0));
  return best;
}

describe('pacing and backoff (pure)', () => {
  test('quotaWait: a small burst, then 200 units/s; at most 225 units sent in any second (Gmail allows 250)', () => {
    const empty = { units: GMAIL_USER_PACE.burst, atMs: 0 };
    assert.deepEqual(quotaWait(empty, 5, 0, GMAIL_USER_PACE), { waitMs: 0, bucket: { units: GMAIL_USER_PACE.burst - 5, atMs: 0 } });
    assert.equal(quotaWait({ units: 0, atMs: 0 }, 5, 0, GMAIL_USER_PACE).waitMs, 25, '5 units at 200/s');
    assert.equal(quotaWait({ units: -20, atMs: 0 }, 5, 0, GMAIL_USER_PACE).waitMs, 125, 'behind the calls already waiting');
    assert.equal(quotaWait({ units: 0, atMs: 0 }, 5, 10_000, GMAIL_USER_PACE).bucket.units, GMAIL_USER_PACE.burst - 5, 'the bucket never holds more than the burst');

    // 600 calls asked at once by 5 concurrent readers, run on a fake clock.
    let clock = 0;
    const calls: Array<{ at: number; units: number }> = [];
    const pacer = new QuotaPacer(GMAIL_USER_PACE, () => clock, async (ms) => {
      clock = Math.max(clock, ms + clock);
    });
    return (async () => {
      for (let i = 0; i < 600; i++) {
        const units = i % 50 === 0 ? 5 : i % 7 === 0 ? 2 : 5;
        await pacer.take(units);
        calls.push({ at: clock, units });
      }
      const spent = calls.reduce((n, c) => n + c.units, 0);
      assert.ok(peak(calls) <= GMAIL_USER_PACE.burst + GMAIL_USER_PACE.ratePerS, `peak ${peak(calls)} units/s`);
      assert.ok(peak(calls) < GMAIL_USER_UNITS_PER_S);
      const seconds = (calls.at(-1)?.at ?? 0) / 1000;
      assert.ok(spent / seconds <= GMAIL_USER_PACE.ratePerS * 1.05 && spent / seconds >= GMAIL_USER_PACE.ratePerS * 0.9, `${spent / seconds} units/s sustained`);
    })();
  });

  test('after Gmail\'s 429 / 5xx: its Retry-After, never less than exponential backoff', () => {
    assert.equal(unavailableWaitMs(1, 30_000, () => 0.5), 30_000);
    assert.equal(unavailableWaitMs(1, null, () => 1), 1_000);
    assert.equal(unavailableWaitMs(4, 1_000, () => 1), 8_000, 'a short Retry-After does not shorten the backoff');
    assert.equal(unavailableWaitMs(20, null, () => 1), 60_000, 'capped');
  });

  test('Retry-After is read from fetch Headers (gaxios 7) and plain objects, as seconds or a date', () => {
    const now = Date.parse('2026-12-03T08:00:00Z');
    assert.equal(retryAfterMsOf({ response: { headers: new Headers({ 'retry-after': '7' }) } }, now), 7_000);
    assert.equal(retryAfterMsOf({ response: { headers: { 'retry-after': 'Thu, 03 Dec 2026 08:00:30 GMT' } } }, now), 30_000);
    assert.equal(retryAfterMsOf({ response: { headers: new Headers() } }, now), null);
    assert.equal(retryAfterMsOf(new Error('no response'), now), null);
  });
});

describe('a sync against the simulator', () => {
  let env: TestEnv;
  let t: Tenant;
  let sim: GoogleSimulator;

  before(async () => {
    env = await startTestEnv({ env: { GMAIL_SYNC_EVERY_MS: '3600000', GATE_DEDUP_WINDOW_S: '0' } });
    const s = env.modules.find(isReceiptsModule)?.simulator();
    assert.ok(s);
    sim = s;
    t = await createTenant(env);
    await env.pool.query(`UPDATE businesses SET rate_limits = '{"sync_gmail_receipts":1000}'::jsonb WHERE id = $1`, [t.businessId]);
    const started = await env.app.inject({ method: 'POST', url: '/api/v1/integrations/gmail/connect', headers: t.headers });
    const google = await fetch((started.json() as { auth_url: string }).auth_url, { redirect: 'manual' });
    const back = new URL(google.headers.get('location') ?? '');
    assert.equal((await env.app.inject({ method: 'GET', url: `${back.pathname}${back.search}` })).statusCode, 200);
  });
  after(() => env.close());

  async function sync() {
    const res = await env.app.inject({ method: 'POST', url: '/api/v1/receipts/sync', headers: t.headers });
    assert.equal(res.statusCode, 202, res.body);
    return waitForJob(env, (res.json() as { job_id: number }).job_id, (j) => ['completed', 'failed', 'cancelled'].includes(j.status), 15_000);
  }

  test('a mailbox of 80 receipts: read at Gmail\'s per-user pace, never above 250 units in a second', async () => {
    for (let i = 0; i < 74; i++) sim.addMessage(newReceiptMail(new Date(Date.now() - i * 3_600_000), i + 10));
    const job = await sync();
    assert.equal(job.status, 'completed', JSON.stringify(job));
    assert.equal(job.result?.imported, 80);
    const spent = sim.peakUnits();
    assert.ok(spent <= 250, `the mailbox spent ${spent} units in one second`);
    assert.ok(spent >= 150, `${spent} units in the busiest second: paced, not crawling`);
  });

  test('Gmail\'s 429 with Retry-After 2: the next call waits for it, then the sync completes', async () => {
    sim.addMessage(newReceiptMail(new Date(), 1));
    sim.failNext([429], 0, 2);
    const before = sim.requestTimes().length;
    const job = await sync();
    assert.equal(job.status, 'completed', JSON.stringify(job));
    assert.equal(job.result?.imported, 1);
    const times = sim.requestTimes().slice(before);
    const refused = times.findIndex((r) => r.failed === 429);
    assert.ok(refused >= 0, JSON.stringify(times));
    const next = times[refused + 1];
    assert.ok(next, 'the sync asked again');
    assert.ok(next.at - (times[refused]?.at ?? 0) >= 1_950, `asked again after ${next.at - (times[refused]?.at ?? 0)} ms`);
    const status = await env.app.inject({ method: 'GET', url: '/api/v1/integrations/gmail', headers: t.headers });
    assert.equal((status.json() as { last_error: unknown }).last_error, null, 'the error went with the sync that completed');
  });
});
