/**
 * Scale-out figures for docs/SCALING.md: `npx tsx bench/chaos/scaling.ts [--quick] [1 2 3]`.
 *
 * For N = 1, 2, 3 it starts a deployment of N `bulkhead api` + N `bulkhead worker` processes on
 * one PostgreSQL (chaos/lib/cluster.ts) and measures, one after the other:
 *   HTTP  — closed-loop clients spread over the API processes: GET /api/v1/leads?limit=20, POST /api/v1/leads
 *   no-op — delete_receipts_all on businesses without receipts: one empty batch per job (the
 *           engine's own cost); all jobs committed at once, then timed until the last finishes
 *   bulk  — update_leads_bulk of 200 leads per job (JOB_BATCH_SIZE=500: one batch), likewise
 *   calls — call runs of 20 leads on 100 businesses (10 slots each), simulated calls of ~1 s
 *   messages — WhatsApp broadcasts, pacer and simulator at 2 000 messages/s
 * Rates are computed from the database's own timestamps (first created → last finished).
 */
import os from 'node:os';
import { setTimeout as sleep } from 'node:timers/promises';
import fs from 'node:fs/promises';
import { machineCpu, busyShare, processCpuMs } from '../lib/cpu.js';
import { insertBusiness, insertUserWithToken } from '../../src/tenancy/tenancy.repo.js';
import { BENCH_BUSINESS } from '../lib/dataset.js';
import { withTx } from '../../src/db/pool.js';
import { insertJob, type NewJob } from '../../src/jobs/jobs.repo.js';
import { Http, HttpStats, uniquePhone } from './lib/client.js';
import { Cluster } from './lib/cluster.js';
import { drainJobs } from './lib/invariants.js';

const args = process.argv.slice(2);
const quick = args.includes('--quick');
const counts = args.filter((a) => /^\d+$/.test(a)).map(Number);
// `--only=calls,messages`: measure just those columns (the others print as "-").
// `--worker-concurrency=1`: jobs per worker process (default 8) — with 1, each worker is limited
// by its own round trips, not by the CPU, which shows how far adding processes carries.
const workerConcurrency = args.find((a) => a.startsWith('--worker-concurrency='))?.slice('--worker-concurrency='.length) ?? '8';
const only = new Set((args.find((a) => a.startsWith('--only='))?.slice('--only='.length) ?? 'http,noop,bulk,calls,messages').split(','));
const sizes = quick
  ? { businesses: 150, httpS: 5, clients: 64, runs: 40, broadcasts: 4, recipients: 500 }
  : { businesses: 600, httpS: 10, clients: 100, runs: 100, broadcasts: 10, recipients: 1000 };

const ENV: Record<string, string> = {
  // 20, not the default 10: a dialing worker holds a connection for each create-call answer it
  // records; with 10, dials queued for a connection at 1 + 1 (119 → 154 calls/s with 25).
  // Load generators send from few tokens far faster than a person: the request budget (its own
  // test and bench, hostile-tenant) would turn the load into 429s.
  API_RATE_PER_S: '1000000',
  API_RATE_BURST: '1000000',
  DB_POOL_MAX: '20',
  WORKER_CONCURRENCY: workerConcurrency,
  JOB_BATCH_SIZE: '500',
  JOB_BATCH_PAUSE_MS: '0',
  WORKER_POLL_MS: '1000',
  TWILIO_CPS: '1000',
  SIM_WHATSAPP_MPS: '2000',
  WHATSAPP_MPS: '2000',
  DIALER_SWEEP_MS: '1000',
  DIALER_CHECK_AFTER_MS: '5000',
  LOG_LEVEL: 'info',
};

const log = (m: string) => process.stderr.write(`[scaling] ${m}\n`);
const fmt = (n: number) => n.toLocaleString('en-US', { maximumFractionDigits: 0 });

interface Row {
  n: number;
  httpGet: string;
  httpPost: string;
  noop: string;
  bulk: string;
  calls: string;
  messages: string;
  cpu: string;
}

