/**
 * The five chaos scenarios. Each drives a running Cluster, checks the invariants while it runs
 * and after the load drained, and returns figures and checks for the report. Sizes are
 * parameters, so `npm run chaos`, `--quick` and test/chaos/chaos.test.ts run the same code.
 */
import { readRss } from '../lib/child.js';
import { OPERATIONS } from '../../src/gate/operations.js';
import { Http, HttpStats, createTenants, uniquePhone, type Tenant } from './lib/client.js';
import type { Cluster } from './lib/cluster.js';
import {
  InvariantMonitor, callChecks, check, countChecks, drainJobs, gateChecks, jobChecks, jobStates, messageChecks, tableStats, type Check,
} from './lib/invariants.js';
import { MixedLoad, resumer, type LoadOptions, type TenantState } from './lib/load.js';

export interface ScenarioResult {
  name: string;
  title: string;
  seconds: number;
  figures: Array<[string, string]>;
  checks: Check[];
}

export interface Ctx {
  cluster: Cluster;
  progress: (m: string) => void;
}

interface SimStats {
  twilio: { calls: number; active: number; creates: number; createFailures: number; callbacksFailed: number; recordingDownloads: number; duplicateCalls: unknown[]; proxy: Record<string, number> };
  whatsapp: { accepted: number; refusals: Record<string, number>; webhookFailures: number; duplicateMessages: unknown[]; proxy: Record<string, number> };
}

// Operations without a rate limit (ratePerMinute 0: a play's download, a call's transcription) are
// not the gate's to count.
const RATE_LIMITS: Record<string, number> = Object.fromEntries(
  Object.entries(OPERATIONS).filter(([, v]) => v.ratePerMinute > 0).map(([k, v]) => [k, v.ratePerMinute]),
);

const fmt = (n: number, digits = 0) => n.toLocaleString('en-US', { maximumFractionDigits: digits, minimumFractionDigits: digits });
const mb = (bytes: number) => `${fmt(bytes / 2 ** 20)} MB`;

/** Businesses with `leads` leads each, inserted directly (setup, not under test). */
async function setupTenants(ctx: Ctx, http: Http, count: number, leads: number, opts: { rateLimits?: Record<string, number> } = {}): Promise<TenantState[]> {
  const tenants = await createTenants(http, ctx.cluster.apiUrl(0), count, opts);
  const states: TenantState[] = [];
  for (const t of tenants) {
    const phones = Array.from({ length: leads }, () => uniquePhone());
    const { rows } = await ctx.cluster.pool.query<{ id: number }>(
      `INSERT INTO leads (business_id, phone, name) SELECT $1, p, 'Seed' FROM unnest($2::text[]) p RETURNING id`,
      [t.businessId, phones],
    );
    states.push({ tenant: t, leadIds: rows.map((r) => r.id), jobIds: new Set() });
  }
  return states;
}

function tokenMap(states: TenantState[]): Map<number, string> {
  return new Map(states.map((s) => [s.tenant.businessId, s.tenant.token]));
}

function httpFigures(stats: HttpStats, seconds: number): Array<[string, string]> {
  const total = stats.requests;
  return [
    ['HTTP requests', `${fmt(total)} (${fmt(total / seconds)} req/s)`],
    latencyFigure(stats),
    ['answers', `2xx ${fmt(stats.count((s) => s < 300))}, 429 ${fmt(stats.count((s) => s === 429))}, other 4xx ${fmt(stats.count((s) => s >= 400 && s < 500 && s !== 429))}, 5xx ${fmt(stats.count((s) => s >= 500))}`],
  ];
}

/** Mean and max latency of the slowest operations (where the time went). */
function latencyFigure(stats: HttpStats): [string, string] {
  const ops = [...stats.ops].map(([op, o]) => ({ op, mean: o.totalMs / o.n, max: o.maxMs, n: o.n })).sort((a, b) => b.mean - a.mean);
  return ['latency by operation (mean / max ms, n), slowest first', ops.map((o) => `${o.op} ${fmt(o.mean)}/${fmt(o.max)} (${o.n})`).join('; ')];
}

