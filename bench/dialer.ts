/**
 * Dialer benchmark: `npx tsx bench/dialer.ts`.
 *
 * 1. Slot refill latency: 1000 businesses × 3 slots, each with a run; simulated calls of
 *    SIM_CALL_MS (long enough that demand stays under the CPS budget, so what is measured is the
 *    refill path, not CPS queueing). Latency = from the simulator sending a call's final status
 *    callback to the simulator receiving the next create-call of the same business.
 * 2. CPS use: 1000 businesses × 3 slots of short calls (demand far above the budget) against the
 *    default simulated TWILIO_CPS (50): calls dialled per second as the simulator saw them.
 *
 * API, worker and dialer run in this process, on one PostgreSQL (embedded unless DATABASE_URL is
 * set); the Twilio simulator runs in a child process (this file with the argument `sim`), as a
 * separate Twilio would: the path measured is the production one — the twilio SDK's HTTP request
 * to the simulator, its signed webhooks over HTTP to our webhook route. Why a child process: with
 * the simulator in-process, its ~5 HTTP exchanges per call (create + 4 status callbacks +
 * recording callback, both ends of each in one event loop) doubled the service process's CPU and
 * its event-loop stalls went straight into the refill tail (measured: loop delay p99 20–35 ms).
 * Both timestamps of a refill (final callback sent, next create-call received) are taken in the
 * simulator process, on one clock. Results are printed and written into docs/BENCHMARKS.md under
 * "## Dialer" (only that section is replaced).
 */
import { fork, type ChildProcess } from 'node:child_process';
import fs from 'node:fs/promises';
import { monitorEventLoopDelay } from 'node:perf_hooks';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import pg from 'pg';
import { createRegistry } from '../src/app/modules.js';
import { loadConfig, SIM_TWILIO_ACCOUNT_SID, SIM_TWILIO_AUTH_TOKEN } from '../src/config/config.js';
import { createPool } from '../src/db/pool.js';
import { acceptDeps, buildApp } from '../src/http/app.js';
import { createAppMetrics } from '../src/http/metrics.js';
import { Worker } from '../src/jobs/worker.js';
import { createLogger } from '../src/lib/logger.js';
import { createOutboundModule } from '../src/outbound/module.js';
import { acceptRun } from '../src/outbound/runs.service.js';
import { createTwilioSimulator } from '../src/providers/telephony/simulator.js';
import type { TelephonyProvider } from '../src/providers/telephony/types.js';
import { createBenchDatabase, quietLog } from './lib/db.js';
import { startBenchServer, type BenchServer } from './lib/server.js';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const BUSINESSES = 1000;
const SLOTS = 3;

interface Phase {
  name: string;
  businesses: number;
  env: Record<string, string>;
  leadsPerBusiness: number;
  warmupMs: number;
  measureMs: number;
}

interface PhaseResult {
  phase: Phase;
  refill: number[];
  /** Final callback sent → its 204 back at the simulator (our webhook route, its transaction, NOTIFY). */
  webhook: number[];
  creates: number[];
  maxActive: number;
  cps: number;
  loopP99Ms: number;
  cpuOfCore: number;
}

/** Messages of the simulator child (timestamps: its performance.timeOrigin + now(), one clock). */
type SimEvent =
  | { t: 'ready'; url: string }
  | { t: 'create'; to: string; at: number }
  | { t: 'final'; to: string; at: number }
  | { t: 'delivered'; to: string; sentAt: number; at: number };

/** Child mode: the Twilio simulator alone, reporting creates and final callbacks to the parent. */
async function simulatorChild(): Promise<void> {
  const send = (m: SimEvent) => {
    if (process.connected) process.send?.(m);
  };
  const now = () => performance.timeOrigin + performance.now();
  const sim = createTwilioSimulator({
    accountSid: SIM_TWILIO_ACCOUNT_SID,
    authToken: SIM_TWILIO_AUTH_TOKEN,
    callMs: Number(process.env.SIM_CALL_MS ?? 2000),
    outcomes: 'completed:1',
    log: quietLog,
  });
  sim.onCreate = (call) => send({ t: 'create', to: call.to, at: now() });
  sim.onFinalSent = (call) => send({ t: 'final', to: call.to, at: now() });
  sim.onFinalDelivered = (call) => send({ t: 'delivered', to: call.to, sentAt: performance.timeOrigin + (call.finalSentAt ?? 0), at: now() });
  const url = await sim.start();
  send({ t: 'ready', url });
  process.on('disconnect', () => void sim.stop().then(() => process.exit(0)));
}