/** CPU time used so far by PostgreSQL's processes and by the service processes (ms). */
async function cpuSplit(c: Cluster): Promise<{ postgres: number; services: number; sim: number }> {
  // The postmaster and its backends only: other PostgreSQL servers on the machine are not ours.
  const postmaster = await c.postmasterPid();
  let postgres = 0;
  for (const name of await fs.readdir('/proc')) {
    if (!/^\d+$/.test(name)) continue;
    const stat = await fs.readFile(`/proc/${name}/stat`, 'utf8').catch(() => '');
    const ppid = Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]);
    if (Number(name) === postmaster || ppid === postmaster) postgres += (await processCpuMs(Number(name))) ?? 0;
  }
  let services = 0;
  for (const pid of c.allPids()) services += (await processCpuMs(pid)) ?? 0;
  const simPid = c.simPid();
  const sim = simPid === null ? 0 : ((await processCpuMs(simPid)) ?? 0);
  return { postgres, services, sim };
}

/**
 * SCALING_DIAG=1: where a call's time went — claim → provider's sid → answered → ended, the gap
 * between a slot freeing and the business's next claim, errors, and the processes' warnings.
 */
async function callDiagnostics(c: Cluster, runIds: number[]): Promise<void> {
  const { rows } = await c.pool.query(
    `WITH c AS (SELECT * FROM calls WHERE run_id IN (SELECT id FROM outbound_runs WHERE job_id = ANY($1::bigint[]))),
          g AS (SELECT c.id, extract(epoch FROM c.created_at - (SELECT max(p.ended_at) FROM c p WHERE p.business_id = c.business_id AND p.ended_at <= c.created_at)) * 1000 AS refill_ms FROM c)
     SELECT 'claim→answered' AS what, percentile_disc(ARRAY[0.5, 0.9, 0.99, 1]) WITHIN GROUP (ORDER BY extract(epoch FROM answered_at - created_at) * 1000) AS ms FROM c
     UNION ALL SELECT 'answered→ended', percentile_disc(ARRAY[0.5, 0.9, 0.99, 1]) WITHIN GROUP (ORDER BY extract(epoch FROM ended_at - answered_at) * 1000) FROM c
     UNION ALL SELECT 'slot freed→next claim', percentile_disc(ARRAY[0.5, 0.9, 0.99, 1]) WITHIN GROUP (ORDER BY refill_ms) FROM g WHERE refill_ms IS NOT NULL`,
    [runIds],
  );
  for (const r of rows as Array<{ what: string; ms: number[] | null }>) log(`diag ${r.what}: p50/p90/p99/max ${(r.ms ?? []).map((v) => Math.round(v)).join(' / ')} ms`);
  const errs = await c.pool.query<{ e: string; n: number }>(
    `SELECT left(coalesce(error, status), 60) AS e, count(*)::int AS n FROM calls
      WHERE run_id IN (SELECT id FROM outbound_runs WHERE job_id = ANY($1::bigint[])) AND (error IS NOT NULL OR status <> 'completed') GROUP BY 1`,
    [runIds],
  );
  for (const r of errs.rows) log(`diag calls not plainly completed: ${r.n} × ${r.e}`);
  const warnings = new Map<string, number>();
  for (const p of [...c.apis, ...c.workers]) {
    for (const line of p.service.lines) {
      const m = /"level":(40|50)[^]*?"msg":"([^"]*)"/.exec(line);
      if (m) warnings.set(`${p.role} ${m[2]}`, (warnings.get(`${p.role} ${m[2]}`) ?? 0) + 1);
    }
  }
  for (const [msg, n] of warnings) log(`diag warning ${n} × ${msg}`);
  for (const p of c.workers) for (const line of p.service.lines) if (line.startsWith('TRACE')) log(`worker ${p.index} ${line}`);
  const top = await c.pool.query<{ calls: number; total_ms: number; mean_ms: number; q: string }>(
    `SELECT calls::int, total_exec_time::float8 AS total_ms, mean_exec_time::float8 AS mean_ms, regexp_replace(left(query, 90), '[[:space:]]+', ' ', 'g') AS q
       FROM pg_stat_statements ORDER BY ${process.env.SCALING_DIAG === 'calls' ? 'calls' : 'total_exec_time'} DESC LIMIT 20`,
  );
  for (const r of top.rows) log(`diag sql ${Math.round(r.total_ms)} ms total, ${r.calls} calls, ${r.mean_ms.toFixed(2)} ms mean: ${r.q}`);
  const all = await c.pool.query<{ calls: number; total_ms: number }>(`SELECT sum(calls)::int AS calls, sum(total_exec_time)::float8 AS total_ms FROM pg_stat_statements`);
  log(`diag sql all: ${all.rows[0]?.calls} statements, ${Math.round(all.rows[0]?.total_ms ?? 0)} ms`);
}