function httpChecks(stats: HttpStats): Check[] {
  const samples = stats.serverErrors.slice(0, 3).map((e) => `${e.op} ${e.status} ${e.body}`).join(' | ');
  return [
    check('no 5xx answer', '0', stats.fiveXx === 0 ? '0' : `${stats.fiveXx}: ${samples}`, stats.fiveXx === 0),
    check('no connection error', '0', stats.networkErrors === 0 ? '0' : `${stats.networkErrors}: ${stats.networkErrorSamples.slice(0, 2).join(' | ')}`, stats.networkErrors === 0),
  ];
}

async function simStats(ctx: Ctx): Promise<SimStats> {
  return ctx.cluster.simControl<SimStats>('/stats');
}

async function outcomeChecks(ctx: Ctx, ids: number[]): Promise<Check[]> {
  const sim = await simStats(ctx);
  const dead = ctx.cluster.dead();
  return [
    check('no service process died by itself', '0', dead.length === 0 ? '0' : dead.map((d) => `${d.role} ${d.index}: ${d.tail.find((l) => /Error/.test(l)) ?? d.tail.at(-1) ?? ''}`).join(' | '), dead.length === 0),
    ...(await countChecks(ctx.cluster.pool, ids)),
    ...(await callChecks(ctx.cluster.pool, sim.twilio)),
    ...(await messageChecks(ctx.cluster.pool, sim.whatsapp)),
  ];
}

function acceptedFigure(load: MixedLoad): [string, string] {
  const parts = [...load.acceptedByType].sort((a, b) => b[1] - a[1]).map(([t, n]) => `${t} ${n}`).join(', ');
  const refusals = [...load.gateRefusals].map(([c, n]) => `${c} ${n}`).join(', ');
  return ['jobs accepted (202)', `${load.accepted.size}: ${parts}${refusals ? `; gate refusals: ${refusals}` : ''}`];
}

// -------------------------------------------------------------------------------------------

export interface MixedSizes {
  clients: number;
  businesses: number;
  leadsPerBusiness: number;
  durationMs: number;
  drainMs: number;
}

export async function mixedLoad(ctx: Ctx, s: MixedSizes): Promise<ScenarioResult> {
  const t0 = performance.now();
  const stats = new HttpStats();
  const http = new Http(stats);
  const states = await setupTenants(ctx, http, s.businesses, s.leadsPerBusiness);
  const statsLoad = new HttpStats();
  const loadHttp = new Http(statsLoad);
  const monitor = new InvariantMonitor(ctx.cluster.pool).start();
  const simBefore = await simStats(ctx);
  const load = new MixedLoad(loadHttp, states, { clients: s.clients, durationMs: s.durationMs, bases: () => ctx.cluster.apis.map((a) => a.url) });
  ctx.progress(`mixed: ${s.clients} clients × ${s.durationMs / 1000} s over ${s.businesses} businesses`);
  const loadStart = performance.now();
  await load.run();
  const loadS = (performance.now() - loadStart) / 1000;
  ctx.progress(`mixed: load done (${fmt(statsLoad.requests)} requests), draining ${load.accepted.size} jobs`);
  const ids = [...load.accepted];
  const summary = await drainJobs(ctx.cluster.pool, ids, s.drainMs, resumer(http, () => ctx.cluster.apiUrl(0), tokenMap(states)));
  await monitor.stop();
  const sim = await simStats(ctx);
  return {
    name: 'mixed',
    title: `mixed load: ${s.clients} clients for ${s.durationMs / 1000} s over ${s.businesses} businesses, 3 API + 3 worker processes`,
    seconds: (performance.now() - t0) / 1000,
    figures: [
      ...httpFigures(statsLoad, loadS),
      acceptedFigure(load),
      ['calls placed (simulator)', fmt(sim.twilio.calls - simBefore.twilio.calls)],
      ['messages accepted (simulator)', fmt(sim.whatsapp.accepted - simBefore.whatsapp.accepted)],
      ['recording downloads (simulator)', fmt(sim.twilio.recordingDownloads - simBefore.twilio.recordingDownloads)],
      ['invariant samples', `${monitor.samples} (every 200 ms)`],
    ],
    checks: [
      ...httpChecks(statsLoad),
      ...monitor.checks(),
      ...(await gateChecks(ctx.cluster.pool, RATE_LIMITS)),
      ...jobChecks(summary),
      ...(await outcomeChecks(ctx, ids)),
    ],
  };
}

