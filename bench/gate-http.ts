/**
 * (c) gate-http: the request path of a bulk operation — auth, validation, the gate and the job
 * insert, answering 202 — under 200 concurrent connections, one business each, against a real
 * API process (`bulkhead api`), no worker running. GET /healthz on the same process and
 * connections is the baseline: pure HTTP cost.
 */
import { randomBytes } from 'node:crypto';
import os from 'node:os';
import { spawnApi, type ServiceProcess } from './lib/child.js';
import { busyShare, machineCpu, processCpuMs } from './lib/cpu.js';
import { createBenchDatabase, type BenchDatabase } from './lib/db.js';
import { closedLoop, paced, type LoadResult, type LoadSpec } from './lib/load.js';
import type { ScenarioReport, Table, TargetCheck } from './lib/report.js';
import type { Scenario } from './lib/scenario.js';
import { formatInt, sleep } from './lib/timing.js';

const CONNECTIONS = 200;
const OFFERED_RATE = 500;
const LOW_RATE = 200;
const TARGET_P99_MS = 25;
// The admin API caps a rate-limit override at 100 000 per minute; far above what a run sends.
const RATE_LIMIT = 100_000;
const HEALTH = '/healthz';
const IMPORT = '/api/v1/leads/import';

type Mode = { kind: 'closed' } | { kind: 'autocannon-rate'; rate: number } | { kind: 'paced'; rate: number };

interface Run {
  path: string;
  mode: Mode;
  result: LoadResult;
  /** CPU used during the run as a share of one core: the API process, and the load generator (this process). */
  apiCpu: number;
  loaderCpu: number;
  /** Share of all the machine's cores that was busy (API, PostgreSQL, load generator, anything else). */
  machineBusy: number;
  /** Mean number of the API's pooled PostgreSQL sessions in each state, sampled every 100 ms. */
  sessions: SessionStates;
}

interface SessionStates {
  active: number;
  idleInTx: number;
  idle: number;
}

const PLAN: Array<[string, Mode]> = [
  [HEALTH, { kind: 'closed' }],
  [IMPORT, { kind: 'closed' }],
  [HEALTH, { kind: 'autocannon-rate', rate: OFFERED_RATE }],
  [IMPORT, { kind: 'autocannon-rate', rate: OFFERED_RATE }],
  [HEALTH, { kind: 'paced', rate: OFFERED_RATE }],
  [IMPORT, { kind: 'paced', rate: OFFERED_RATE }],
  [IMPORT, { kind: 'paced', rate: LOW_RATE }],
];

export const gateHttpScenario: Scenario = {
  name: 'gate-http',
  async run(ctx) {
    const durationS = ctx.quick ? 5 : 15;
    const db = await createBenchDatabase(ctx.server, 'gate_http');
    const adminToken = `bench-admin-${randomBytes(12).toString('hex')}`;
    try {
      const api = await startApi(db, adminToken);
      let tokens: string[];
      const runs: Run[] = [];
      try {
        ctx.progress(`gate-http: API (pid ${api.process.pid}) at ${api.base}; creating ${CONNECTIONS} businesses`);
        tokens = await createBusinesses(api.base, adminToken, CONNECTIONS);
        const spec = loadSpec(api.base, tokens);
        // Warm-up (JIT, pool connections, plan caches); not reported.
        await closedLoop(spec(IMPORT, 2));
        for (const [path, mode] of PLAN) {
          ctx.progress(`gate-http: ${endpoint(path)}, ${describeMode(mode)}, ${durationS} s`);
          const run = await measure(db, api.process.pid, path, mode, spec(path, durationS));
          ctx.progress(`gate-http:   ${formatInt(run.result.rps)} req/s, p50 ${run.result.p50} ms, p99 ${run.result.p99} ms, `
            + `non-2xx ${run.result.non2xx}, API ${pct(run.apiCpu)} of a core, machine ${pct(run.machineBusy)} busy`);
          runs.push(run);
        }
      } finally {
        await api.process.stop();
      }
      const jobs = await countJobs(db);
      let statements: StatementStat[] | null = null;
      if (ctx.server.canProfile) {
        ctx.progress(`gate-http: statement profile of the import request path (paced ${LOW_RATE} req/s, 3 s, fresh API process)`);
        statements = await profileRequestPath(db, adminToken, tokens);
      }
      return report(runs, { durationS, jobs, statements });
    } finally {
      await db.drop();
    }
  },
};

