import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { createTenant, waitForJob } from '../helpers/harness.js';
import { activeByBusiness, api, makeLeads, simCallsTo, startOutboundEnv, startRun, type OutboundEnv } from './helpers.js';

let env: OutboundEnv;

before(async () => {
  env = await startOutboundEnv();
});

after(async () => {
  await env.close();
});

describe('runs', () => {
  test('a run calls every lead once and completes; progress = calls ended', async () => {
    const t = await createTenant(env);
    const leads = await makeLeads(env, t, 12);
    const { jobId, runId } = await startRun(env, t, leads.map((l) => l.id));
    let maxActive = 0;
    const sampler = setInterval(() => {
      void activeByBusiness(env).then((m) => (maxActive = Math.max(maxActive, m.get(t.businessId) ?? 0)));
    }, 5);
    const job = await waitForJob(env, jobId, 'completed', 20_000);
    clearInterval(sampler);
    assert.equal(job.total, 12);
    assert.equal(job.processed, 12);
    assert.equal(job.succeeded, 12);
    assert.ok(maxActive <= 3, `max active ${maxActive}`);
    const perTo = simCallsTo(env.sim);
    for (const l of leads) assert.equal(perTo.get(l.phone), 1, `lead ${l.id} called once`);
    const run = await api(env, t, 'GET', `/outbound/runs/${runId}`);
    assert.equal(run.status, 200);
    assert.equal(run.body.status, 'completed');
    assert.equal((run.body.counts as Record<string, number>).completed, 12);
    const items = await api(env, t, 'GET', `/outbound/runs/${runId}/items?limit=5`);
    assert.equal((items.body.items as unknown[]).length, 5);
    assert.ok(items.body.next_cursor);
  });
});