// -------------------------------------------------------------------------------------------

export interface KillSizes {
  clients: number;
  durationMs: number;
  killEveryMs: number;
  drainMs: number;
}

/** Work that must complete: no job control, bigger bulk jobs, runs and broadcasts. */
const JOB_HEAVY: LoadOptions['weights'] = {
  job_control: 0, delete_receipts: 0, direct_call: 0, list_leads: 2, get_lead: 2, add_note: 2, create_lead: 6,
  import: 6, bulk_update: 6, bulk_delete: 3, run: 8, broadcast: 8, recording: 3, receipt: 2, get_job: 4,
};

export async function killWorkers(ctx: Ctx, s: KillSizes): Promise<ScenarioResult> {
  const t0 = performance.now();
  const http = new Http(new HttpStats());
  const states = await setupTenants(ctx, http, s.clients, 200, { rateLimits: { update_leads_bulk: 30, import_leads: 30, broadcast_whatsapp: 30, delete_leads_bulk: 30 } });
  const stats = new HttpStats();
  const monitor = new InvariantMonitor(ctx.cluster.pool).start();
  const load = new MixedLoad(new Http(stats), states, {
    clients: s.clients, durationMs: s.durationMs, bases: () => ctx.cluster.apis.map((a) => a.url), weights: JOB_HEAVY, runSize: 8, thinkMs: 200,
  });
  const kills: number[] = [];
  let killing = true;
  const killer = (async () => {
    while (killing) {
      await new Promise((r) => setTimeout(r, s.killEveryMs * (0.5 + Math.random())));
      if (!killing) break;
      const i = Math.floor(Math.random() * ctx.cluster.workers.length);
      const pid = await ctx.cluster.killWorker(i);
      if (pid === null) continue;
      kills.push(pid);
      ctx.progress(`kill: kill -9 of worker ${i} (${kills.length} so far)`);
    }
  })();
  ctx.progress(`kill: ${s.clients} clients × ${s.durationMs / 1000} s, a worker killed every ~${s.killEveryMs / 1000} s`);
  await load.run();
  killing = false;
  await killer;
  await ctx.cluster.restarted();
  const ids = [...load.accepted];
  ctx.progress(`kill: draining ${ids.length} jobs`);
  const summary = await drainJobs(ctx.cluster.pool, ids, s.drainMs);
  await monitor.stop();
  const completed = summary.byStatus.completed ?? 0;
  return {
    name: 'kill-9',
    title: `kill -9 of a random worker process every ~${s.killEveryMs / 1000} s for ${s.durationMs / 1000} s (restarted at once), ${s.clients} clients`,
    seconds: (performance.now() - t0) / 1000,
    figures: [
      ['workers killed (kill -9)', String(kills.length)],
      acceptedFigure(load),
      ...httpFigures(stats, s.durationMs / 1000),
    ],
    checks: [
      check('every accepted job completed (no job control in this load)', `${ids.length}`, `${completed} completed, ${summary.failed.length} failed${summary.failed[0] ? ` (${summary.failed[0].type}: ${summary.failed[0].last_error ?? ''})` : ''}`, completed === ids.length),
      ...jobChecks(summary),
      ...monitor.checks(),
      ...(await outcomeChecks(ctx, ids)),
      ...httpChecks(stats),
    ],
  };
}

