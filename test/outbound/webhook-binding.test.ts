import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import twilio from 'twilio';
import { SIM_TWILIO_ACCOUNT_SID, SIM_TWILIO_AUTH_TOKEN } from '../../src/config/config.js';
import { bindCallback } from '../../src/outbound/twilio.webhooks.js';
import { createTenant, waitFor, type Tenant } from '../helpers/harness.js';
import { api, makeLeads, startOutboundEnv, type OutboundEnv } from './helpers.js';

/**
 * Twilio callbacks bound to exactly one call (issue 12, point 3; README "Webhook security").
 * Twilio signs URL + key + value + key + value … with no separators, so a captured callback can
 * be re-cut: the trailing digits of `call_id=7000017` moved into a new first key `7AccountSid`
 * give `call_id=700001` the same signature. Fixture calls are written directly (ids chosen so one
 * is a prefix of the other) and the callbacks are signed with the auth token, as Twilio would;
 * no worker runs, so no sweeper touches the fixtures.
 */
let env: OutboundEnv;

before(async () => {
  env = await startOutboundEnv({}, { worker: false });
});

after(async () => {
  await env.close();
});

const OTHER_SID = `CA${'e'.repeat(32)}`;
let nextId = 8_000_001;

interface Fixture {
  id: number;
  token: string;
  sid: string | null;
}

/** A call of `t` with our own id (so ids can be prefixes of each other), in `status`, with `sid` or none yet. */
async function fixture(t: Tenant, o: { id?: number; status?: string; sid?: string | null } = {}): Promise<Fixture> {
  const id = o.id ?? nextId++;
  const sid = o.sid === undefined ? `CA${id.toString(16).padStart(32, '0')}` : o.sid;
  const { rows } = await env.pool.query<{ callback_token: string }>(
    `INSERT INTO calls (id, business_id, from_number, to_number, status, call_sid, ended_at)
     VALUES ($1, $2, '+15005550006', '+12125550170', $3, $4, CASE WHEN $3 = 'completed' THEN now() END)
     RETURNING callback_token`,
    [id, t.businessId, o.status ?? 'ringing', sid],
  );
  const token = rows[0]?.callback_token;
  assert.match(token ?? '', /^[0-9a-f]{32}$/, 'every new call gets a callback token');
  return { id, token: token ?? '', sid };
}

/** The whole row: any write (even one that only touches updated_at) shows. */
async function snapshot(id: number): Promise<string> {
  const { rows } = await env.pool.query(`SELECT to_jsonb(c) AS row FROM calls c WHERE id = $1`, [id]);
  return JSON.stringify(rows[0]?.row);
}

function urlOf(kind: 'status' | 'recording', t: Tenant, call: { id: number; token?: string | null }): string {
  return `/webhooks/twilio/voice/${kind}?b=${t.businessId}&call_id=${call.id}${call.token ? `&t=${call.token}` : ''}`;
}

/** Signs `params` for `signedUrl` as Twilio does, and posts them (as a form, in this key order) to `url`. */
async function post(url: string, params: Array<[string, string]> | Record<string, string>, signedUrl = url, signedParams = params) {
  const list = Array.isArray(params) ? params : Object.entries(params);
  // A repeated key is signed as Twilio's validator reads it: one key, its values in a list.
  const signWith: Record<string, string | string[]> = {};
  for (const [k, v] of Array.isArray(signedParams) ? signedParams : Object.entries(signedParams)) {
    const had = signWith[k];
    signWith[k] = had === undefined ? v : [...(Array.isArray(had) ? had : [had]), v];
  }
  const signature = twilio.getExpectedTwilioSignature(SIM_TWILIO_AUTH_TOKEN, env.baseUrl + signedUrl, signWith);
  const res = await fetch(env.baseUrl + url, {
    method: 'POST',
    headers: { 'content-type': 'application/x-www-form-urlencoded', 'x-twilio-signature': signature },
    body: new URLSearchParams(list).toString(),
  });
  return { status: res.status, body: await res.text() };
}

function statusForm(sid: string, status = 'completed'): Record<string, string> {
  return { AccountSid: SIM_TWILIO_ACCOUNT_SID, ApiVersion: '2010-04-01', CallSid: sid, CallStatus: status, CallDuration: '12', Direction: 'outbound-api' };
}

/**
 * The attack of the issue: the captured callback of call `long` (signed for its URL), with the
 * last character of that URL moved into a new first form key, sent to the URL without it. Returns
 * the forged URL and form after checking that Twilio's signature really is still valid for them.
 */
