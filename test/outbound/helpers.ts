import type { TestEnv, Tenant } from '../helpers/harness.js';
import { startTestEnv, waitFor } from '../helpers/harness.js';
import { isOutboundModule, type OutboundModule } from '../../src/outbound/module.js';
import type { TwilioSimulator } from '../../src/providers/telephony/simulator.js';

/**
 * Every callee a person who presses nothing. The simulator's defaults have 5 % of callees press 9,
 * which puts the number on the do-not-call list: a test that counts calls or lists a business's
 * numbers must not depend on that draw (call-flows.test.ts scripts machines and keys per number).
 */
export const QUIET_CALLEES: Record<string, string> = { SIM_ANSWERED_BY: 'human:1', SIM_DIGITS: 'none:1' };

/** Fast simulated calls, calling hours always open, a quick sweeper. */
export const OUTBOUND_ENV: Record<string, string> = {
  SIM_CALL_MS: '60',
  SIM_OUTCOMES: 'completed:1',
  ...QUIET_CALLEES,
  DIALER_CALLING_HOURS: '00:00-24:00',
  DIALER_SWEEP_MS: '200',
  DIALER_RUN_POLL_MS: '2000',
  DIALER_CHECK_AFTER_MS: '1500',
  DIALER_UNCONFIRMED_AFTER_MS: '1500',
  DIALER_CREATE_TIMEOUT_MS: '1000',
  TWILIO_CPS: '1000',
  WORKER_CONCURRENCY: '8',
};

export interface OutboundEnv extends TestEnv {
  outbound: OutboundModule;
  sim: TwilioSimulator;
}

export async function startOutboundEnv(env: Record<string, string> = {}, opts: { worker?: boolean } = {}): Promise<OutboundEnv> {
  const base = await startTestEnv({ listen: true, env: { ...OUTBOUND_ENV, ...env }, worker: opts.worker ?? true });
  const outbound = base.modules.find(isOutboundModule);
  if (!outbound) throw new Error('no outbound module');
  const sim = outbound.simulator;
  if (!sim) throw new Error('no in-process simulator');
  return Object.assign(base, { outbound, sim });
}

/** Leads inserted directly (fast); valid phones unique across 800 businesses: +1 212 <200 + business % 800> <i:4>. */
export async function makeLeads(env: TestEnv, t: Tenant, n: number): Promise<Array<{ id: number; phone: string }>> {
  const { rows } = await env.pool.query<{ id: number; phone: string }>(
    `INSERT INTO leads (business_id, phone, name)
     SELECT $1::bigint, '+1212' || (200 + $1::bigint % 800)::text || lpad(i::text, 4, '0'), 'Lead ' || i
       FROM generate_series(1, $2) i
     RETURNING id, phone`,
    [t.businessId, n],
  );
  return rows;
}

export async function api(env: TestEnv, t: Tenant, method: 'GET' | 'POST' | 'PATCH' | 'DELETE', url: string, payload?: unknown) {
  const res = await env.app.inject({ method, url: `/api/v1${url}`, headers: t.headers, ...(payload === undefined ? {} : { payload: payload as Record<string, unknown> }) });
  return { status: res.statusCode, body: res.body ? (safeJson(res.body) as Record<string, unknown>) : {}, headers: res.headers, raw: res.rawPayload };
}

function safeJson(s: string): unknown {
  try {
    return JSON.parse(s);
  } catch {
    return { text: s };
  }
}

export async function startRun(env: TestEnv, t: Tenant, leadIds: number[], concurrency?: number): Promise<{ jobId: number; runId: number }> {
  const res = await api(env, t, 'POST', '/outbound/runs', { lead_ids: leadIds, ...(concurrency ? { concurrency } : {}) });
  if (res.status !== 202) throw new Error(`run: ${res.status} ${JSON.stringify(res.body)}`);
  return { jobId: Number(res.body.job_id), runId: Number(res.body.run_id) };
}

export async function activeByBusiness(env: TestEnv): Promise<Map<number, number>> {
  const { rows } = await env.pool.query<{ business_id: number; n: number }>(
    `SELECT business_id, count(*)::int AS n FROM calls
      WHERE status IN ('dialing', 'queued', 'initiated', 'ringing', 'in-progress') GROUP BY business_id`,
  );
  return new Map(rows.map((r) => [r.business_id, r.n]));
}

export async function waitForNoActiveCalls(env: TestEnv, businessId: number, timeoutMs = 20_000): Promise<void> {
  await waitFor(async () => !(await activeByBusiness(env)).get(businessId), `no active calls for business ${businessId}`, timeoutMs);
}

/** Calls the simulator received per destination number. */
export function simCallsTo(sim: TwilioSimulator): Map<string, number> {
  const m = new Map<string, number>();
  for (const c of sim.calls.values()) m.set(c.to, (m.get(c.to) ?? 0) + 1);
  return m;
}
