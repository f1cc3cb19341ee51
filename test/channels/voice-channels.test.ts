import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import twilio from 'twilio';
import { SIM_TWILIO_ACCOUNT_SID, SIM_TWILIO_AUTH_TOKEN } from '../../src/config/config.js';
import { pickCallerIds } from '../../src/outbound/caller-ids.js';
import { createTenant, waitFor, type Tenant } from '../helpers/harness.js';
import { api, makeLeads, startOutboundEnv, startRun, type OutboundEnv } from '../outbound/helpers.js';

/**
 * Issue 14: each business calls from its own caller ids (one of the lead's country first, round
 * robin) through its own Twilio subaccount, with a CPS budget per account, and its callbacks are
 * verified with its own auth token. The in-process simulator knows the subaccounts from the
 * businesses' channels (what Twilio would know of them).
 */
const CPS = 5;
const A = { sid: `AC${'a1'.repeat(16)}`, token: 'a'.repeat(31) + '1', il: '+97237211234', us: '+12125550111' };
const B = { sid: `AC${'b2'.repeat(16)}`, token: 'b'.repeat(31) + '2', ids: ['+12125550122', '+12125550133'] };

let env: OutboundEnv;
let ta: Tenant;
let tb: Tenant;

before(async () => {
  env = await startOutboundEnv({ TWILIO_CPS: String(CPS), SIM_CALL_MS: '80' });
  ta = await createTenant(env, { max_outbound_calls: 50 });
  tb = await createTenant(env, { max_outbound_calls: 50 });
  for (const [t, body] of [
    [ta, { caller_ids: [A.il, A.us], twilio: { account_sid: A.sid, auth_token: A.token } }],
    [tb, { caller_ids: B.ids, twilio: { account_sid: B.sid, auth_token: B.token } }],
  ] as const) {
    const res = await env.app.inject({ method: 'PUT', url: '/api/v1/channels/voice', headers: t.headers, payload: body });
    assert.equal(res.statusCode, 200, res.body);
  }
});
after(() => env.close());

/** n Israeli mobile numbers of this business (+972 50 …), the first `from`. */
async function israeliLeads(t: Tenant, n: number, from = 1): Promise<Array<{ id: number; phone: string }>> {
  const { rows } = await env.pool.query<{ id: number; phone: string }>(
    `INSERT INTO leads (business_id, phone, name)
     SELECT $1::bigint, '+97250' || lpad(($1::bigint % 100)::text, 2, '0') || lpad(i::text, 5, '0'), 'IL ' || i FROM generate_series($3::int, $3::int + $2 - 1) i
     RETURNING id, phone`,
    [t.businessId, n, from],
  );
  return rows;
}

function maxInWindow(times: number[], windowMs = 1000): number {
  const t = [...times].sort((x, y) => x - y);
  let best = 0;
  for (let i = 0, j = 0; i < t.length; i += 1) {
    while ((t[i] ?? 0) - (t[j] ?? 0) >= windowMs) j += 1;
    best = Math.max(best, i - j + 1);
  }
  return best;
}

async function callsOf(t: Tenant) {
  const { rows } = await env.pool.query<{ id: number; to_number: string; from_number: string; account_sid: string | null; call_sid: string; callback_token: string; status: string }>(
    `SELECT id, to_number, from_number, account_sid, call_sid, callback_token, status FROM calls WHERE business_id = $1 ORDER BY id`, [t.businessId]);
  return rows;
}