async function rateOf(c: Cluster, ids: number[]): Promise<{ perS: number; seconds: number; items: number }> {
  const { rows } = await c.pool.query<{ s: number; items: number }>(
    `SELECT extract(epoch FROM max(finished_at) - min(created_at))::float8 AS s, sum(succeeded)::int AS items FROM jobs WHERE id = ANY($1::bigint[])`,
    [ids],
  );
  const s = rows[0]?.s ?? 0;
  return { perS: s > 0 ? ids.length / s : 0, seconds: s, items: rows[0]?.items ?? 0 };
}

async function closedLoop(c: Cluster, tokens: string[], durationS: number, request: (http: Http, base: string, token: string) => Promise<unknown>): Promise<{ rps: number; p99: number; errors: number }> {
  const stats = new HttpStats();
  const http = new Http(stats);
  const stopAt = Date.now() + durationS * 1000;
  const latencies: number[] = [];
  await Promise.all(Array.from({ length: sizes.clients }, async (_, i) => {
    const base = c.apiUrl(i);
    const token = tokens[i % tokens.length] ?? '';
    while (Date.now() < stopAt) {
      const t = performance.now();
      await request(http, base, token);
      latencies.push(performance.now() - t);
    }
  }));
  latencies.sort((a, b) => a - b);
  return { rps: latencies.length / durationS, p99: latencies[Math.floor(latencies.length * 0.99)] ?? 0, errors: stats.count((s) => s >= 400) + stats.networkErrors };
}