interface Api {
  process: ServiceProcess;
  base: string;
}

function startApi(db: BenchDatabase, adminToken: string): Promise<Api> {
  return spawnApi({ DATABASE_URL: db.url, ADMIN_TOKEN: adminToken });
}

function loadSpec(base: string, tokens: string[]): (path: string, seconds: number) => LoadSpec {
  return (path, seconds) => ({ base, tokens, path, durationS: seconds, ...(path === IMPORT ? { body: importBody } : {}) });
}

async function measure(db: BenchDatabase, apiPid: number, path: string, mode: Mode, spec: LoadSpec): Promise<Run> {
  const machineBefore = await machineCpu();
  const apiBefore = await processCpuMs(apiPid);
  const selfBefore = process.cpuUsage();
  const t0 = performance.now();
  const sampling = sampleSessions(db);
  const result = mode.kind === 'closed' ? await closedLoop(spec)
    : mode.kind === 'autocannon-rate' ? await closedLoop(spec, mode.rate)
    : await paced(spec, mode.rate);
  const wall = performance.now() - t0;
  const apiAfter = await processCpuMs(apiPid);
  const self = process.cpuUsage(selfBefore);
  return {
    path,
    mode,
    result,
    apiCpu: apiBefore !== null && apiAfter !== null ? (apiAfter - apiBefore) / wall : Number.NaN,
    loaderCpu: (self.user + self.system) / 1000 / wall,
    machineBusy: busyShare(machineBefore, await machineCpu()),
    sessions: await sampling.stop(),
  };
}

interface StatementStat {
  statement: string;
  perRequest: number;
  meanMs: number;
}

/**
 * A separate short run with pg_stat_statements tracking this database (a fresh API process, so its
 * sessions pick the setting up): which statements one import request costs, whatever this
 * version of the code sends.
 */
async function profileRequestPath(db: BenchDatabase, adminToken: string, tokens: string[]): Promise<StatementStat[]> {
  await db.pool.query('CREATE EXTENSION IF NOT EXISTS pg_stat_statements');
  await db.pool.query(`ALTER DATABASE ${db.name} SET pg_stat_statements.track = 'top'`);
  const api = await startApi(db, adminToken);
  try {
    await closedLoop(loadSpec(api.base, tokens)(IMPORT, 1));
    // autocannon returns at the deadline; requests it abandoned may still be committing.
    await sleep(1_000);
    await db.pool.query('SELECT pg_stat_statements_reset()');
    const result = await paced(loadSpec(api.base, tokens)(IMPORT, 3), LOW_RATE);
    const accepted = result.statuses['202'] ?? 0;
    const { rows } = await db.pool.query<{ query: string; calls: number; mean_ms: number }>(
      `SELECT s.query, s.calls::int AS calls, s.mean_exec_time AS mean_ms
         FROM pg_stat_statements s JOIN pg_database d ON d.oid = s.dbid
        WHERE d.datname = $1 ORDER BY s.calls DESC`,
      [db.name],
    );
    return rows
      .map((r) => ({ statement: r.query.replace(/\s+/g, ' ').trim(), perRequest: r.calls / Math.max(1, accepted), meanMs: r.mean_ms }))
      .filter((r) => r.perRequest >= 0.5);
  } finally {
    await api.process.stop();
  }
}

let phoneCounter = 0;

/** Every import body is a different phone, so the gate's dedup never matches. */
function importBody(): string {
  phoneCounter++;
  return JSON.stringify({ leads: [{ phone: `+1212${String(phoneCounter % 10_000_000).padStart(7, '0')}` }] });
}

async function createBusinesses(base: string, adminToken: string, count: number): Promise<string[]> {
  const admin = { authorization: `Bearer ${adminToken}`, 'content-type': 'application/json' };
  const tokens: string[] = [];
  for (let i = 0; i < count; i++) {
    const created = await fetch(`${base}/api/v1/admin/businesses`, { method: 'POST', headers: admin, body: JSON.stringify({ name: `Bench ${i}` }) });
    if (created.status !== 201) throw new Error(`create business: ${created.status} ${await created.text()}`);
    const body = (await created.json()) as { business: { id: number }; token: string };
    const patched = await fetch(`${base}/api/v1/admin/businesses/${body.business.id}`, {
      method: 'PATCH',
      headers: admin,
      body: JSON.stringify({ rate_limits: { import_leads: RATE_LIMIT } }),
    });
    if (patched.status !== 200) throw new Error(`patch business: ${patched.status} ${await patched.text()}`);
    tokens.push(body.token);
  }
  return tokens;
}