// -------------------------------------------------------------------------------------------

export interface RestartSizes {
  clients: number;
  durationMs: number;
  restartAtMs: number;
  downMs: number;
  drainMs: number;
}

async function allReady(ctx: Ctx): Promise<boolean> {
  const answers = await Promise.all(ctx.cluster.apis.map((a) => fetch(`${a.url}/readyz`, { signal: AbortSignal.timeout(2_000) }).then((r) => r.status, () => 0)));
  return answers.every((s) => s === 200);
}

export async function restartPostgres(ctx: Ctx, s: RestartSizes): Promise<ScenarioResult> {
  const t0 = performance.now();
  const http = new Http(new HttpStats());
  const states = await setupTenants(ctx, http, s.clients, 100, { rateLimits: { update_leads_bulk: 30, import_leads: 30, broadcast_whatsapp: 30, delete_leads_bulk: 30 } });
  const stats = new HttpStats();
  const monitor = new InvariantMonitor(ctx.cluster.pool).start();
  const load = new MixedLoad(new Http(stats), states, {
    clients: s.clients, durationMs: s.durationMs, bases: () => ctx.cluster.apis.map((a) => a.url), weights: JOB_HEAVY, runSize: 6, thinkMs: 200,
  });
  const pidsBefore = ctx.cluster.allPids();
  let downMs = 0;
  let recoveredMs = 0;
  const restarter = (async () => {
    await new Promise((r) => setTimeout(r, s.restartAtMs));
    ctx.progress('pg-restart: stopping PostgreSQL (fast shutdown)');
    stats.outage = true;
    const t = performance.now();
    downMs = await ctx.cluster.restartDatabase(s.downMs);
    ctx.progress(`pg-restart: PostgreSQL back after ${fmt(downMs)} ms; waiting for every API to be ready`);
    while (!(await allReady(ctx))) await new Promise((r) => setTimeout(r, 100));
    // The pools notice dead connections on use; a few requests may still hit one. Give them a second.
    await new Promise((r) => setTimeout(r, 1_000));
    recoveredMs = performance.now() - t;
    stats.outage = false;
  })();
  await load.run();
  await restarter;
  // Work accepted after the restart must run too: a fresh bulk job per tenant, on new connections.
  const probeIds: number[] = [];
  const probes = await setupTenants(ctx, http, 3, 50);
  for (const st of probes) {
    const a = await http.call<{ job_id?: number }>(ctx.cluster.apiUrl(0), 'probe', 'POST', '/api/v1/leads/bulk-update', { token: st.tenant.token, body: { lead_ids: st.leadIds.slice(0, 50), set: { status: 'after-restart' } } });
    if (a?.status === 202 && typeof a.body.job_id === 'number') probeIds.push(a.body.job_id);
  }
  const ids = [...load.accepted, ...probeIds];
  ctx.progress(`pg-restart: draining ${ids.length} jobs`);
  const summary = await drainJobs(ctx.cluster.pool, ids, s.drainMs);
  await monitor.stop();
  const alive = await ctx.cluster.pool.query<{ n: number }>(
    `SELECT count(DISTINCT pid)::int AS n FROM workers WHERE stopped_at IS NULL AND heartbeat_at > now() - interval '5 seconds' AND pid = ANY($1::int[])`,
    [pidsBefore],
  );
  const samePids = ctx.cluster.allPids().every((p, i) => p === pidsBefore[i]);
  const workersAlive = alive.rows[0]?.n ?? 0;
  return {
    name: 'pg-restart',
    title: `PostgreSQL fast shutdown + restart (same port and data) under load, ${s.clients} clients for ${s.durationMs / 1000} s`,
    seconds: (performance.now() - t0) / 1000,
    figures: [
      ['database unreachable', `${fmt(downMs)} ms (stop, ${s.downMs} ms down, start)`],
      ['all APIs ready again after', `${fmt(recoveredMs)} ms from the stop`],
      ['answers during the outage', `5xx ${stats.outage5xx} (${[...stats.outageStatuses].map(([k, v]) => `${k}: ${v}`).join(', ') || 'none'}), connection errors ${stats.outageNetworkErrors} (expected: the database is down)`],
      acceptedFigure(load),
      ...httpFigures(stats, s.durationMs / 1000),
    ],
    checks: [
      check('no process restarted by hand (same pids)', 'all', samePids ? 'all the same' : 'changed', samePids),
      check('every worker heartbeats again after the restart', `${ctx.cluster.workers.length}`, String(workersAlive), workersAlive === ctx.cluster.workers.length),
      check('jobs accepted after the restart complete', `${probeIds.length}`, String(probeIds.filter((id) => !summary.notTerminal.includes(id)).length), probeIds.length > 0 && probeIds.every((id) => !summary.notTerminal.includes(id))),
      ...jobChecks(summary),
      check('no 5xx outside the outage window', '0', String(stats.fiveXx), stats.fiveXx === 0),
      check('during the outage: 503 with Retry-After, never a 500', '0 × 500', `${stats.outageStatuses.get(500) ?? 0} × 500`, (stats.outageStatuses.get(500) ?? 0) === 0),
      ...monitor.checks(),
      ...(await outcomeChecks(ctx, ids)),
    ],
  };
}

