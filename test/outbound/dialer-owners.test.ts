import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { createDialer, type Dialer } from '../../src/outbound/dialer.js';
import { createTenant, waitFor } from '../helpers/harness.js';
import { makeLeads, startOutboundEnv, startRun, type OutboundEnv } from './helpers.js';

/**
 * Two listening dialers (as in two worker processes: each its own LISTEN session) and no job
 * worker, so every dial follows a NOTIFY — a run's creation, then each call's end. Each dialer
 * dials from its own number, so the calls table says which dialer acted. Both hear every NOTIFY;
 * only the business's owner may act on it (slots.ts, notifyOwner). Without that rule both race
 * for every refill and a business's calls come from both numbers.
 */
let env: OutboundEnv;
const dialers: Dialer[] = [];
const FROM = ['+15005550101', '+15005550102'];

before(async () => {
  env = await startOutboundEnv({ SIM_CALL_MS: '40' }, { worker: false });
  for (const from of FROM) {
    const d = createDialer({
      pool: env.pool,
      databaseUrl: env.url,
      provider: env.outbound.dialer.provider,
      config: env.config.dialer,
      cps: env.config.twilio.cps,
      from,
      log: env.log,
      publicBaseUrl: () => env.baseUrl,
    });
    await d.start({ listen: true });
    dialers.push(d);
  }
  // Until each dialer has seen the other (it looks every 2 s), the first one started owns every
  // business: a membership change is a short window where two dialers may both act (harmless,
  // the slot lock separates them), not what this test is about.
  await waitFor(async () => dialers.every((d) => d.peers.length === FROM.length), 'both dialers see each other');
});

after(async () => {
  for (const d of dialers) await d.stop();
  await env.close();
});

test('each NOTIFY is acted on by one dialer: a business is dialled by its owner only, and the businesses are split between the dialers', async () => {
  const businesses: number[] = [];
  for (let i = 0; i < 12; i++) {
    // One slot: the run's 4 calls follow one another, each refill after a call's end NOTIFY.
    const t = await createTenant(env, { max_outbound_calls: 1 });
    businesses.push(t.businessId);
    await startRun(env, t, (await makeLeads(env, t, 4)).map((l) => l.id));
  }
  await waitFor(async () => {
    const { rows } = await env.pool.query<{ n: number }>(
      `SELECT count(*)::int AS n FROM run_items WHERE business_id = ANY($1::bigint[]) AND status = 'completed'`,
      [businesses],
    );
    return rows[0]?.n === businesses.length * 4;
  }, 'every run item completed');
  const { rows } = await env.pool.query<{ business_id: number; froms: string[]; n: number }>(
    `SELECT business_id, array_agg(DISTINCT from_number ORDER BY from_number) AS froms, count(*)::int AS n
       FROM calls WHERE business_id = ANY($1::bigint[]) GROUP BY business_id ORDER BY business_id`,
    [businesses],
  );
  assert.equal(rows.length, businesses.length);
  for (const r of rows) {
    assert.equal(r.n, 4, `business ${r.business_id}: one call per lead`);
    assert.equal(r.froms.length, 1, `business ${r.business_id} was dialled by ${r.froms.join(' and ')}`);
  }
  const used = new Set(rows.map((r) => r.froms[0]));
  assert.deepEqual([...used].sort(), FROM, 'both dialers own some of the businesses');
});