function recut(longUrl: string, form: Record<string, string>): { url: string; form: Array<[string, string]> } {
  const moved = longUrl.slice(-1);
  const url = longUrl.slice(0, -1);
  const first = Object.keys(form).sort()[0] ?? '';
  const forged: Array<[string, string]> = Object.entries(form).map(([k, v]) => (k === first ? [moved + k, v] : [k, v]));
  // Valid whenever the moved character sorts before the uppercase keys: always for the ids that
  // ended the URLs before 006; for a token, only when its last hex digit is a digit.
  if (/[0-9]/.test(moved)) {
    const signature = twilio.getExpectedTwilioSignature(SIM_TWILIO_AUTH_TOKEN, env.baseUrl + longUrl, form);
    assert.ok(twilio.validateRequest(SIM_TWILIO_AUTH_TOKEN, signature, env.baseUrl + url, Object.fromEntries(forged)), 'the re-cut carries a valid signature');
  }
  return { url, form: forged };
}

async function postRecut(longUrl: string, form: Record<string, string>) {
  const { url, form: forged } = recut(longUrl, form);
  return post(url, forged, longUrl, form);
}

describe('twilio callbacks are bound to exactly one call', () => {
  test('re-cut attack: a "completed" signed for call 7000017, re-sent as call 700001 → 4xx; the ringing call keeps its state and slot', async () => {
    const t = await createTenant(env, { max_outbound_calls: 5 });
    const short = await fixture(t, { id: 700_001 });
    const long = await fixture(t, { id: 7_000_017 });
    const before = await snapshot(short.id);

    // The URLs handed out before 006 (no token) end with the id; those of today end with the token.
    const legacy = await postRecut(urlOf('status', t, { id: long.id }), statusForm(long.sid ?? ''));
    assert.ok(legacy.status >= 400 && legacy.status < 500, `legacy URL: ${legacy.status} ${legacy.body}`);
    const tokened = await postRecut(urlOf('status', t, long), statusForm(long.sid ?? ''));
    assert.ok(tokened.status >= 400 && tokened.status < 500, `tokened URL: ${tokened.status} ${tokened.body}`);

    assert.equal(await snapshot(short.id), before, 'call 700001 unchanged');
    const { rows } = await env.pool.query<{ status: string }>(`SELECT status FROM calls WHERE id = ANY($1::bigint[]) ORDER BY id`, [[short.id, long.id]]);
    assert.deepEqual(rows.map((r) => r.status), ['ringing', 'ringing'], 'both still hold their slot');
  });

  test("re-cut attack on a recording: call 210017's recording re-sent as call 21001 → 4xx; call 21001 points at no recording", async () => {
    const t = await createTenant(env);
    const short = await fixture(t, { id: 21_001, status: 'completed' });
    const long = await fixture(t, { id: 210_017, status: 'completed' });
    const before = await snapshot(short.id);
    const form = {
      AccountSid: SIM_TWILIO_ACCOUNT_SID, CallSid: long.sid ?? '', RecordingSid: `RE${'1'.repeat(32)}`,
      RecordingStatus: 'completed', RecordingDuration: '7', RecordingUrl: `https://api.twilio.com/2010-04-01/Accounts/${SIM_TWILIO_ACCOUNT_SID}/Recordings/RE${'1'.repeat(32)}`,
    };
    for (const url of [urlOf('recording', t, { id: long.id }), urlOf('recording', t, long)]) {
      const res = await postRecut(url, form);
      assert.ok(res.status >= 400 && res.status < 500, `${url}: ${res.status} ${res.body}`);
    }
    assert.equal(await snapshot(short.id), before, 'call 21001 unchanged: no recording of another lead');
    // The genuine callback still applies to its own call.
    assert.equal((await post(urlOf('recording', t, long), form)).status, 204);
    const { rows } = await env.pool.query<{ recording_sid: string | null }>(`SELECT recording_sid FROM calls WHERE id = $1`, [long.id]);
    assert.equal(rows[0]?.recording_sid, form.RecordingSid);
  });

  test('a callback without CallSid (or without AccountSid) is refused: 400, nothing changes — even on a call that has no sid yet', async () => {
    const t = await createTenant(env);
    for (const sid of [null, `CA${'3'.repeat(32)}`]) {
      const call = await fixture(t, { sid });
      const before = await snapshot(call.id);
      const { CallSid: _s, ...noSid } = statusForm(sid ?? OTHER_SID);
      const { AccountSid: _a, ...noAccount } = statusForm(sid ?? OTHER_SID);
      for (const [what, form] of [['no CallSid', noSid], ['empty CallSid', { ...noSid, CallSid: '' }], ['no AccountSid', noAccount]] as const) {
        for (const kind of ['status', 'recording'] as const) {
          const res = await post(urlOf(kind, t, call), kind === 'status' ? form : { ...form, RecordingStatus: 'completed', RecordingSid: `RE${'2'.repeat(32)}` });
          assert.equal(res.status, 400, `${kind}, ${what}: ${res.body}`);
          assert.match(res.body, /"path":"body\.(CallSid|AccountSid)"/, `${kind}, ${what}`);
        }
      }
      assert.equal(await snapshot(call.id), before, `call with sid ${sid}: unchanged`);
    }
  });

  test("a CallSid or AccountSid that is not the stored call's, or another call's token → 403, nothing changes", async () => {
    const t = await createTenant(env);
    const call = await fixture(t);
    const other = await fixture(t);
    const pending = await fixture(t, { sid: null });
    const snaps = async () => Promise.all([call, other, pending].map((c) => snapshot(c.id)));
    const before = await snaps();
    const cases: Array<[string, string, Record<string, string>]> = [
      ['token URL, another CallSid', urlOf('status', t, call), statusForm(other.sid ?? '')],
      ['legacy URL, another CallSid', urlOf('status', t, { id: call.id }), statusForm(other.sid ?? '')],
      ['another account', urlOf('status', t, call), { ...statusForm(call.sid ?? ''), AccountSid: `AC${'9'.repeat(32)}` }],
      ["another call's token", urlOf('status', t, { id: call.id, token: other.token }), statusForm(call.sid ?? '')],
      ['a made-up token', urlOf('status', t, { id: call.id, token: '0'.repeat(32) }), statusForm(call.sid ?? '')],
      ['legacy URL, no sid stored yet', urlOf('status', t, { id: pending.id }), statusForm(OTHER_SID)],
      ['recording, another CallSid', urlOf('recording', t, call), { ...statusForm(other.sid ?? ''), RecordingStatus: 'completed', RecordingSid: `RE${'4'.repeat(32)}` }],
      ['recording, another account', urlOf('recording', t, call), { ...statusForm(call.sid ?? ''), AccountSid: `AC${'9'.repeat(32)}`, RecordingStatus: 'completed', RecordingSid: `RE${'4'.repeat(32)}` }],
    ];
    for (const [what, url, form] of cases) {
      const res = await post(url, form);
      assert.equal(res.status, 403, `${what}: ${res.body}`);
      assert.match(res.body, /"code":"forbidden"/, what);
    }
    assert.deepEqual(await snaps(), before, 'nothing changed');
  });

  test('form keys that are not Twilio parameter names are refused (400, nothing changes); new PascalCase ones are accepted', async () => {
    const t = await createTenant(env);
    const call = await fixture(t);
    const before = await snapshot(call.id);
    const form = statusForm(call.sid ?? '');
    const bad: Array<[string, Array<[string, string]>]> = [
      ['digit first', [...Object.entries(form), ['7AccountSid', 'x']]],
      ['lowercase first', [...Object.entries(form), ['callStatus', 'completed']]],
      ['a symbol', [...Object.entries(form), ['X-Extra', '1']]],
      ['a blank', [...Object.entries(form), ['Call Sid', OTHER_SID]]],
      ['underscore first', [...Object.entries(form), ['_proto', '1']]],
      ['a key repeated', [...Object.entries(form), ['CallStatus', 'busy']]],
    ];
    for (const [what, list] of bad) {
      const res = await post(urlOf('status', t, call), list);
      assert.equal(res.status, 400, `${what}: ${res.body}`);
    }
    assert.equal(await snapshot(call.id), before, 'nothing changed');
    // Twilio adds parameters over time (StirVerstat, …): a name of its shape is not a reason to drop a callback.
    const res = await post(urlOf('status', t, call), { ...form, StirVerstat: 'TN-Validation-Passed-A', SomeFutureParam2: 'x' });
    assert.equal(res.status, 204, res.body);
    const { rows } = await env.pool.query<{ status: string }>(`SELECT status FROM calls WHERE id = $1`, [call.id]);
    assert.equal(rows[0]?.status, 'completed');
  });

  test('before the create-call answer: a token-bound callback takes its CallSid; afterwards another CallSid is refused', async () => {
    const t = await createTenant(env);
    const call = await fixture(t, { status: 'dialing', sid: null });
    const sid = `CA${'5'.repeat(32)}`;
    assert.equal((await post(urlOf('status', t, call), statusForm(sid, 'ringing'))).status, 204);
    const { rows } = await env.pool.query<{ status: string; call_sid: string | null }>(`SELECT status, call_sid FROM calls WHERE id = $1`, [call.id]);
    assert.deepEqual([rows[0]?.status, rows[0]?.call_sid], ['ringing', sid]);
    const before = await snapshot(call.id);
    assert.equal((await post(urlOf('status', t, call), statusForm(OTHER_SID))).status, 403);
    assert.equal(await snapshot(call.id), before);
    assert.equal((await post(urlOf('status', t, call), statusForm(sid))).status, 204);
    const { rows: done } = await env.pool.query<{ status: string }>(`SELECT status FROM calls WHERE id = $1`, [call.id]);
    assert.equal(done[0]?.status, 'completed');
  });

  test('end to end: the dialer hands Twilio token-bound URLs; every simulator callback is accepted, even a "completed" that overtakes the create-call answer', async () => {
    const t = await createTenant(env, { max_outbound_calls: 5 });
    const [lead] = await makeLeads(env, t, 1);
    assert.ok(lead);
    env.sim.faults.answerAfterFinal = true;
    const failedBefore = env.sim.stats.callbacksFailed;
    try {
      const res = await api(env, t, 'POST', '/outbound/calls', { lead_ids: [lead.id] });
      assert.equal(res.status, 201, JSON.stringify(res.body));
      const [call] = res.body.calls as Array<{ id: number }>;
      assert.ok(call);
      await waitFor(async () => {
        const { rows } = await env.pool.query<{ status: string; recording_status: string | null }>(`SELECT status, recording_status FROM calls WHERE id = $1`, [call.id]);
        return rows[0]?.status === 'completed' && rows[0].recording_status === 'completed';
      }, 'the call completed by its callbacks, with its recording', 15_000);
      const { rows } = await env.pool.query<{ callback_token: string; call_sid: string }>(`SELECT callback_token, call_sid FROM calls WHERE id = $1`, [call.id]);
      const sim = env.sim.calls.get(rows[0]?.call_sid ?? '');
      assert.ok(sim, 'the simulator has the call');
      assert.ok(sim.statusCallback?.endsWith(`?b=${t.businessId}&call_id=${call.id}&t=${rows[0]?.callback_token}`), sim.statusCallback ?? 'no callback URL');
      assert.ok(sim.recordingCallback?.endsWith(`&t=${rows[0]?.callback_token}`), sim.recordingCallback ?? 'no recording URL');
      assert.equal(env.sim.stats.callbacksFailed, failedBefore, 'no callback refused');
    } finally {
      env.sim.resetFaults();
    }
  });
});

