import assert from 'node:assert/strict';
import { after, afterEach, before, describe, test } from 'node:test';
import twilio from 'twilio';
import { SIM_TWILIO_ACCOUNT_SID, SIM_TWILIO_AUTH_TOKEN } from '../../src/config/config.js';
import { createTenant, waitFor, waitForJob, type Tenant } from '../helpers/harness.js';
import { api, makeLeads, simCallsTo, startOutboundEnv, startRun, waitForNoActiveCalls, type OutboundEnv } from './helpers.js';

let env: OutboundEnv;
let t: Tenant;
let leads: Array<{ id: number; phone: string }>;
let next = 0;

before(async () => {
  env = await startOutboundEnv();
  t = await createTenant(env, { max_outbound_calls: 5 });
  leads = await makeLeads(env, t, 60);
});

after(async () => {
  await env.close();
});

afterEach(async () => {
  env.sim.resetFaults();
  env.sim.callMs = 60;
  await waitForNoActiveCalls(env, t.businessId);
});

function take(n: number) {
  const out = leads.slice(next, next + n);
  next += n;
  return out;
}

async function callRow(id: number) {
  const { rows } = await env.pool.query<{ status: string; call_sid: string | null; error: string | null; duration_s: number | null }>(
    `SELECT status, call_sid, error, duration_s FROM calls WHERE business_id = $1 AND id = $2`,
    [t.businessId, id],
  );
  return rows[0];
}

async function direct(leadIds: number[]) {
  const res = await api(env, t, 'POST', '/outbound/calls', { lead_ids: leadIds });
  assert.equal(res.status, 201, JSON.stringify(res.body));
  return res.body.calls as Array<{ id: number; call_sid: string | null; status: string; to: string }>;
}

function signedPost(url: string, params: Record<string, string>, token = SIM_TWILIO_AUTH_TOKEN, signature?: string | null) {
  const full = env.baseUrl + url;
  const sig = signature === undefined ? twilio.getExpectedTwilioSignature(token, full, params) : signature;
  return fetch(full, {
    method: 'POST',
    headers: { 'content-type': 'application/x-www-form-urlencoded', ...(sig === null ? {} : { 'x-twilio-signature': sig }) },
    body: new URLSearchParams(params).toString(),
  });
}