async function measure(n: number): Promise<Row> {
  log(`${n} api + ${n} worker processes`);
  const diag = Boolean(process.env.SCALING_DIAG);
  const c = await Cluster.start({
    apis: n, workers: n, env: ENV, sim: { callMs: 1000, outcomes: 'completed:1', whatsappMps: 2000 },
    ...(diag ? { embedded: true, serverFlags: ['-c', 'shared_preload_libraries=pg_stat_statements'] } : {}),
  });
  if (diag) await c.pool.query('CREATE EXTENSION IF NOT EXISTS pg_stat_statements');
  try {
    const http = new Http(new HttpStats());
    const tenants: Array<{ id: number; token: string; leads: number[] }> = [];
    for (let i = 0; i < sizes.businesses; i++) {
      const b = await insertBusiness(c.pool, { name: `scale ${i}`, maxOutboundCalls: 10 }, BENCH_BUSINESS);
      const { token } = await insertUserWithToken(c.pool, b.id, `u${i}@example.com`);
      const { rows } = await c.pool.query<{ id: number }>(
        `INSERT INTO leads (business_id, phone) SELECT $1, p FROM unnest($2::text[]) p RETURNING id`,
        [b.id, Array.from({ length: 200 }, () => uniquePhone())],
      );
      tenants.push({ id: b.id, token, leads: rows.map((r) => r.id) });
    }
    await c.pool.query('VACUUM ANALYZE leads');
    const tokens = tenants.map((t) => t.token);
    const cpu0 = await machineCpu();
    const split0 = await cpuSplit(c);

    const skipped = { rps: 0, p99: 0, errors: 0 };
    const get = only.has('http') ? await closedLoop(c, tokens, sizes.httpS, (h, base, token) => h.call(base, 'GET /leads', 'GET', '/api/v1/leads?limit=20', { token })) : skipped;
    const post = only.has('http') ? await closedLoop(c, tokens, sizes.httpS, (h, base, token) => h.call(base, 'POST /leads', 'POST', '/api/v1/leads', { token, body: { phone: uniquePhone() } })) : skipped;
    if (only.has('http')) log(`HTTP GET ${fmt(get.rps)}/s, POST ${fmt(post.rps)}/s`);

    const submit = async (make: (t: (typeof tenants)[number]) => Promise<{ status: number; body: Record<string, unknown> } | null>) => {
      const ids: number[] = [];
      for (let i = 0; i < tenants.length; i += 50) {
        const answers = await Promise.all(tenants.slice(i, i + 50).map(make));
        for (const a of answers) if (a?.status === 202 && typeof a.body.job_id === 'number') ids.push(a.body.job_id);
      }
      await drainJobs(c.pool, ids, 600_000);
      return ids;
    };
    // The engine side alone: all jobs committed in one transaction (the HTTP side is measured above).
    const enqueue = async (make: (t: (typeof tenants)[number]) => NewJob) => {
      const ids = await withTx(c.pool, async (tx) => {
        const out: number[] = [];
        for (const t of tenants) out.push((await insertJob(tx, make(t))).id);
        return out;
      });
      await drainJobs(c.pool, ids, 600_000);
      return ids;
    };
    const noopIds = !only.has('noop') ? [] : await enqueue((t) => ({
      businessId: t.id, type: 'delete_receipts_all', queue: 'maintenance', params: {}, paramsHash: 'noop', lockKey: 'delete_receipts_all', total: 0, createdBy: null,
    }));
    const noop = await rateOf(c, noopIds);
    log(`no-op ${fmt(noop.perS)} jobs/s`);
    const bulkIds = !only.has('bulk') ? [] : await enqueue((t) => ({
      businessId: t.id, type: 'update_leads_bulk', queue: 'maintenance', params: { set: { status: 'contacted' }, lead_count: t.leads.length },
      targets: t.leads, paramsHash: 'bulk', lockKey: 'update_leads_bulk', total: t.leads.length, createdBy: null,
    }));
    const bulk = await rateOf(c, bulkIds);
    log(`bulk ${fmt(bulk.perS)} jobs/s, ${fmt(bulk.items / bulk.seconds)} leads/s`);

    if (diag) await c.pool.query('SELECT pg_stat_statements_reset()');
    const simCpu0 = await cpuSplit(c);
    const wall0 = performance.now();
    const runIds = !only.has('calls') ? [] : await submit(async (t) => (t.id % Math.ceil(tenants.length / sizes.runs) === 0
      ? http.call(c.apiUrl(t.id), 'run', 'POST', '/api/v1/outbound/runs', { token: t.token, body: { lead_ids: t.leads.slice(0, 20) } })
      : null));
    // Steady-state rate: 95 % of the calls over the time it took them (one lost callback, left
    // to the sweeper, would otherwise stretch the window).
    const calls = await c.pool.query<{ n: number; s: number; tail_s: number }>(
      `WITH c AS (SELECT created_at, ended_at FROM calls WHERE run_id IN (SELECT id FROM outbound_runs WHERE job_id = ANY($1::bigint[])))
       SELECT (count(*) * 0.95)::int AS n,
              extract(epoch FROM (SELECT percentile_disc(0.95) WITHIN GROUP (ORDER BY ended_at) FROM c) - (SELECT min(created_at) FROM c))::float8 AS s,
              extract(epoch FROM (SELECT max(ended_at) FROM c) - (SELECT percentile_disc(0.95) WITHIN GROUP (ORDER BY ended_at) FROM c))::float8 AS tail_s
         FROM c`,
      [runIds],
    );
    const callRate = (calls.rows[0]?.n ?? 0) / (calls.rows[0]?.s || 1);
    const callTail = calls.rows[0]?.tail_s ?? 0;
    log(`calls ${fmt(callRate)}/s`);

    if (only.has('calls') && process.env.SCALING_DIAG) {
      const simCpu1 = await cpuSplit(c);
      const wall = performance.now() - wall0;
      const core = (ms: number) => `${Math.round((ms / wall) * 100)} % of one core`;
      log(`diag during the calls: simulators ${core(simCpu1.sim - simCpu0.sim)}, api + workers ${core(simCpu1.services - simCpu0.services)}, PostgreSQL ${core(simCpu1.postgres - simCpu0.postgres)}`);
      await callDiagnostics(c, runIds);
    }
    const bcIds = !only.has('messages') ? [] : await submit(async (t) => (t.id % Math.ceil(tenants.length / sizes.broadcasts) === 0
      ? http.call(c.apiUrl(t.id), 'broadcast', 'POST', '/api/v1/whatsapp/broadcasts', { token: t.token, body: { text: 'hi', recipients: Array.from({ length: sizes.recipients }, () => ({ phone: uniquePhone() })) } })
      : null));
    const msgs = await c.pool.query<{ n: number; s: number }>(
      `WITH m AS (SELECT r.sent_at, j.created_at FROM whatsapp_recipients r JOIN whatsapp_broadcasts b ON b.id = r.broadcast_id
                   JOIN jobs j ON j.id = b.job_id WHERE b.job_id = ANY($1::bigint[]) AND r.sent_at IS NOT NULL)
       SELECT (count(*) * 0.95)::int AS n,
              extract(epoch FROM (SELECT percentile_disc(0.95) WITHIN GROUP (ORDER BY sent_at) FROM m) - (SELECT min(created_at) FROM m))::float8 AS s
         FROM m`,
      [bcIds],
    );
    const msgRate = (msgs.rows[0]?.n ?? 0) / (msgs.rows[0]?.s || 1);
    log(`messages ${fmt(msgRate)}/s`);
    const cpu1 = await machineCpu();
    const busy = busyShare(cpu0, cpu1);
    const split1 = await cpuSplit(c);
    // Jiffies of all cores → ms: 10 ms per jiffy (CLOCK_TICKS_PER_S = 100).
    const totalMs = (cpu1.total - cpu0.total) * 10;
    const share = (ms: number) => `${Math.round((ms / totalMs) * 100)} %`;
    return {
      n,
      httpGet: !only.has('http') ? '-' : `${fmt(get.rps)} (p99 ${fmt(get.p99)} ms${get.errors ? `, ${get.errors} errors` : ''})`,
      httpPost: !only.has('http') ? '-' : `${fmt(post.rps)} (p99 ${fmt(post.p99)} ms${post.errors ? `, ${post.errors} errors` : ''})`,
      noop: !only.has('noop') ? '-' : `${fmt(noop.perS)} (${noopIds.length} jobs)`,
      bulk: !only.has('bulk') ? '-' : `${fmt(bulk.perS)} jobs/s = ${fmt(bulk.items / (bulk.seconds || 1))} leads/s (${bulkIds.length} × 200)`,
      calls: !only.has('calls') ? '-' : `${fmt(callRate)} (95 % of ${fmt((calls.rows[0]?.n ?? 0) / 0.95)} calls; last 5 % took ${callTail.toFixed(1)} s more)`,
      messages: !only.has('messages') ? '-' : `${fmt(msgRate)} (95 % of ${fmt((msgs.rows[0]?.n ?? 0) / 0.95)} messages)`,
      cpu: `${Math.round(busy * 100)} % (PostgreSQL ${share(split1.postgres - split0.postgres)}, api + worker processes ${share(split1.services - split0.services)}, simulators ${share(split1.sim - split0.sim)})`,
    };
  } finally {
    await c.stop();
  }
}

const rows: Row[] = [];
const load = os.loadavg()[0] ?? 0;
for (const n of counts.length > 0 ? counts : [1, 2, 3]) {
  rows.push(await measure(n));
  await sleep(2_000);
}
const header = '| api + worker processes | HTTP GET /leads req/s | HTTP POST /leads req/s | no-op jobs/s | bulk update | calls/s | messages/s | machine CPU busy (of 2 cores) |';
console.log(`\nMeasured ${new Date().toISOString().slice(0, 16).replace('T', ' ')} UTC by \`npx tsx bench/chaos/scaling.ts${args.length ? ` ${args.join(' ')}` : ''}\`, load average before ${load.toFixed(2)}, after ${(os.loadavg()[0] ?? 0).toFixed(2)}\n`);
console.log(header);
console.log('|---|---|---|---|---|---|---|---|');
for (const r of rows) console.log(`| ${r.n} + ${r.n} | ${r.httpGet} | ${r.httpPost} | ${r.noop} | ${r.bulk} | ${r.calls} | ${r.messages} | ${r.cpu} |`);
process.exit(0);