describe('bindCallback (pure)', () => {
  const sid = `CA${'1'.repeat(32)}`;
  const token = 'a'.repeat(32);
  test('a token URL binds by the token, then by the stored sid once there is one', () => {
    assert.equal(bindCallback({ call_sid: null, callback_token: token }, token, sid), 'bound');
    assert.equal(bindCallback({ call_sid: sid, callback_token: token }, token, sid), 'bound');
    assert.equal(bindCallback({ call_sid: OTHER_SID, callback_token: token }, token, sid), 'forbidden');
    assert.equal(bindCallback({ call_sid: null, callback_token: token }, 'b'.repeat(32), sid), 'forbidden');
    assert.equal(bindCallback({ call_sid: null, callback_token: null }, token, sid), 'forbidden');
  });
  test('a URL without a token binds only by a stored, equal sid; an unknown call is nobody', () => {
    assert.equal(bindCallback({ call_sid: sid, callback_token: token }, undefined, sid), 'bound');
    assert.equal(bindCallback({ call_sid: sid, callback_token: null }, undefined, sid), 'bound');
    assert.equal(bindCallback({ call_sid: null, callback_token: token }, undefined, sid), 'forbidden');
    assert.equal(bindCallback({ call_sid: OTHER_SID, callback_token: null }, undefined, sid), 'forbidden');
    assert.equal(bindCallback(null, token, sid), 'unknown_call');
  });
});