/** Samples pg_stat_activity for the API's pool (application_name 'bulkhead') until stopped. */
function sampleSessions(db: BenchDatabase): { stop(): Promise<SessionStates> } {
  const totals = { active: 0, idleInTx: 0, idle: 0 };
  let samples = 0;
  let running = true;
  const loop = (async () => {
    while (running) {
      const { rows } = await db.pool.query<{ state: string | null; n: number }>(
        `SELECT state, count(*)::int AS n FROM pg_stat_activity WHERE datname = current_database() AND application_name = 'bulkhead' GROUP BY state`);
      for (const r of rows) {
        if (r.state === 'active') totals.active += r.n;
        else if (r.state === 'idle in transaction') totals.idleInTx += r.n;
        else if (r.state === 'idle') totals.idle += r.n;
      }
      samples++;
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
  })();
  return {
    async stop() {
      running = false;
      await loop;
      const n = Math.max(1, samples);
      return { active: totals.active / n, idleInTx: totals.idleInTx / n, idle: totals.idle / n };
    },
  };
}

async function countJobs(db: BenchDatabase): Promise<number> {
  const { rows } = await db.pool.query<{ n: number }>(`SELECT count(*)::int AS n FROM jobs WHERE type = 'import_leads'`);
  return rows[0]?.n ?? 0;
}

function endpoint(path: string): string {
  return path === HEALTH ? 'GET /healthz (baseline)' : 'POST /api/v1/leads/import (gate + enqueue)';
}

function describeMode(mode: Mode): string {
  switch (mode.kind) {
    case 'closed': return `closed loop, ${CONNECTIONS} conns`;
    case 'autocannon-rate': return `autocannon overallRate ${mode.rate} req/s, ${CONNECTIONS} conns`;
    case 'paced': return `paced ${mode.rate} req/s, ${CONNECTIONS} conns`;
  }
}

function shorten(sql: string): string {
  return sql.length > 90 ? `${sql.slice(0, 87)}…` : sql;
}

function pct(share: number): string {
  return `${(share * 100).toFixed(0)} %`;
}

function report(runs: Run[], info: { durationS: number; jobs: number; statements: StatementStat[] | null }): ScenarioReport {
  const cores = os.availableParallelism();
  const table: Table = {
    columns: ['endpoint', 'load', 'req/s', 'p50', 'p90', 'p99', 'max', 'requests', 'non-2xx', 'errors / timeouts', 'status codes',
      'API process CPU', 'load generator CPU', 'machine busy', 'API DB sessions: active / idle in tx / idle'],
    rows: runs.map((r) => [
      endpoint(r.path),
      describeMode(r.mode),
      formatInt(r.result.rps),
      `${r.result.p50} ms`,
      `${r.result.p90} ms`,
      `${r.result.p99} ms`,
      `${r.result.max} ms`,
      formatInt(r.result.total),
      formatInt(r.result.non2xx),
      `${r.result.errors} / ${r.result.timeouts}`,
      Object.entries(r.result.statuses).map(([code, n]) => `${code}: ${formatInt(n)}`).join(', '),
      `${pct(r.apiCpu)} of a core`,
      `${pct(r.loaderCpu)} of a core`,
      `${pct(r.machineBusy)} of ${cores} cores`,
      `${r.sessions.active.toFixed(1)} / ${r.sessions.idleInTx.toFixed(1)} / ${r.sessions.idle.toFixed(1)}`,
    ]),
  };
  const targets: TargetCheck[] = runs.filter((r) => r.path === IMPORT).map((r) => ({
    subject: `POST /api/v1/leads/import p99, ${describeMode(r.mode)}`,
    target: `≤ ${TARGET_P99_MS} ms`,
    measured: `${r.result.p99} ms (${formatInt(r.result.rps)} req/s, ${formatInt(r.result.non2xx)} non-2xx)`,
    pass: r.result.p99 <= TARGET_P99_MS && r.result.non2xx === 0 && r.result.errors === 0,
  }));
  return {
    title: 'gate + enqueue over HTTP, 200 connections',
    summary: 'Latency and throughput of `POST /api/v1/leads/import` (auth, validation, the gate inside the job-insert transaction, 202) with '
      + `${CONNECTIONS} concurrent connections, each a different business, against GET /healthz as the pure-HTTP baseline.`,
    setup: [
      'API: a separate process started as `node --import tsx src/cli/main.ts api` (PORT=0, LOG_LEVEL=info, default DB_POOL_MAX=10) on a fresh '
        + 'database `bh_bench_gate_http`; no worker runs, so the measurement is the request path only.',
      `${CONNECTIONS} businesses created through the admin API (\`POST /api/v1/admin/businesses\`), each with \`rate_limits.import_leads = `
        + `${formatInt(RATE_LIMIT)}\` (the admin API's maximum; the brief's 1 000 000 is refused with 400) set by \`PATCH\`; connection i always `
        + 'uses business i\'s bearer token.',
      'Body: `{"leads":[{"phone":"+1212xxxxxxx"}]}` with a different phone on every request, so the gate\'s dedup never refuses.',
      `Load generator in the benchmark process, ${info.durationS} s per run after a 2 s warm-up. *Closed loop*: autocannon 8, each connection sends `
        + `its next request when the previous answer arrives. *autocannon overallRate*: autocannon's fixed-rate mode (${OFFERED_RATE} req/s over `
        + `${CONNECTIONS} connections = 2–3 requests per connection per second). *Paced*: our own open-loop generator (bench/lib/load.ts) sending `
        + 'request i at t0 + i / rate round-robin over one keep-alive connection per business, latency measured from the scheduled time.',
      'API process CPU is read from /proc/<pid>/stat, machine busy from /proc/stat, over each run; the API\'s pooled PostgreSQL sessions '
        + '(`application_name = \'bulkhead\'`) are counted by state in `pg_stat_activity` every 100 ms (mean per sample).',
    ],
    tables: info.statements
      ? [table, {
          title: `Statements per import request (pg_stat_statements; separate paced ${LOW_RATE} req/s run of 3 s on a fresh API process)`,
          columns: ['statement', 'per request', 'mean server time'],
          rows: info.statements.map((st) => [`\`${shorten(st.statement)}\``, st.perRequest.toFixed(2), `${st.meanMs.toFixed(3)} ms`]),
        }]
      : [table],
    targets,
    analysis: analyse(runs, info.jobs, info.statements),
  };
}

function analyse(runs: Run[], jobs: number, statements: StatementStat[] | null): string[] {
  const find = (path: string, kind: Mode['kind'], rate?: number) =>
    runs.find((r) => r.path === path && r.mode.kind === kind && (rate === undefined || ('rate' in r.mode && r.mode.rate === rate)));
  const importClosed = find(IMPORT, 'closed');
  const healthClosed = find(HEALTH, 'closed');
  const importBurst = find(IMPORT, 'autocannon-rate');
  const healthBurst = find(HEALTH, 'autocannon-rate');
  const importPaced = find(IMPORT, 'paced', OFFERED_RATE);
  const importLow = find(IMPORT, 'paced', LOW_RATE);
  const healthPaced = find(HEALTH, 'paced', OFFERED_RATE);
  const out: string[] = [];
  if (importClosed) {
    const { rps, mean } = importClosed.result;
    out.push(`**Closed loop.** Each of the ${CONNECTIONS} connections always has one request outstanding, so by Little's law throughput × mean latency = `
      + `${CONNECTIONS} (here ${formatInt(rps)} req/s × ${mean.toFixed(0)} ms ≈ ${((rps * mean) / 1000).toFixed(0)}). A p99 of ${TARGET_P99_MS} ms `
      + `needs a mean below it, i.e. at least ${formatInt((CONNECTIONS * 1000) / TARGET_P99_MS)} req/s through the whole request path: `
      + `the closed-loop p99 measures the capacity of this machine, not the latency of one request. The import path saturates at ${formatInt(rps)} req/s `
      + `with the machine ${pct(importClosed.machineBusy)} busy and the API process at ${pct(importClosed.apiCpu)} of a core`
      + (healthClosed ? `; GET /healthz, which touches neither PostgreSQL nor the gate, does ${formatInt(healthClosed.result.rps)} req/s with p99 ${healthClosed.result.p99} ms on the same connections.` : '.'));
    const perRequest = statements?.reduce((sum, st) => sum + Math.round(st.perRequest), 0);
    out.push('Where the capacity goes: '
      + (perRequest !== undefined
        ? `one import request is ${perRequest} statements (table above: auth, then the gate and the inserts inside one transaction), `
        : 'one import request is an auth query plus one transaction holding the gate and the inserts, ')
      + 'each a round trip between the API and PostgreSQL, with all three processes (API, '
      + 'PostgreSQL backends, load generator) sharing 2 cores. With DB_POOL_MAX=10 at most 10 of the 200 requests hold a connection at any '
      + `moment and the rest wait for one. The session column shows how those 10 spent the closed-loop run: on average `
      + `${importClosed.sessions.active.toFixed(1)} executing in PostgreSQL and ${importClosed.sessions.idleInTx.toFixed(1)} idle in a transaction, `
      + 'i.e. waiting for the API process to send the next statement of the transaction; '
      + (importClosed.sessions.idleInTx > importClosed.sessions.active
        ? 'so the pace is set by the API process\'s event loop (200 requests interleaved on one thread, on a shared CPU), not by PostgreSQL\'s execution.'
        : 'so PostgreSQL\'s execution is the larger share.'));
  }
  if (importBurst && healthBurst) {
    out.push(`**autocannon overallRate.** autocannon releases each connection's per-second quota at the start of each second, and the windows of all `
      + `${CONNECTIONS} connections are aligned, so the ${OFFERED_RATE} requests of a second arrive as one burst: even GET /healthz shows p50 `
      + `${healthBurst.result.p50} ms / p99 ${healthBurst.result.p99} ms in this mode (against ${healthPaced ? `${healthPaced.result.p99} ms p99 when paced` : 'far less when paced'}). `
      + `Import p99 ${importBurst.result.p99} ms here is the time to drain a ${OFFERED_RATE}-request burst, so this mode is reported because it was asked for, `
      + 'not as the offered-rate latency.');
  }
  if (importPaced) {
    const saturated = importClosed !== undefined && importPaced.result.rps < OFFERED_RATE * 0.95;
    out.push(`**Paced ${OFFERED_RATE} req/s.** With evenly spaced arrivals the import path answers p50 ${importPaced.result.p50} ms / p99 `
      + `${importPaced.result.p99} ms${healthPaced ? ` (GET /healthz: p50 ${healthPaced.result.p50} ms / p99 ${healthPaced.result.p99} ms)` : ''}. `
      + (importClosed && OFFERED_RATE > importClosed.result.rps * 0.8
        ? `${OFFERED_RATE} req/s is ${((OFFERED_RATE / importClosed.result.rps) * 100).toFixed(0)} % of the closed-loop capacity measured above, `
          + 'so requests queue' + (saturated ? ' and the backlog grows for the whole run' : '') + '. '
        : '')
      + (importLow ? `At ${LOW_RATE} req/s the same path answers p50 ${importLow.result.p50} ms / p99 ${importLow.result.p99} ms`
        + (importLow.result.p99 <= TARGET_P99_MS ? ', within the target.' : ', still above the target.') : ''));
  }
  const missed = runs.filter((r) => r.path === IMPORT && r.result.p99 > TARGET_P99_MS);
  const has = (pattern: RegExp) => statements?.some((st) => pattern.test(st.statement)) ?? false;
  const examples = [
    ...(has(/^SELECT rate_limits FROM businesses/) ? ['read the business\'s rate limit inside the gate\'s observation query instead of separately'] : []),
    ...(has(/^INSERT INTO imports/) && has(/^INSERT INTO import_(rows|chunks)/) ? ['write the import and its staged rows with one statement'] : []),
  ];
  if (missed.length > 0) {
    out.push(`**Why the target is missed, and what would move it.** p99 ≤ ${TARGET_P99_MS} ms under ${CONNECTIONS} connections needs either a load `
      + 'well below the capacity (see the paced rows) or more capacity: on this 2-core machine the API, PostgreSQL and the load generator '
      + 'compete for the same cores (see the CPU columns), so a deployment with PostgreSQL on its own machine and more API processes would move '
      + 'the saturation point; in the code, fewer statements per request shorten the time each request holds one of the 10 pooled connections'
      + (examples.length > 0 ? ` (from the statement table: ${examples.join('; ')})` : '') + '.');
  }
  out.push(`Sanity: ${formatInt(jobs)} import_leads jobs were created by the run (warm-up included); every answer was 202 unless the table says otherwise.`);
  return out;
}