// -------------------------------------------------------------------------------------------

export interface FaultSizes {
  clients: number;
  durationMs: number;
  drainMs: number;
}

export async function providerFaults(ctx: Ctx, s: FaultSizes): Promise<ScenarioResult> {
  const t0 = performance.now();
  const http = new Http(new HttpStats());
  const states = await setupTenants(ctx, http, s.clients, 100, { rateLimits: { enqueue_outbound_calls: 6, broadcast_whatsapp: 30 } });
  const before = await simStats(ctx);
  const failedBefore = await ctx.cluster.pool.query<{ n: number }>(`SELECT count(*)::int AS n FROM run_items WHERE status = 'failed'`);
  await ctx.cluster.simControl('/faults', {
    twilio: { proxy: { failRatio: 0.15, failAfterForward: 5, delayMs: 300 }, dropFinalCallbacks: 10, duplicateCallbacks: true, reorderCallbacks: true },
    whatsapp: { proxy: { failRatio: 0.15, failAfterForward: 5, delayMs: 200 } },
  });
  const stats = new HttpStats();
  const monitor = new InvariantMonitor(ctx.cluster.pool).start();
  const load = new MixedLoad(new Http(stats), states, {
    clients: s.clients, durationMs: s.durationMs, bases: () => ctx.cluster.apis.map((a) => a.url), runSize: 6, thinkMs: 200,
    weights: { ...JOB_HEAVY, import: 0, bulk_update: 0, bulk_delete: 0, run: 10, broadcast: 10, direct_call: 2 },
  });
  ctx.progress(`faults: ${s.clients} clients × ${s.durationMs / 1000} s with provider faults on`);
  await load.run();
  await ctx.cluster.simControl('/faults/reset', {});
  const ids = [...load.accepted];
  ctx.progress(`faults: faults off, draining ${ids.length} jobs`);
  const summary = await drainJobs(ctx.cluster.pool, ids, s.drainMs);
  await monitor.stop();
  const after = await simStats(ctx);
  const pool = ctx.cluster.pool;
  const items = await pool.query<{ failed: number; unexplained: number }>(
    `SELECT (count(*) FILTER (WHERE status = 'failed'))::int - $1::int AS failed,
            count(*) FILTER (WHERE status = 'failed' AND (error IS NULL OR error = ''))::int AS unexplained
       FROM run_items`,
    [failedBefore.rows[0]?.n ?? 0],
  );
  const recips = await pool.query<{ failed: number; unexplained: number; reasons: string | null }>(
    `SELECT count(*) FILTER (WHERE status = 'failed')::int AS failed,
            count(*) FILTER (WHERE status IN ('failed', 'skipped') AND reason IS NULL AND error_code IS NULL)::int AS unexplained,
            string_agg(DISTINCT reason, ', ') AS reasons
       FROM whatsapp_recipients r JOIN whatsapp_broadcasts b ON b.id = r.broadcast_id WHERE b.job_id = ANY($1::bigint[])`,
    [ids],
  );
  const d = (k: keyof SimStats['twilio']['proxy'], side: 'twilio' | 'whatsapp') => (after[side].proxy[k] ?? 0) - (before[side].proxy[k] ?? 0);
  const it = items.rows[0] ?? { failed: 0, unexplained: 0 };
  const rc = recips.rows[0] ?? { failed: 0, unexplained: 0, reasons: null };
  return {
    name: 'provider-faults',
    title: `provider faults for ${s.durationMs / 1000} s: 15 % 5xx, answers lost after the provider acted, 200–300 ms slow answers, lost / duplicated / reordered call callbacks`,
    seconds: (performance.now() - t0) / 1000,
    figures: [
      ['Twilio create-call faults injected', `${d('failedBefore', 'twilio')} 503 before, ${d('failedAfter', 'twilio')} 500 after the call was placed, ${d('delayed', 'twilio')} delayed`],
      ['WhatsApp send faults injected', `${d('failedBefore', 'whatsapp')} 503 before, ${d('failedAfter', 'whatsapp')} 500 after the message was accepted, ${d('delayed', 'whatsapp')} delayed`],
      ['failures reported', `run items failed ${it.failed}; recipients failed ${rc.failed} (reasons: ${rc.reasons ?? 'none'})`],
      acceptedFigure(load),
      ...httpFigures(stats, s.durationMs / 1000),
    ],
    checks: [
      check('every failed run item / recipient says why', '0 unexplained', `${it.unexplained + rc.unexplained}`, it.unexplained + rc.unexplained === 0),
      ...jobChecks(summary),
      ...monitor.checks(),
      ...(await outcomeChecks(ctx, ids)),
      ...httpChecks(stats),
    ],
  };
}