describe('caller ids, pure', () => {
  test('a number of the lead\'s country first, the least used of the fitting ones; none fitting: all of them; none at all: the fallback', () => {
    const ids = [{ number: '+97237211234', country: 'IL', uses: 0 }, { number: '+97237211235', country: 'IL', uses: 0 }, { number: '+12125550111', country: 'US', uses: 0 }];
    assert.deepEqual(pickCallerIds(ids, ['+972501234567', '+12125550199', '+972501234568', '+12125550198', '+972501234569'], 'F'),
      ['+97237211234', '+12125550111', '+97237211235', '+12125550111', '+97237211234']);
    assert.deepEqual(pickCallerIds(ids.slice(0, 2), ['+442071838750', '+442071838751'], 'F'), ['+97237211234', '+97237211235']);
    assert.deepEqual(pickCallerIds([{ ...ids[0], uses: 5 } as (typeof ids)[0], ids[1] as (typeof ids)[0]], ['+972501234567'], 'F'), ['+97237211235'], 'least used');
    assert.deepEqual(pickCallerIds([], ['+12125550199'], 'F'), ['F']);
  });
});

describe('two businesses with their own caller ids and subaccounts', () => {
  test('run at once: every call from its own business\'s caller ids (the lead\'s country first, round robin), through its own account, CPS per account, callbacks verified with its own token', async () => {
    const n = 2 * CPS;
    const aIl = await israeliLeads(ta, n / 2);
    const aUs = await makeLeads(env, ta, n / 2);
    const bUs = await makeLeads(env, tb, n);
    const started = Date.now();
    const [ra, rb] = await Promise.all([startRun(env, ta, [...aIl, ...aUs].map((l) => l.id), 50), startRun(env, tb, bUs.map((l) => l.id), 50)]);
    await waitFor(async () => {
      const { rows } = await env.pool.query<{ n: number }>(`SELECT count(*)::int AS n FROM run_items WHERE run_id = ANY($1::bigint[]) AND status = 'completed'`, [[ra.runId, rb.runId]]);
      return rows[0]?.n === 2 * n;
    }, 'every item completed (each call\'s callbacks accepted)', 60_000);

    const callsA = await callsOf(ta);
    const callsB = await callsOf(tb);
    const il = new Set(aIl.map((l) => l.phone));
    for (const c of callsA) assert.equal(c.from_number, il.has(c.to_number) ? A.il : A.us, `A's call to ${c.to_number}: the lead's country first`);
    assert.ok(callsA.every((c) => c.account_sid === A.sid) && callsB.every((c) => c.account_sid === B.sid), 'each through its own account');
    const perNumber = B.ids.map((id) => callsB.filter((c) => c.from_number === id).length);
    assert.ok(Math.abs((perNumber[0] ?? 0) - (perNumber[1] ?? 0)) <= 1, `B's calls round robin over its numbers: ${perNumber.join(' / ')}`);

    // What the provider received: the same numbers, each in its own account.
    const atSim = [...env.sim.calls.values()];
    const sidsA = new Set(callsA.map((c) => c.call_sid));
    const sidsB = new Set(callsB.map((c) => c.call_sid));
    const simA = atSim.filter((c) => sidsA.has(c.sid));
    const simB = atSim.filter((c) => sidsB.has(c.sid));
    assert.equal(simA.length, n);
    assert.equal(simB.length, n);
    assert.ok(simA.every((c) => c.accountSid === A.sid && (c.from === A.il || c.from === A.us)), 'A\'s calls at the provider: A\'s account and numbers');
    assert.ok(simB.every((c) => c.accountSid === B.sid && B.ids.includes(c.from)), 'B\'s calls at the provider: B\'s account and numbers');

    // CPS per account: each account keeps to its own rate, and the two together went faster than one.
    const times = (l: typeof simA) => l.map((c) => c.createdAt.getTime());
    // Each account's k-th call reached the provider no earlier than k/CPS s after the runs began:
    // its calls leave at instants reserved 1/CPS apart from then on, and a loaded event loop can
    // only make one late, never early, so this holds under any load. (Counting arrivals per
    // second did not: late calls bunch up behind on-time ones, CI saw 8 in a second.) With no
    // budget all n arrive within a few hundred ms; a shared one shows as `together` below.
    for (const [name, list] of [['A', simA], ['B', simB]] as const) {
      times(list).sort((x, y) => x - y).forEach((at, k) => {
        const earliest = (k * 1000) / CPS;
        assert.ok(at - started >= earliest - 5, `${name}'s call ${k + 1} reached the provider ${at - started} ms after the start, before its CPS turn at ${earliest} ms`);
      });
    }
    const together = maxInWindow([...times(simA), ...times(simB)]);
    assert.ok(together >= CPS * 1.5, `both accounts together dialled ${together} in a second (one account: ${CPS})`);
    const { rows: cps } = await env.pool.query<{ account_sid: string }>(`SELECT account_sid FROM dialer_cps ORDER BY account_sid`);
    assert.deepEqual(cps.map((r) => r.account_sid).filter((s) => s === A.sid || s === B.sid).sort(), [A.sid, B.sid].sort(), 'one CPS row per account');
  });

  test('a callback for A\'s call signed with B\'s token (or the deployment\'s) is 403; signed with A\'s own it is accepted', async () => {
    const [call] = await callsOf(ta);
    assert.ok(call);
    const path = `/webhooks/twilio/voice/status?b=${ta.businessId}&call_id=${call.id}&t=${call.callback_token}`;
    const post = async (token: string, accountSid: string) => {
      const form = { AccountSid: accountSid, CallSid: call.call_sid, CallStatus: 'completed', CallDuration: '1' };
      const res = await env.app.inject({
        method: 'POST', url: path, payload: new URLSearchParams(form).toString(),
        headers: { 'content-type': 'application/x-www-form-urlencoded', 'x-twilio-signature': twilio.getExpectedTwilioSignature(token, env.baseUrl + path, form) },
      });
      return res.statusCode;
    };
    assert.equal(await post(B.token, A.sid), 403, 'B\'s token');
    assert.equal(await post(B.token, B.sid), 403, 'B\'s token and account');
    assert.equal(await post(SIM_TWILIO_AUTH_TOKEN, SIM_TWILIO_ACCOUNT_SID), 403, 'the deployment\'s account');
    assert.equal(await post(A.token, A.sid), 204, 'A\'s own (a duplicate final callback: harmless)');
  });

  test('the sweeper asks A\'s account about A\'s call whose final callback was lost; its recording downloads from A\'s account', async () => {
    const [target] = await israeliLeads(ta, 1, 500);
    assert.ok(target);
    env.sim.faults.dropFinalCallbacks = 1;
    const placed = await api(env, ta, 'POST', '/outbound/calls', { lead_ids: [target.id] });
    assert.equal(placed.status, 201, JSON.stringify(placed.body));
    const id = (placed.body.calls as Array<{ id: number }>)[0]?.id;
    const done = await waitFor(async () => {
      const { rows } = await env.pool.query<{ status: string; call_sid: string }>(`SELECT status, call_sid FROM calls WHERE business_id = $1 AND id = $2`, [ta.businessId, id]);
      return rows[0]?.status === 'completed' ? rows[0] : null;
    }, 'the sweeper found the call completed at A\'s account', 20_000);
    const url = `/calls/${done.call_sid}/recording`;
    // The simulator serves a recording only to the account that owns the call, so a 200 means it
    // came from A's account; the transcription queued by the recording webhook may fetch it
    // before the first play does (then the play answers 200 at once, else 202 and later 200).
    assert.ok([200, 202].includes((await api(env, ta, 'GET', url)).status));
    await waitFor(async () => (await api(env, ta, 'GET', url)).status === 200, 'the recording, downloaded from A\'s account', 20_000);
  });

  test('a business without a channel calls from TWILIO_FROM through the deployment\'s account', async () => {
    const tc = await createTenant(env);
    const [lead] = await makeLeads(env, tc, 1);
    assert.ok(lead);
    const placed = await api(env, tc, 'POST', '/outbound/calls', { lead_ids: [lead.id] });
    assert.equal(placed.status, 201, JSON.stringify(placed.body));
    const [c] = await callsOf(tc);
    assert.deepEqual([c?.from_number, c?.account_sid], [env.config.twilio.from, null]);
    await waitFor(async () => (await callsOf(tc))[0]?.status === 'completed', 'completed (callbacks verified with the deployment\'s token)');
  });
});