async function startSimulator(callMs: number): Promise<{ child: ChildProcess; url: string }> {
  const child = fork(fileURLToPath(import.meta.url), ['sim'], {
    execArgv: ['--import', 'tsx'],
    env: { ...process.env, SIM_CALL_MS: String(callMs) },
    stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
  });
  const url = await new Promise<string>((resolve, reject) => {
    child.once('error', reject);
    child.once('exit', (code) => reject(new Error(`simulator exited with ${code}`)));
    child.on('message', (m: SimEvent) => {
      if (m.t === 'ready') resolve(m.url);
    });
  });
  return { child, url };
}

function pct(sorted: number[], p: number): number {
  if (sorted.length === 0) return NaN;
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))] ?? NaN;
}

async function seed(pool: pg.Pool, businesses: number): Promise<Array<{ businessId: number; userId: number }>> {
  const { rows } = await pool.query<{ business_id: number; user_id: number }>(
    `WITH b AS (INSERT INTO businesses (name, max_outbound_calls) SELECT 'bench ' || i, $2 FROM generate_series(1, $1) i RETURNING id),
          u AS (INSERT INTO users (business_id, email) SELECT id, 'u' || id || '@bench' FROM b RETURNING id, business_id)
     SELECT business_id, id AS user_id FROM u ORDER BY business_id`,
    [businesses, SLOTS],
  );
  await pool.query(
    `INSERT INTO dialer_settings (business_id, calling_start, calling_end) SELECT id, '00:00', '24:00' FROM businesses`,
  );
  return rows.map((r) => ({ businessId: r.business_id, userId: r.user_id }));
}