// -------------------------------------------------------------------------------------------

export interface SoakSizes {
  leads: number;
  businesses: number;
  drainMs: number;
}

const SOAK_TABLES = ['leads', 'jobs', 'imports', 'import_chunks', 'lead_notes', 'calls', 'whatsapp_recipients'];

export async function soak(ctx: Ctx, s: SoakSizes): Promise<ScenarioResult> {
  const t0 = performance.now();
  const stats = new HttpStats();
  const http = new Http(stats);
  const pool = ctx.cluster.pool;
  const tenants: Tenant[] = await createTenants(http, ctx.cluster.apiUrl(0), s.businesses, { rateLimits: { import_leads: 100, update_leads_bulk: 100, delete_imported_leads: 100 } });
  const perBusiness = Math.ceil(s.leads / s.businesses);
  const IMPORT_MAX = 100_000;
  const rss = new Map<number, number[]>();
  const sampler = setInterval(() => {
    for (const w of ctx.cluster.workers) {
      void readRss(w.service.pid).then((b) => {
        if (b === null) return;
        const list = rss.get(w.service.pid) ?? [];
        list.push(b);
        rss.set(w.service.pid, list);
      });
    }
  }, 500);
  const phases: Array<[string, string]> = [];
  const all: number[] = [];
  const phase = async (name: string, submit: () => Promise<number[]>) => {
    const start = performance.now();
    const ids = await submit();
    all.push(...ids);
    const summary = await drainJobs(pool, ids, s.drainMs);
    const secs = (performance.now() - start) / 1000;
    phases.push([`${name}: ${fmt(s.leads)} leads`, `${fmt(secs, 1)} s (${fmt(s.leads / secs)} leads/s), ${ids.length} jobs, ${Object.entries(summary.byStatus).map(([k, v]) => `${k} ${v}`).join(', ')}`]);
    ctx.progress(`soak: ${name} done in ${fmt(secs, 1)} s`);
    return summary;
  };
  const accept = (a: { status: number; body: Record<string, unknown> } | null): number => {
    if (a?.status !== 202 || typeof a.body.job_id !== 'number') throw new Error(`soak request answered ${a?.status}: ${JSON.stringify(a?.body)}`);
    return a.body.job_id;
  };
  const base = () => ctx.cluster.apiUrl(Math.floor(Math.random() * ctx.cluster.apis.length));

  ctx.progress(`soak: importing ${fmt(s.leads)} leads over ${s.businesses} businesses`);
  const imported = await phase('import (import_leads)', async () => {
    const ids: number[] = [];
    for (const t of tenants) {
      for (let done = 0; done < perBusiness; done += IMPORT_MAX) {
        const n = Math.min(IMPORT_MAX, perBusiness - done);
        const csv = `phone,name\n${Array.from({ length: n }, () => `${uniquePhone()},Soak`).join('\n')}\n`;
        ids.push(accept(await http.call(base(), 'POST /leads/import', 'POST', '/api/v1/leads/import', { token: t.token, raw: csv, timeoutMs: 120_000 })));
      }
    }
    return ids;
  });
  const leadIds = async (t: Tenant) => (await pool.query<{ id: number }>(`SELECT id FROM leads WHERE business_id = $1 ORDER BY id`, [t.businessId])).rows.map((r) => r.id);
  const updated = await phase('update (update_leads_bulk)', async () => {
    const ids: number[] = [];
    for (const t of tenants) {
      const lids = await leadIds(t);
      for (let i = 0; i < lids.length; i += IMPORT_MAX) {
        ids.push(accept(await http.call(base(), 'POST /leads/bulk-update', 'POST', '/api/v1/leads/bulk-update', { token: t.token, body: { lead_ids: lids.slice(i, i + IMPORT_MAX), set: { status: 'contacted', tags_add: ['soak'] } }, timeoutMs: 120_000 })));
        // One active update per business at a time (the gate's lock): wait for this one.
        await drainJobs(pool, ids.slice(-1), s.drainMs);
      }
    }
    return ids;
  });
  const deadBefore = await tableStats(pool, SOAK_TABLES);
  const deleted = await phase('delete (delete_imported_leads)', async () => {
    const ids: number[] = [];
    for (const t of tenants) ids.push(accept(await http.call(base(), 'POST /leads/imported/bulk-delete', 'POST', '/api/v1/leads/imported/bulk-delete', { token: t.token, body: { all: true } })));
    return ids;
  });
  clearInterval(sampler);
  const left = await pool.query<{ n: number }>(`SELECT count(*)::int AS n FROM leads WHERE business_id = ANY($1::bigint[])`, [tenants.map((t) => t.businessId)]);
  const sums = await pool.query<{ type: string; succeeded: number }>(
    `SELECT type, sum(succeeded)::int AS succeeded FROM jobs WHERE business_id = ANY($1::bigint[]) GROUP BY type`, [tenants.map((t) => t.businessId)],
  );
  const succeeded = Object.fromEntries(sums.rows.map((r) => [r.type, r.succeeded]));
  const imports = await pool.query<{ inserted: number }>(`SELECT coalesce(sum(inserted), 0)::int AS inserted FROM imports WHERE business_id = ANY($1::bigint[])`, [tenants.map((t) => t.businessId)]);
  const expected = perBusiness * s.businesses;

  // Retention: finished jobs older than JOB_RETENTION_DAYS go, recent and active ones stay.
  const bid = tenants[0]?.businessId ?? 0;
  await pool.query(
    `INSERT INTO jobs (business_id, type, queue, status, params_hash, total, processed, created_at, finished_at)
     SELECT $1, 'delete_receipts_all', 'maintenance', 'completed', 'old-' || i, 0, 0, now() - interval '60 days', now() - interval '59 days'
       FROM generate_series(1, 2500) i`,
    [bid],
  );
  const pruneDeadline = Date.now() + 60_000;
  let oldLeft = 2500;
  while (Date.now() < pruneDeadline) {
    oldLeft = (await pool.query<{ n: number }>(`SELECT count(*)::int AS n FROM jobs WHERE params_hash LIKE 'old-%'`)).rows[0]?.n ?? 0;
    if (oldLeft === 0) break;
    await new Promise((r) => setTimeout(r, 500));
  }
  const recentLeft = (await pool.query<{ n: number }>(`SELECT count(*)::int AS n FROM jobs WHERE business_id = ANY($1::bigint[]) AND params_hash NOT LIKE 'old-%'`, [tenants.map((t) => t.businessId)])).rows[0]?.n ?? 0;
  const recentJobs = updated.accepted + deleted.accepted + imported.accepted;

  await pool.query('SELECT pg_stat_force_next_flush()').catch(() => undefined);
  const deadAfter = await tableStats(pool, SOAK_TABLES);
  const workerRss = [...rss.values()].filter((v) => v.length >= 3);
  const flat = workerRss.map((v) => {
    const third = Math.max(1, Math.floor(v.length / 3));
    const early = Math.max(...v.slice(0, third));
    const late = Math.max(...v.slice(-third));
    return { early, late, peak: Math.max(...v), ok: late <= early * 1.5 + 32 * 2 ** 20 };
  });
  const rssText = flat.map((f) => `${mb(f.early)} → ${mb(f.late)} (peak ${mb(f.peak)})`).join('; ');
  const dead = (list: typeof deadAfter) => list.map((t) => `${t.relname} live ${fmt(t.n_live_tup)} dead ${fmt(t.n_dead_tup)} (${t.size}, vacuums ${t.autovacuums})`).join('; ');
  const summary = await jobStates(pool, all);
  return {
    name: 'soak',
    title: `soak: ${fmt(s.leads)} leads imported, updated and deleted through bulk jobs (${s.businesses} businesses)`,
    seconds: (performance.now() - t0) / 1000,
    figures: [
      ...phases,
      ['worker RSS, first third → last third of the run (per worker alive throughout)', rssText || 'no worker lived through the whole soak'],
      ['tables after update, before delete (pg_stat_user_tables)', dead(deadBefore)],
      ['tables at the end', dead(deadAfter)],
      ['retention', `2 500 finished jobs aged 59 days: ${2500 - oldLeft} pruned within 60 s (JOB_RETENTION_DAYS=30, JOB_RETENTION_EVERY_MS=2000); ${recentLeft} of ${recentJobs} recent soak jobs kept`],
    ],
    checks: [
      check('soak: every lead imported', fmt(expected), fmt(imports.rows[0]?.inserted ?? 0), (imports.rows[0]?.inserted ?? 0) === expected),
      check('soak: every lead updated exactly once (succeeded)', fmt(expected), fmt(succeeded.update_leads_bulk ?? 0), succeeded.update_leads_bulk === expected),
      check('soak: every lead deleted (succeeded, none left)', `${fmt(expected)}, 0 left`, `${fmt(succeeded.delete_imported_leads ?? 0)}, ${left.rows[0]?.n ?? '?'} left`, succeeded.delete_imported_leads === expected && left.rows[0]?.n === 0),
      check('soak: worker RSS flat (last third ≤ 1.5 × first third + 32 MB)', 'every worker', flat.length === 0 ? 'no sample' : `${flat.filter((f) => f.ok).length}/${flat.length}`, flat.length > 0 && flat.every((f) => f.ok)),
      check('retention: old finished jobs pruned, recent kept', `0 old left, ${recentJobs} recent kept`, `${oldLeft} old left, ${recentLeft} recent kept`, oldLeft === 0 && recentLeft === recentJobs),
      ...jobChecks(summary),
      ...(await countChecks(pool, all)),
    ],
  };
}
