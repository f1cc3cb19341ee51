import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import type { CallRow } from '../../src/outbound/calls.repo.js';
import { claimDirectCalls, claimRunItems } from '../../src/outbound/claim.js';
import { createCallPlacer } from '../../src/outbound/place-call.js';
import { ProviderError, type ProviderCall, type TelephonyProvider } from '../../src/providers/telephony/types.js';
import { createTenant } from '../helpers/harness.js';
import { makeLeads, startOutboundEnv, startRun, type OutboundEnv } from './helpers.js';

/**
 * What a dial's answer makes of the call and its run item (place-call.ts), with a provider that
 * answers each number as told. No worker and no listening dialer: the calls are claimed here, so
 * nothing else dials them.
 */
let env: OutboundEnv;

before(async () => {
  env = await startOutboundEnv({}, { worker: false });
});

after(async () => {
  await env.close();
});

function providerAnswering(answers: Map<string, ProviderCall | Error>): TelephonyProvider {
  const unused = () => Promise.reject(new Error('not used by the placer'));
  return {
    createCall: async (req) => {
      const a = answers.get(req.to);
      if (!a) throw new Error(`no answer for ${req.to}`);
      if (a instanceof Error) throw a;
      return a;
    },
    fetchCall: unused,
    findCalls: unused,
    endCall: unused,
    redirectCall: unused,
    findRecording: unused,
    downloadRecording: unused,
  };
}

function placed(sid: string, to: string): ProviderCall {
  return { sid, status: 'queued', to, from: '+15005550006', durationS: null, startTime: null, endTime: null };
}

async function state(businessId: number, callId: number) {
  const { rows } = await env.pool.query<{ status: string; call_sid: string | null; error: string | null; ended: boolean; item: string | null; due_in_s: number | null }>(
    `SELECT c.status, c.call_sid, c.error, c.ended_at IS NOT NULL AS ended, i.status AS item,
            extract(epoch FROM i.next_attempt_at - now())::float8 AS due_in_s
       FROM calls c LEFT JOIN run_items i ON i.business_id = c.business_id AND i.id = c.run_item_id
      WHERE c.business_id = $1 AND c.id = $2`,
    [businessId, callId],
  );
  assert.ok(rows[0]);
  return rows[0];
}

test('each provider answer decides the call and its item: placed, throttled, unknown, refused', async () => {
  const t = await createTenant(env, { max_outbound_calls: 5 });
  const leads = await makeLeads(env, t, 5);
  await startRun(env, t, leads.map((l) => l.id), 5);
  const claim = await claimRunItems(env.pool, t.businessId, {
    from: env.config.twilio.from,
    defaults: { callingHours: env.config.dialer.callingHours, maxCallS: env.config.dialer.maxCallS },
    cps: 1000,
    cpsLookaheadMs: 1000,
  });
  assert.equal(claim.kind, 'claimed');
  if (claim.kind !== 'claimed') return;
  assert.equal(claim.calls.length, 5);
  const [ok, throttled, unknown, notProviderError, refused] = claim.calls as [CallRow, CallRow, CallRow, CallRow, CallRow];
  const place = createCallPlacer({
    pool: env.pool,
    provider: providerAnswering(
      new Map<string, ProviderCall | Error>([
        [ok.to_number, placed('CA-ok', ok.to_number)],
        [throttled.to_number, new ProviderError('throttled', 'Too Many Requests', 429)],
        [unknown.to_number, new ProviderError('unknown', 'socket hang up')],
        [notProviderError.to_number, new TypeError('fetch failed')],
        [refused.to_number, new ProviderError('rejected', 'invalid number', 400)],
      ]),
    ),
    createTimeoutMs: 1000,
    log: env.log,
    publicBaseUrl: () => env.baseUrl,
  });
  await Promise.all(claim.calls.map((c) => place(c, { delayMs: 0, maxCallS: 60 })));

  const s = await state(t.businessId, ok.id);
  assert.deepEqual([s.status, s.call_sid, s.item], ['queued', 'CA-ok', 'calling']);

  const th = await state(t.businessId, throttled.id);
  assert.deepEqual([th.status, th.error, th.ended, th.item], ['failed', 'throttled by the provider; not placed', true, 'queued'], 'not placed: the item is claimed anew');
  assert.ok(th.due_in_s !== null && th.due_in_s > 1 && th.due_in_s <= 2, `due in ${th.due_in_s} s`);

  for (const [call, message] of [[unknown, /^unconfirmed: socket hang up$/], [notProviderError, /^unconfirmed: An internal error occurred \(error id [0-9a-f]{12}\)/]] as const) {
    const u = await state(t.businessId, call.id);
    assert.deepEqual([u.status, u.ended, u.item], ['dialing', false, 'dialing'], 'maybe placed: never redialled, left for the sweeper');
    assert.match(u.error ?? '', message, 'a provider error keeps its message; any other error is not shown to clients');
  }

  const r = await state(t.businessId, refused.id);
  assert.deepEqual([r.status, r.error, r.ended, r.item], ['failed', 'rejected: invalid number', true, 'failed']);
});

test('a throttled direct call ends failed (there is no item to queue again)', async () => {
  const t = await createTenant(env);
  const [lead] = await makeLeads(env, t, 1);
  assert.ok(lead);
  const [call] = await claimDirectCalls(env.pool, t.businessId, [lead], env.config.twilio.from);
  assert.ok(call);
  const place = createCallPlacer({
    pool: env.pool,
    provider: providerAnswering(new Map([[call.to_number, new ProviderError('throttled', 'Too Many Requests', 429)]])),
    createTimeoutMs: 1000,
    log: env.log,
    publicBaseUrl: () => env.baseUrl,
  });
  await place(call, { delayMs: 0, maxCallS: 60 });
  const s = await state(t.businessId, call.id);
  assert.deepEqual([s.status, s.error, s.ended, s.item], ['failed', 'throttled by the provider; not placed', true, null]);
});
