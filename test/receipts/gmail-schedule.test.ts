import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { isReceiptsModule, type ReceiptsModule } from '../../src/receipts/module.js';
import { isMissedTurn, nextSyncAt, syncPhaseMs } from '../../src/receipts/sync-schedule.js';
import { createTenant, startTestEnv, type TestEnv } from '../helpers/harness.js';

/**
 * Issue 17, "every GMAIL_SYNC_EVERY_MS for each connected business (spread out, not all at
 * once)": the schedule as pure functions, then the scheduler's pass over the database (no worker
 * here: the queued jobs stay queued to be counted).
 */

const PERIOD = 900_000;

describe('the periodic sync schedule (pure)', () => {
  test('consecutive business ids are spread nearly evenly over the period', () => {
    for (const n of [10, 100, 1000]) {
      const phases = Array.from({ length: n }, (_, i) => syncPhaseMs(i + 1, PERIOD)).sort((a, b) => a - b);
      assert.ok(phases.every((p) => p >= 0 && p < PERIOD));
      const gaps = phases.map((p, i) => (i === 0 ? p + PERIOD - (phases[n - 1] ?? 0) : p - (phases[i - 1] ?? 0)));
      const even = PERIOD / n;
      // Fibonacci hashing: gaps of at most three sizes, the largest below φ² × the even gap.
      assert.ok(Math.max(...gaps) < 2.7 * even, `n=${n}: largest gap ${Math.max(...gaps)} ms, even ${even} ms`);
      assert.ok(Math.min(...gaps) > 0.3 * even, `n=${n}: smallest gap ${Math.min(...gaps)} ms, even ${even} ms`);
      // At most a handful of businesses in any tenth of the period beyond their even share.
      for (let w = 0; w < 10; w++) {
        const inWindow = phases.filter((p) => p >= (w * PERIOD) / 10 && p < ((w + 1) * PERIOD) / 10).length;
        assert.ok(Math.abs(inWindow - n / 10) <= Math.max(2, n / 50), `n=${n}: ${inWindow} in window ${w}`);
      }
    }
    assert.equal(syncPhaseMs(42, PERIOD), syncPhaseMs(42, PERIOD), 'the same in every process');
  });

  test('the next turn is the business\'s phase point at least half a period away; periodic turns are one period apart', () => {
    const now = Date.parse('2026-12-03T08:00:00Z');
    for (const id of [1, 2, 3, 77, 123_456]) {
      const at = nextSyncAt(id, PERIOD, now).getTime();
      assert.ok(at >= now + PERIOD / 2 && at < now + 1.5 * PERIOD, `${id}: ${at - now} ms`);
      assert.equal(((at % PERIOD) + PERIOD) % PERIOD, syncPhaseMs(id, PERIOD));
      // A sync that ran at its turn and took 40 s: the next turn is exactly one period later.
      assert.equal(nextSyncAt(id, PERIOD, at + 40_000).getTime(), at + PERIOD);
      // Asked by hand just before its turn: the periodic one does not follow right behind.
      assert.equal(nextSyncAt(id, PERIOD, at - 1_000).getTime(), at + PERIOD);
    }
  });

  test('a turn is missed once it is later than the allowance', () => {
    assert.equal(isMissedTurn(1_000, 1_500, 1_000), false);
    assert.equal(isMissedTurn(1_000, 2_000, 1_000), false);
    assert.equal(isMissedTurn(1_000, 2_001, 1_000), true);
  });
});

describe('the scheduler over the database', () => {
  let env: TestEnv;
  let receipts: ReceiptsModule;
  before(async () => {
    env = await startTestEnv({ worker: false, env: { GMAIL_SYNC_EVERY_MS: String(PERIOD) } });
    const m = env.modules.find(isReceiptsModule);
    assert.ok(m);
    receipts = m;
  });
  after(() => env.close());

  test('due businesses get one job each and their own next turn; reauth_required and missed turns get none', async () => {
    const ids: number[] = [];
    for (let i = 0; i < 6; i++) ids.push((await createTenant(env)).businessId);
    const [a, b, c, d, reauth, missed] = ids as [number, number, number, number, number, number];
    const connect = (id: number, status: string, dueAgo: string) => env.pool.query(
      `INSERT INTO gmail_connections (business_id, email, refresh_token_sealed, status, next_sync_at)
       VALUES ($1, $2, 'v1.not-opened-here', $3, now() - $4::interval)`,
      [id, `owner${id}@example.com`, status, dueAgo],
    );
    for (const id of [a, b, c, d]) await connect(id, 'connected', '1 second');
    await connect(reauth, 'reauth_required', '1 second');
    // Due 2 hours ago: every worker was down; not caught up with the others.
    await connect(missed, 'connected', '2 hours');

    const before = Date.now();
    assert.equal(await receipts.syncDue(), 4);
    assert.equal(await receipts.syncDue(), 0, 'their turns moved on: nothing is due twice');
    const after = Date.now();

    const { rows: jobs } = await env.pool.query<{ business_id: number; params: Record<string, unknown>; created_by: number | null }>(
      `SELECT business_id::int, params, created_by FROM jobs WHERE type = 'sync_gmail_receipts' ORDER BY business_id`,
    );
    assert.deepEqual(jobs.map((j) => j.business_id), [a, b, c, d]);
    assert.ok(jobs.every((j) => j.params.periodic === true && j.created_by === null));

    const { rows } = await env.pool.query<{ business_id: number; next_sync_at: Date }>(
      `SELECT business_id::int, next_sync_at FROM gmail_connections ORDER BY business_id`,
    );
    const next = new Map(rows.map((r) => [r.business_id, r.next_sync_at.getTime()]));
    for (const id of [a, b, c, d, missed]) {
      const at = next.get(id) ?? 0;
      const expected = [nextSyncAt(id, PERIOD, before).getTime(), nextSyncAt(id, PERIOD, after).getTime()];
      assert.ok(expected.includes(at), `business ${id}: next turn at its own phase point`);
    }
    assert.equal(new Set([a, b, c, d].map((id) => next.get(id))).size, 4, 'four different turns, not one for all');
    assert.ok((next.get(reauth) ?? 0) < before, 'reauth_required: untouched, never due');
  });
});
