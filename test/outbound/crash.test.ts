import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { SIM_TWILIO_ACCOUNT_SID, SIM_TWILIO_AUTH_TOKEN } from '../../src/config/config.js';
import { createLogger } from '../../src/lib/logger.js';
import { createTwilioSimulator, type TwilioSimulator } from '../../src/providers/telephony/simulator.js';
import { createTenant, startTestEnv, waitFor, waitForJob, type TestEnv } from '../helpers/harness.js';
import { spawnTs, type Child } from '../helpers/processes.js';
import { api, makeLeads, OUTBOUND_ENV, simCallsTo, startRun } from './helpers.js';

/**
 * kill -9 of a real worker process in the middle of a run: the API (this process) keeps taking
 * the simulator's callbacks, another worker process rescues the run, unconfirmed dials of the
 * dead one are reconciled, and no lead is ever called twice.
 */
let sim: TwilioSimulator;
let env: TestEnv;
const children: Child[] = [];

before(async () => {
  // Every callee a person who presses nothing: the calls are bridged to agents (the connect flow below).
  sim = createTwilioSimulator({ accountSid: SIM_TWILIO_ACCOUNT_SID, authToken: SIM_TWILIO_AUTH_TOKEN, callMs: 400, outcomes: 'completed:1', answeredBy: 'human:1', digits: 'none:1', log: createLogger('silent') });
  await sim.start();
  env = await startTestEnv({ listen: true, worker: false, env: { ...OUTBOUND_ENV, TWILIO_API_BASE: sim.url } });
});

after(async () => {
  for (const c of children) c.kill('SIGKILL');
  await Promise.all(children.map((c) => c.exited));
  await env.close();
  await sim.stop();
});

async function dialerWorker(): Promise<Child> {
  const c = await spawnTs('test/fixtures/dialer-worker.ts', {
    ...OUTBOUND_ENV,
    DATABASE_URL: env.url,
    TWILIO_API_BASE: sim.url,
    PUBLIC_BASE_URL: env.baseUrl,
    WORKER_HEARTBEAT_MS: '200',
    WORKER_STALE_MS: '1500',
    LOG_LEVEL: 'warn',
  });
  children.push(c);
  return c;
}

test('kill -9 of the worker mid-run, with bridged calls in flight: no lead called twice, every outcome settled, the run finishes', async () => {
  const t = await createTenant(env, { max_outbound_calls: 3 });
  const flow = await api(env, t, 'PATCH', '/outbound/settings', { call_flow: { kind: 'connect', agents: ['+972501234567', '+972521234568'], strategy: 'simultaneous' } });
  assert.equal(flow.status, 200, JSON.stringify(flow.body));
  const leads = await makeLeads(env, t, 30);
  const a = await dialerWorker();
  const { jobId, runId } = await startRun(env, t, leads.map((l) => l.id));
  await waitForJob(env, jobId, (j) => j.processed >= 6, 30_000);
  a.kill('SIGKILL');
  await a.exited;
  const b = await dialerWorker();
  const done = await waitForJob(env, jobId, 'completed', 60_000);
  assert.equal(done.processed, 30);
  const perTo = simCallsTo(sim);
  for (const l of leads) assert.ok((perTo.get(l.phone) ?? 0) <= 1, `lead ${l.id} called ${perTo.get(l.phone)} times`);
  const { rows } = await env.pool.query<{ lead_id: number; n: number }>(
    `SELECT lead_id, count(*)::int AS n FROM calls WHERE business_id = $1 AND run_id = $2 GROUP BY lead_id`,
    [t.businessId, runId],
  );
  assert.equal(rows.length, 30);
  for (const r of rows) assert.equal(r.n, 1, `lead ${r.lead_id}: one call row`);
  const { rows: failed } = await env.pool.query<{ n: number; placed: number }>(
    `SELECT count(*) FILTER (WHERE status = 'failed')::int AS n, count(call_sid)::int AS placed FROM calls WHERE business_id = $1`,
    [t.businessId],
  );
  // A dial cut off by the kill is reported failed, never placed twice; every placed call is known.
  assert.equal(failed[0]?.placed, sim.calls.size);
  await waitFor(async () => {
    const r = await env.pool.query<{ n: number }>(`SELECT count(*)::int AS n FROM calls WHERE business_id = $1 AND status IN ('dialing','queued','initiated','ringing','in-progress')`, [t.businessId]);
    return r.rows[0]?.n === 0;
  }, 'all slots free');
  // The call flows ran on the API's webhooks while the worker died: every call has its outcome.
  const { rows: outcomes } = await env.pool.query<{ outcome: string | null; n: number }>(
    `SELECT outcome, count(*)::int AS n FROM calls WHERE business_id = $1 GROUP BY outcome`,
    [t.businessId],
  );
  assert.ok(outcomes.every((o) => o.outcome !== null), JSON.stringify(outcomes));
  assert.ok((outcomes.find((o) => o.outcome === 'connected')?.n ?? 0) > 0, `some calls bridged: ${JSON.stringify(outcomes)}`);
  b.kill('SIGTERM');
  assert.equal(await b.exited, 0);
});