async function runPhase(server: BenchServer, phase: Phase): Promise<PhaseResult> {
  const db = await createBenchDatabase(server, `dialer_${phase.name}`);
  const simulator = await startSimulator(Number(phase.env.SIM_CALL_MS ?? 2000));
  const config = loadConfig({
    TWILIO_API_BASE: simulator.url,
    DATABASE_URL: db.url,
    LOG_LEVEL: 'silent',
    ADMIN_TOKEN: 'bench-admin-token-0123456789',
    SIM_OUTCOMES: 'completed:1',
    DIALER_CALLING_HOURS: '00:00-24:00',
    // Run jobs are woken when a call of theirs ends; the idle poll only costs CPU here.
    DIALER_RUN_POLL_MS: '30000',
    JOB_BATCH_PAUSE_MS: '0',
    DATA_DIR: path.join(os.tmpdir(), 'bulkhead-bench-dialer'),
    ...phase.env,
  });
  const log = createLogger('silent');
  const pool = createPool(db.url, { max: 20 }, log);
  const metrics = createAppMetrics(pool);
  let baseUrl = '';
  const outbound = createOutboundModule({
    pool, databaseUrl: db.url, config, log, accept: acceptDeps(pool, config.gate.dedupWindowS, metrics), publicBaseUrl: () => baseUrl,
  });
  const app = await buildApp({ pool, config, log, metrics, jobEvents: null, modules: [outbound] });
  baseUrl = (await app.listen({ port: 0, host: '127.0.0.1' })).replace('localhost', '127.0.0.1');
  const businesses = await seed(pool, phase.businesses);
  const { rows: leads } = await pool.query<{ id: number; business_id: number; phone: string }>(
    `INSERT INTO leads (business_id, phone)
     SELECT b.id, '+1' || lpad((2000000000 + b.id * 1000 + i)::text, 10, '0')
       FROM businesses b, generate_series(1, $1) i
     RETURNING id, business_id, phone`,
    [phase.leadsPerBusiness],
  );
  const businessOf = new Map(leads.map((l) => [l.phone, l.business_id]));
  const leadsOf = new Map<number, number[]>();
  for (const l of leads) leadsOf.set(l.business_id, [...(leadsOf.get(l.business_id) ?? []), l.id]);

  // Runs are accepted before the dialer starts, so setup does not compete with dialing.
  const started = performance.now();
  for (const b of businesses) {
    await acceptRun({ pool, dedupWindowS: 0 }, b, leadsOf.get(b.businessId) ?? [], undefined, SLOTS, undefined);
  }
  process.stdout.write(`  ${phase.name}: ${businesses.length} runs accepted in ${Math.round(performance.now() - started)} ms\n`);
  await outbound.start({ api: true, worker: true });
  const trace = process.env.DIALER_BENCH_TRACE === '1' ? await startTrace(db.url, outbound.dialer.provider, businessOf, pool) : null;
  const worker = new Worker({ pool, databaseUrl: db.url, registry: createRegistry([outbound]), config: config.worker, log });
  await worker.start();

  // A refill is a final callback of a business that still has queued items, paired with that
  // business's next create-call (FIFO: the k-th pending final with the k-th create after it).
  // Only finals sent inside the window count; a business whose items ran out expects nothing.
  const remaining = new Map(businesses.map((b) => [b.businessId, leadsOf.get(b.businessId)?.length ?? 0]));
  const pendingFinals = new Map<number, number[]>();
  const refill: number[] = [];
  const webhook: number[] = [];
  const creates: number[] = [];
  let measureFrom = Infinity;
  let measureTo = Infinity;
  simulator.child.on('message', (m: SimEvent) => {
    if (m.t === 'ready') return;
    const b = businessOf.get(m.to);
    if (b === undefined) return;
    if (m.t === 'create') {
      creates.push(m.at);
      remaining.set(b, (remaining.get(b) ?? 1) - 1);
      const freed = pendingFinals.get(b)?.shift();
      if (freed !== undefined && freed >= measureFrom && freed < measureTo) {
        refill.push(m.at - freed);
        trace?.refill(b, freed, m.at);
      }
    } else if (m.t === 'final') {
      if ((remaining.get(b) ?? 0) <= (pendingFinals.get(b)?.length ?? 0)) return;
      const list = pendingFinals.get(b) ?? [];
      list.push(m.at);
      pendingFinals.set(b, list);
    } else if (m.sentAt >= measureFrom && m.sentAt < measureTo) {
      webhook.push(m.at - m.sentAt);
    }
  });

  await new Promise((r) => setTimeout(r, phase.warmupMs));
  const from = performance.timeOrigin + performance.now();
  measureFrom = from;
  measureTo = from + phase.measureMs;
  const loop = monitorEventLoopDelay({ resolution: 5 });
  loop.enable();
  const cpu0 = process.cpuUsage();
  let maxActive = 0;
  const sampler = setInterval(() => {
    void pool
      .query<{ n: number }>(`SELECT coalesce(max(n), 0)::int AS n FROM (SELECT count(*) AS n FROM calls WHERE status IN ('dialing','queued','initiated','ringing','in-progress') GROUP BY business_id) x`)
      .then((r) => (maxActive = Math.max(maxActive, r.rows[0]?.n ?? 0)))
      .catch(() => undefined);
  }, 500);
  await new Promise((r) => setTimeout(r, phase.measureMs));
  clearInterval(sampler);
  loop.disable();
  const cpu = process.cpuUsage(cpu0);
  const cpuOfCore = (cpu.user + cpu.system) / 1000 / phase.measureMs;
  // Refills of finals late in the window land after it: give them a moment.
  await new Promise((r) => setTimeout(r, 2_000));
  const window = creates.filter((t) => t >= from && t < from + phase.measureMs);

  trace?.report();
  await trace?.stop();
  await worker.stop();
  await app.close();
  await outbound.stop();
  simulator.child.disconnect();
  await pool.end();
  await db.drop();
  return {
    phase,
    refill: refill.sort((a, b) => a - b),
    webhook: webhook.sort((a, b) => a - b),
    creates: window,
    maxActive,
    cps: config.twilio.cps,
    loopP99Ms: loop.percentile(99) / 1e6,
    cpuOfCore,
  };
}

/**
 * DIALER_BENCH_TRACE=1: where a refill's time goes, on this process's clock (the simulator's is
 * the same system clock): final sent → NOTIFY seen by a listener here → the dialer calls the SDK's
 * create → the simulator receives it.
 */
