import assert from 'node:assert/strict';
import { after, afterEach, before, describe, test } from 'node:test';
import { createTenant, waitFor, waitForJob } from '../helpers/harness.js';
import { activeByBusiness, api, makeLeads, simCallsTo, startOutboundEnv, startRun, waitForNoActiveCalls, type OutboundEnv } from './helpers.js';

let env: OutboundEnv;

before(async () => {
  env = await startOutboundEnv();
});

after(async () => {
  await env.close();
});

afterEach(() => {
  env.sim.resetFaults();
  env.sim.callMs = 60;
});

describe('direct calls', () => {
  test('201 while slots are free, 429 concurrency_limit (all-or-nothing) when they are not', async () => {
    env.sim.callMs = 3_000;
    const t = await createTenant(env, { max_outbound_calls: 3 });
    const leads = await makeLeads(env, t, 6);
    const first = await api(env, t, 'POST', '/outbound/calls', { lead_ids: [leads[0]?.id, leads[1]?.id] });
    assert.equal(first.status, 201);
    const calls = first.body.calls as Array<{ call_sid: string; status: string; lead_id: number; from: string; to: string }>;
    assert.equal(calls.length, 2);
    assert.match(calls[0]?.call_sid ?? '', /^CA/);
    const refused = await api(env, t, 'POST', '/outbound/calls', { lead_ids: [leads[2]?.id, leads[3]?.id] });
    assert.equal(refused.status, 429);
    assert.equal((refused.body.error as { code: string }).code, 'concurrency_limit');
    assert.ok(Number(refused.headers['retry-after']) >= 1);
    assert.equal((await activeByBusiness(env)).get(t.businessId), 2, 'the refused request claimed nothing');
    const busy = await api(env, t, 'POST', '/outbound/calls', { lead_ids: [leads[0]?.id] });
    assert.equal(busy.status, 409, 'a lead already in a call');
    const third = await api(env, t, 'POST', '/outbound/calls', { lead_ids: [leads[2]?.id] });
    assert.equal(third.status, 201);
    const active = await api(env, t, 'GET', '/outbound/active');
    assert.equal(active.body.active, 3);
    assert.equal(active.body.limit, 3);
    assert.equal((await api(env, t, 'POST', '/outbound/calls', { lead_ids: [1, 2, 3, 4] })).status, 400);
    env.sim.callMs = 60;
    // All-or-nothing at the provider too: the refused request's lead was never dialled.
    const perTo = simCallsTo(env.sim);
    assert.equal(perTo.get(leads[0]?.phone ?? ''), 1);
    assert.equal(perTo.get(leads[2]?.phone ?? ''), 1);
    assert.equal(perTo.get(leads[3]?.phone ?? ''), undefined, 'the refused request placed no call');
    await waitForNoActiveCalls(env, t.businessId, 15_000);
  });

  test('tenant isolation: runs, calls and leads of another business answer 404', async () => {
    const a = await createTenant(env);
    const b = await createTenant(env);
    const leads = await makeLeads(env, a, 2);
    const { jobId, runId } = await startRun(env, a, leads.map((l) => l.id));
    await waitForJob(env, jobId, 'completed', 15_000);
    const { rows } = await env.pool.query<{ call_sid: string }>(`SELECT call_sid FROM calls WHERE business_id = $1 LIMIT 1`, [a.businessId]);
    const sid = rows[0]?.call_sid ?? '';
    assert.equal((await api(env, a, 'GET', `/calls/${sid}`)).status, 200);
    assert.equal((await api(env, b, 'GET', `/calls/${sid}`)).status, 404);
    assert.equal((await api(env, b, 'GET', `/outbound/runs/${runId}`)).status, 404);
    assert.equal((await api(env, b, 'GET', `/outbound/runs/${runId}/items`)).status, 404);
    assert.equal((await api(env, b, 'GET', `/calls/${sid}/recording`)).status, 404);
    assert.deepEqual((await api(env, b, 'GET', '/calls')).body.items, []);
    assert.equal((await api(env, b, 'POST', '/outbound/calls', { lead_ids: [leads[0]?.id] })).status, 404);
    assert.equal((await api(env, b, 'POST', '/outbound/runs', { lead_ids: leads.map((l) => l.id) })).status, 400);
    const listed = await api(env, a, 'GET', `/calls?lead_id=${leads[0]?.id}&status=completed`);
    assert.equal((listed.body.items as unknown[]).length, 1);
  });
});