describe('twilio webhooks', () => {
  test('race: "completed" arrives before the create-call response — matched by our id, run completes, one call per lead', async () => {
    env.sim.faults.answerAfterFinal = true;
    const ls = take(4);
    const { jobId } = await startRun(env, t, ls.map((l) => l.id));
    const job = await waitForJob(env, jobId, 'completed', 20_000);
    assert.equal(job.processed, 4);
    const { rows } = await env.pool.query<{ status: string; call_sid: string | null }>(
      `SELECT status, call_sid FROM calls WHERE business_id = $1 AND lead_id = ANY($2::bigint[])`,
      [t.businessId, ls.map((l) => l.id)],
    );
    assert.equal(rows.length, 4);
    for (const r of rows) {
      assert.equal(r.status, 'completed');
      assert.match(r.call_sid ?? '', /^CA/);
    }
    const perTo = simCallsTo(env.sim);
    for (const l of ls) assert.equal(perTo.get(l.phone), 1);
  });

  test('duplicate and out-of-order callbacks change nothing: statuses stay final, progress exact', async () => {
    env.sim.faults.duplicateCallbacks = true;
    env.sim.faults.reorderCallbacks = true;
    const ls = take(6);
    const { jobId, runId } = await startRun(env, t, ls.map((l) => l.id));
    const job = await waitForJob(env, jobId, 'completed', 20_000);
    assert.deepEqual([job.processed, job.succeeded, job.failed], [6, 6, 0]);
    // Let the late (reordered) callbacks land, then check nothing moved backwards.
    await waitFor(async () => env.sim.stats.callbacksSent >= 6 * 2 * 5, 'late callbacks delivered', 10_000);
    const { rows } = await env.pool.query<{ status: string }>(`SELECT status FROM calls WHERE business_id = $1 AND run_id = $2`, [t.businessId, runId]);
    assert.deepEqual(rows.map((r) => r.status), Array(6).fill('completed'));
    const run = await api(env, t, 'GET', `/outbound/runs/${runId}`);
    assert.equal((run.body.counts as Record<string, number>).completed, 6);
  });

  test('forged or unsigned callbacks get 403 and change nothing; a correctly signed one applies', async () => {
    env.sim.callMs = 4_000;
    const [call] = await direct(take(1).map((l) => l.id));
    assert.ok(call);
    const url = `/webhooks/twilio/voice/status?b=${t.businessId}&call_id=${call.id}`;
    const params = { AccountSid: SIM_TWILIO_ACCOUNT_SID, CallSid: call.call_sid ?? '', CallStatus: 'completed', CallDuration: '9' };
    assert.equal((await signedPost(url, params, 'not-the-auth-token')).status, 403);
    assert.equal((await signedPost(url, params, SIM_TWILIO_AUTH_TOKEN, null)).status, 403);
    assert.equal((await signedPost(url, params, SIM_TWILIO_AUTH_TOKEN, 'AAAA')).status, 403);
    // Signed for another call id, replayed on this one.
    const other = twilio.getExpectedTwilioSignature(SIM_TWILIO_AUTH_TOKEN, `${env.baseUrl}/webhooks/twilio/voice/status?b=${t.businessId}&call_id=${call.id + 1}`, params);
    assert.equal((await signedPost(url, params, SIM_TWILIO_AUTH_TOKEN, other)).status, 403);
    assert.equal((await signedPost(`/webhooks/twilio/voice/recording?b=${t.businessId}&call_id=${call.id}`, { RecordingStatus: 'completed', RecordingSid: 'RE1' }, 'bad')).status, 403);
    const after = await callRow(call.id);
    assert.notEqual(after?.status, 'completed', 'nothing changed');
    assert.equal(after?.call_sid, call.call_sid);
    const ok = await signedPost(url, params);
    assert.equal(ok.status, 204);
    const applied = await callRow(call.id);
    assert.equal(applied?.status, 'completed');
    assert.equal(applied?.duration_s, 9);
  });

  test('lost final callback: the sweeper asks the provider and frees the slot', async () => {
    env.sim.faults.dropFinalCallbacks = 1;
    const [call] = await direct(take(1).map((l) => l.id));
    assert.ok(call?.call_sid);
    const sim = env.sim.calls.get(call.call_sid);
    await waitFor(async () => sim?.status === 'completed', 'the simulated call ended');
    const stuck = await callRow(call.id);
    assert.notEqual(stuck?.status, 'completed', 'without the callback we do not know yet');
    await waitFor(async () => (await callRow(call.id))?.status === 'completed', 'the sweeper settled the call', 10_000);
  });

  test('maximum call duration: a call still up past max_call_s + 30 s is hung up by the sweeper and frees its slot', async () => {
    const callMs = env.sim.callMs;
    env.sim.callMs = 600_000;
    try {
      const [call] = await direct(take(1).map((l) => l.id));
      assert.ok(call?.call_sid);
      const sid = call.call_sid;
      // The call has been up for two hours (DIALER_MAX_CALL_S is 3600): backdated in our table,
      // the provider still reports it active.
      await env.pool.query(`UPDATE calls SET created_at = now() - interval '2 hours' WHERE id = $1`, [call.id]);
      await waitFor(async () => (await callRow(call.id))?.status === 'canceled', 'the sweeper hung the call up', 15_000);
      const sim = env.sim.calls.get(sid);
      assert.equal(sim?.status, 'canceled', 'the provider was told to end it');
    } finally {
      env.sim.callMs = callMs;
    }
  });

  test('create-call answered 5xx without a call: reconciled as failed, never redialled', async () => {
    env.sim.faults.failCreates = { count: 1, status: 500 };
    const [lead] = take(1);
    assert.ok(lead);
    const [call] = await direct([lead.id]);
    assert.ok(call);
    assert.equal(call.status, 'dialing');
    assert.equal(call.call_sid, null);
    await waitFor(async () => (await callRow(call.id))?.status === 'failed', 'reconciled', 15_000);
    assert.match((await callRow(call.id))?.error ?? '', /not placed/);
    assert.equal(simCallsTo(env.sim).get(lead.phone) ?? 0, 0, 'no call was ever placed');
  });

  test('create-call answered 5xx although the call exists: its callbacks adopt it; exactly one call', async () => {
    env.sim.faults.createThenFail = 1;
    const [lead] = take(1);
    assert.ok(lead);
    const [call] = await direct([lead.id]);
    assert.ok(call);
    await waitFor(async () => (await callRow(call.id))?.status === 'completed', 'settled by its callbacks', 15_000);
    assert.match((await callRow(call.id))?.call_sid ?? '', /^CA/);
    assert.equal(simCallsTo(env.sim).get(lead.phone), 1);
  });

  test('create-call refused (4xx): the call fails at once and the slot is free', async () => {
    env.sim.faults.failCreates = { count: 1, status: 400 };
    const [call] = await direct(take(1).map((l) => l.id));
    assert.ok(call);
    assert.equal(call.status, 'failed');
    assert.match(call.call_sid ?? 'none', /none/);
  });
});