async function startTrace(url: string, provider: TelephonyProvider, businessOf: Map<string, number>, pool: pg.Pool) {
  const now = () => performance.timeOrigin + performance.now();
  const notified = new Map<number, number[]>();
  const entered = new Map<number, number[]>();
  const parts = { toNotify: [] as number[], toCreateCall: [] as number[], sdk: [] as number[], poolWaiting: [] as number[] };
  const poolSampler = setInterval(() => parts.poolWaiting.push(pool.waitingCount), 20);
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  client.on('notification', (n) => {
    const b = Number(n.payload);
    notified.set(b, [...(notified.get(b) ?? []), now()]);
  });
  await client.query('LISTEN bulkhead_dialer');
  const create = provider.createCall.bind(provider);
  provider.createCall = (req) => {
    const b = businessOf.get(req.to);
    if (b !== undefined) entered.set(b, [...(entered.get(b) ?? []), now()]);
    return create(req);
  };
  return {
    refill(b: number, freedAt: number, createdAt: number) {
      const n = notified.get(b)?.filter((t) => t >= freedAt).sort((x, y) => x - y)[0];
      const e = entered.get(b)?.filter((t) => t <= createdAt).sort((x, y) => y - x)[0];
      if (n === undefined || e === undefined) return;
      parts.toNotify.push(n - freedAt);
      parts.toCreateCall.push(e - n);
      parts.sdk.push(createdAt - e);
    },
    report() {
      for (const [k, v] of Object.entries(parts)) {
        const s = [...v].sort((x, y) => x - y);
        process.stdout.write(`  trace ${k}: n=${s.length} p50=${pct(s, 50).toFixed(1)} p90=${pct(s, 90).toFixed(1)} p99=${pct(s, 99).toFixed(1)} ms\n`);
      }
    },
    stop: () => {
      clearInterval(poolSampler);
      return client.end();
    },
  };
}

function summarize(r: PhaseResult) {
  const n = r.creates.length;
  const first = r.creates[0] ?? 0;
  const last = r.creates.at(-1) ?? 0;
  const rate = n > 1 ? ((n - 1) * 1000) / (last - first) : 0;
  return {
    refills: r.refill.length,
    p50: pct(r.refill, 50),
    p90: pct(r.refill, 90),
    p99: pct(r.refill, 99),
    max: r.refill.at(-1) ?? NaN,
    webhookP50: pct(r.webhook, 50),
    webhookP99: pct(r.webhook, 99),
    loopP99: r.loopP99Ms,
    cpu: r.cpuOfCore,
    dialled: n,
    rate,
    ofCps: rate / r.cps,
    maxActive: r.maxActive,
  };
}