describe('runs: operator rules and job control', () => {
  test('pause stops new dials (calls in flight finish); resume continues; exact totals', async () => {
    env.sim.callMs = 150;
    const t = await createTenant(env, { max_outbound_calls: 2 });
    const leads = await makeLeads(env, t, 16);
    const { jobId } = await startRun(env, t, leads.map((l) => l.id));
    await waitForJob(env, jobId, (j) => j.processed >= 2);
    assert.equal((await api(env, t, 'POST', `/jobs/${jobId}/pause`)).status, 200);
    // A claim that read the run before the pause committed may still be dialling: the count is
    // taken once the job itself reads paused (its batch boundary) and those calls have ended.
    await waitForJob(env, jobId, 'paused', 10_000);
    // Such a claim can also commit after the job reads paused (seen on a loaded machine), so the
    // count is the one the database and the provider agree on with no call active, not the
    // provider's count at the first quiet moment.
    const rowsOf = async () => (await env.pool.query<{ n: number }>(`SELECT count(*)::int AS n FROM calls WHERE business_id = $1`, [t.businessId])).rows[0]?.n ?? -1;
    const atProvider = () => [...simCallsTo(env.sim).keys()].filter((to) => leads.some((l) => l.phone === to)).length;
    const placed = await waitFor(async () => {
      const n = await rowsOf();
      return n === atProvider() && !(await activeByBusiness(env)).get(t.businessId) ? n : null;
    }, 'the calls placed before the pause, settled');
    // Paused: nothing new for a few sweeps (the dialer's sweep runs every DIALER_SWEEP_MS = 200).
    await new Promise((r) => setTimeout(r, 1_000));
    assert.equal(await rowsOf(), placed, 'no call placed while paused');
    // A sweep (retries due, calling hours opening) must not dial a paused run either.
    await env.outbound.sweepNow();
    const { rows: after } = await env.pool.query<{ n: number }>(`SELECT count(*)::int AS n FROM calls WHERE business_id = $1`, [t.businessId]);
    assert.equal(after[0]?.n, placed, 'no call placed by the sweep while paused');
    assert.equal((await activeByBusiness(env)).get(t.businessId) ?? 0, 0);
    assert.ok(placed < 16, `paused after ${placed} calls`);
    assert.equal((await api(env, t, 'POST', `/jobs/${jobId}/resume`)).status, 200);
    const done = await waitForJob(env, jobId, 'completed', 20_000);
    assert.equal(done.processed, 16);
    for (const l of leads) assert.equal(simCallsTo(env.sim).get(l.phone), 1);
  });

  test('cancel marks queued items cancelled; the job reports what it did', async () => {
    env.sim.callMs = 300;
    const t = await createTenant(env, { max_outbound_calls: 1 });
    const leads = await makeLeads(env, t, 10);
    const { jobId, runId } = await startRun(env, t, leads.map((l) => l.id));
    await waitForJob(env, jobId, (j) => j.processed >= 1, 10_000);
    assert.equal((await api(env, t, 'POST', `/jobs/${jobId}/cancel`)).status, 200);
    await waitForJob(env, jobId, 'cancelled', 10_000);
    await waitFor(async () => {
      const r = await api(env, t, 'GET', `/outbound/runs/${runId}`);
      const c = r.body.counts as Record<string, number>;
      return c.queued === 0 && c.dialing === 0 && c.calling === 0 ? c : null;
    }, 'queued items cancelled, calls in flight finished', 10_000);
    const r = await api(env, t, 'GET', `/outbound/runs/${runId}`);
    const c = r.body.counts as Record<string, number>;
    assert.ok((c.cancelled ?? 0) >= 5, JSON.stringify(c));
    assert.equal((c.completed ?? 0) + (c.cancelled ?? 0), 10);
  });

  test('do-not-call: skipped by runs, refused for direct calls', async () => {
    const t = await createTenant(env);
    const leads = await makeLeads(env, t, 4);
    const blocked = leads[1];
    assert.ok(blocked);
    assert.equal((await api(env, t, 'POST', '/outbound/dnc', { phone: blocked.phone, reason: 'asked' })).status, 201);
    assert.equal(((await api(env, t, 'GET', '/outbound/dnc')).body.items as unknown[]).length, 1);
    assert.equal((await api(env, t, 'POST', '/outbound/calls', { lead_ids: [blocked.id] })).status, 422);
    const { jobId, runId } = await startRun(env, t, leads.map((l) => l.id));
    const job = await waitForJob(env, jobId, 'completed', 15_000);
    assert.equal(job.processed, 4);
    assert.equal(simCallsTo(env.sim).get(blocked.phone) ?? 0, 0);
    const counts = (await api(env, t, 'GET', `/outbound/runs/${runId}`)).body.counts as Record<string, number>;
    assert.equal(counts.skipped, 1);
    assert.equal((await api(env, t, 'DELETE', `/outbound/dnc/${encodeURIComponent(blocked.phone)}`)).status, 204);
  });

  test('retry policy: busy is retried after the delay up to N attempts', async () => {
    const t = await createTenant(env);
    const leads = await makeLeads(env, t, 2);
    const busyPhone = leads[0]?.phone;
    env.sim.faults.outcomeFor = (to) => (to === busyPhone ? 'busy' : undefined);
    const s = await api(env, t, 'PATCH', '/outbound/settings', { retry: { busy: 2, delay_s: 1 } });
    assert.equal(s.status, 200);
    const { jobId, runId } = await startRun(env, t, leads.map((l) => l.id));
    const job = await waitForJob(env, jobId, 'completed', 20_000);
    assert.deepEqual([job.processed, job.succeeded, job.failed], [2, 1, 1]);
    assert.equal(simCallsTo(env.sim).get(busyPhone ?? ''), 3, 'first call + 2 retries');
    const items = (await api(env, t, 'GET', `/outbound/runs/${runId}/items`)).body.items as Array<{ status: string; attempts: number }>;
    assert.deepEqual(items.map((i) => [i.status, i.attempts]), [['busy', 3], ['completed', 1]]);
  });

  test('calling hours: outside them items wait; opening the window dials them', async () => {
    const t = await createTenant(env);
    const leads = await makeLeads(env, t, 2);
    const now = new Date();
    const hh = (h: number) => `${String(((h % 24) + 24) % 24).padStart(2, '0')}:00`;
    // A one-hour window that starts two hours from now (UTC): closed now.
    assert.equal((await api(env, t, 'PATCH', '/outbound/settings', { calling_hours: { start: hh(now.getUTCHours() + 2), end: hh(now.getUTCHours() + 3) } })).status, 200);
    const { jobId, runId } = await startRun(env, t, leads.map((l) => l.id));
    await env.outbound.sweepNow();
    await waitForJob(env, jobId, (j) => j.status === 'queued' || j.status === 'running');
    const counts = (await api(env, t, 'GET', `/outbound/runs/${runId}`)).body.counts as Record<string, number>;
    assert.equal(counts.queued, 2);
    assert.equal(simCallsTo(env.sim).get(leads[0]?.phone ?? '') ?? 0, 0);
    assert.equal((await api(env, t, 'PATCH', '/outbound/settings', { calling_hours: null })).status, 200);
    await waitForJob(env, jobId, 'completed', 15_000);
  });
});
