import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { createDialer } from '../../src/outbound/dialer.js';
import type { TelephonyProvider } from '../../src/providers/telephony/types.js';
import { createTenant, waitFor } from '../helpers/harness.js';
import { makeLeads, startOutboundEnv, type OutboundEnv } from './helpers.js';

let env: OutboundEnv;

before(async () => {
  env = await startOutboundEnv({}, { worker: false });
});

after(async () => {
  await env.close();
});

test('stop is bounded by its timeout when a dial never gets an answer, and idempotent', async () => {
  const unused = () => Promise.reject(new Error('not used'));
  const silent: TelephonyProvider = {
    createCall: () => new Promise(() => undefined),
    fetchCall: unused,
    findCalls: unused,
    endCall: unused,
    redirectCall: unused,
    findRecording: unused,
    downloadRecording: unused,
  };
  const dialer = createDialer({
    pool: env.pool,
    databaseUrl: env.url,
    provider: silent,
    config: env.config.dialer,
    cps: 1000,
    from: env.config.twilio.from,
    log: env.log,
    publicBaseUrl: () => env.baseUrl,
  });
  await dialer.start({ listen: true });
  await waitFor(async () => dialer.peers.length === 1, 'the dialer sees its own LISTEN session');
  const t = await createTenant(env);
  const [lead] = await makeLeads(env, t, 1);
  assert.ok(lead);
  void dialer.dialDirect(t.businessId, [lead]);
  await waitFor(async () => {
    const { rows } = await env.pool.query(`SELECT 1 FROM calls WHERE business_id = $1 AND status = 'dialing'`, [t.businessId]);
    return rows.length === 1;
  }, 'the direct call is claimed and being dialled');

  const started = performance.now();
  const first = dialer.stop({ timeoutMs: 300 });
  const second = dialer.stop({ timeoutMs: 60_000 });
  await Promise.all([first, second]);
  const elapsed = performance.now() - started;
  assert.ok(elapsed >= 250 && elapsed < 3_000, `stopped after ${Math.round(elapsed)} ms`);
  await dialer.stop();
});