async function main(): Promise<void> {
  const server = await startBenchServer();
  const phases: Phase[] = [
    {
      name: 'refill',
      businesses: BUSINESSES,
      env: { SIM_CALL_MS: '60000', TWILIO_CPS: '200', WORKER_CONCURRENCY: '4' },
      leadsPerBusiness: 8,
      warmupMs: 50_000,
      measureMs: 40_000,
    },
    {
      name: 'refill_small',
      businesses: 200,
      env: { SIM_CALL_MS: '60000', TWILIO_CPS: '200', WORKER_CONCURRENCY: '4' },
      leadsPerBusiness: 8,
      warmupMs: 50_000,
      measureMs: 40_000,
    },
    {
      name: 'cps',
      businesses: BUSINESSES,
      env: { SIM_CALL_MS: '2000', WORKER_CONCURRENCY: '4' },
      leadsPerBusiness: 3,
      warmupMs: 5_000,
      measureMs: 20_000,
    },
  ];
  // DIALER_BENCH_ONLY=refill runs one phase and prints it without touching docs (for iterating).
  const only = process.env.DIALER_BENCH_ONLY;
  const results: PhaseResult[] = [];
  try {
    for (const p of phases) {
      if (only && p.name !== only) continue;
      process.stdout.write(`phase ${p.name} …\n`);
      results.push(await runPhase(server, p));
    }
  } finally {
    await server.stop();
  }
  if (only) {
    for (const r of results) process.stdout.write(`${JSON.stringify({ phase: r.phase.name, ...summarize(r) })}\n`);
    return;
  }
  const [refill, small, cps] = results.map(summarize);
  if (!refill || !small || !cps) throw new Error('missing results');
  const ms = (x: number) => (Number.isFinite(x) ? `${x.toFixed(1)} ms` : 'n/a');
  const pass = (ok: boolean) => (ok ? '**PASS**' : '**MISS**');
  const when = new Date().toISOString().slice(0, 16).replace('T', ' ');
  const load = (await fs.readFile('/proc/loadavg', 'utf8').catch(() => 'n/a')).split(' ').slice(0, 3).join(' ');
  const row = (label: string, r: ReturnType<typeof summarize>) =>
    `| ${label} | ${r.refills} | ${ms(r.p50)} | ${ms(r.p90)} | ${ms(r.p99)} | ${ms(r.max)} | ${ms(r.webhookP50)} / ${ms(r.webhookP99)} | ${r.loopP99.toFixed(1)} ms | ${(r.cpu * 100).toFixed(0)} % | ${r.maxActive} |`;
  const section = `## Dialer

Slot refill latency and CPS use of the outbound dialer: \`npx tsx bench/dialer.ts\` (≈ 5 min; writes this section). Businesses × ${SLOTS} call slots, one run each. API, worker and dialer run in the bench process; the Twilio simulator runs in a child process, as a separate Twilio would: the real \`twilio\` SDK posts create-calls to it over HTTP and it posts signed status callbacks over HTTP to our webhook route. Refill latency = the simulator sends a call's final status callback → the simulator receives the next create-call of that business (both on the simulator's clock), counted only for finals of businesses that still had queued items, sent inside the measuring window.

Measured ${when} UTC on ${os.cpus().length} cores shared with other work (load average at the end: ${load}), Node ${process.version}, ${server.kind} PostgreSQL ${server.version}.

| scenario (SIM_CALL_MS 60000, TWILIO_CPS 200) | refills | p50 | p90 | p99 | max | webhook answered p50 / p99 | event-loop delay p99 | bench process CPU | max active / business |
|---|---|---|---|---|---|---|---|---|---|
${row(`1000 businesses × 3, ${(phases[0]?.measureMs ?? 0) / 1000} s after ${(phases[0]?.warmupMs ?? 0) / 1000} s warm-up (the first wave's calls end: ~75 refills/s)`, refill)}
${row('200 businesses × 3, same (~15 refills/s)', small)}

| scenario | configured CPS | dialled in window | sustained | of CPS | max active / business |
|---|---|---|---|---|---|
| CPS use (SIM_CALL_MS 2000, default simulated TWILIO_CPS; demand ~1500/s) | ${results[2]?.cps ?? 'n/a'} | ${cps.dialled} in ${(phases[2]?.measureMs ?? 0) / 1000} s | ${cps.rate.toFixed(1)} calls/s | ${(cps.ofCps * 100).toFixed(1)} % | ${cps.maxActive} |

**Targets**

| subject | target | measured | result |
|---|---|---|---|
| refill p99, 1000 × 3 | ≤ 50 ms | ${ms(refill.p99)} | ${pass(refill.p99 <= 50)} |
| refill p99, 200 × 3 | ≤ 50 ms | ${ms(small.p99)} | ${pass(small.p99 <= 50)} |
| CPS used when slots are free | ≥ 95 % | ${(cps.ofCps * 100).toFixed(1)} % | ${pass(cps.ofCps >= 0.95)} |
| never above the slot limit | ≤ ${SLOTS} | ${Math.max(refill.maxActive, small.maxActive, cps.maxActive)} | ${pass(Math.max(refill.maxActive, small.maxActive, cps.maxActive) <= SLOTS)} |

**How it works (docs/DIALER.md)**: a call's first final callback is one statement — the call ends, its item takes the outcome, the run's job is woken and \`NOTIFY bulkhead_dialer\` is queued; the listener of the dialer that owns the business then claims its next item in one short transaction (slot try-lock, one observing statement, one writing statement), reserves its CPS turn in one autocommit statement, and the SDK posts the create-call. CPS is one GCRA row shared by all processes; claims never run more than 1 s ahead of it.
`;
  process.stdout.write(`\n${section}\n`);
  await writeSection(section);
}

async function writeSection(section: string): Promise<void> {
  const file = path.join(ROOT, 'docs', 'BENCHMARKS.md');
  let doc = await fs.readFile(file, 'utf8').catch(() => '# Benchmarks\n');
  const start = doc.indexOf('\n## Dialer\n');
  if (start >= 0) {
    const next = doc.indexOf('\n## ', start + 1);
    doc = doc.slice(0, start + 1) + section + (next >= 0 ? `\n${doc.slice(next + 1)}` : '');
  } else {
    const notes = doc.indexOf('\n## Notes\n');
    doc = notes >= 0 ? `${doc.slice(0, notes + 1)}${section}\n${doc.slice(notes + 1)}` : `${doc.trimEnd()}\n\n${section}`;
  }
  await fs.writeFile(file, doc);
}

(process.argv[2] === 'sim' ? simulatorChild() : main()).catch((err: unknown) => {
  quietLog.error({ err });
  console.error(err);
  process.exit(1);
});
