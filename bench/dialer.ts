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
 * Everything runs in this process (API, worker, dialer, simulator) on one PostgreSQL (embedded
 * unless DATABASE_URL is set). Results are printed and written into docs/BENCHMARKS.md under
 * "## Dialer" (only that section is replaced).
 */
import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import type pg from 'pg';
import { createRegistry } from '../src/cli/handlers.js';
import { loadConfig } from '../src/config/config.js';
import { createPool } from '../src/db/pool.js';
import { acceptDeps, buildApp } from '../src/http/app.js';
import { createAppMetrics } from '../src/http/metrics.js';
import { Worker } from '../src/jobs/worker.js';
import { createLogger } from '../src/lib/logger.js';
import { createOutboundModule } from '../src/outbound/module.js';
import { acceptRun } from '../src/outbound/runs.service.js';
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
  creates: number[];
  maxActive: number;
  cps: number;
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
  const config = loadConfig({
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
  const sim = outbound.simulator;
  if (!sim) throw new Error('no simulator');
  const worker = new Worker({ pool, databaseUrl: db.url, registry: createRegistry([outbound]), config: config.worker, log });
  await worker.start();

  const lastFinal = new Map<number, number[]>();
  const refill: number[] = [];
  const creates: number[] = [];
  let measuring = false;
  sim.onCreate = (call, at) => {
    creates.push(at);
    const b = businessOf.get(call.to);
    const pending = b === undefined ? undefined : lastFinal.get(b);
    const freed = pending?.shift();
    if (measuring && freed !== undefined) refill.push(at - freed);
  };
  // Timed from the moment the simulator sends the final callback: the refill's create-call can
  // reach the simulator before the callback's HTTP answer does.
  sim.onFinalSent = (call, at) => {
    const b = businessOf.get(call.to);
    if (b === undefined) return;
    const list = lastFinal.get(b) ?? [];
    list.push(at);
    lastFinal.set(b, list);
  };

  await new Promise((r) => setTimeout(r, phase.warmupMs));
  for (const l of lastFinal.values()) l.length = 0;
  measuring = true;
  const from = performance.now();
  let maxActive = 0;
  const sampler = setInterval(() => {
    void pool
      .query<{ n: number }>(`SELECT coalesce(max(n), 0)::int AS n FROM (SELECT count(*) AS n FROM calls WHERE status IN ('dialing','queued','initiated','ringing','in-progress') GROUP BY business_id) x`)
      .then((r) => (maxActive = Math.max(maxActive, r.rows[0]?.n ?? 0)))
      .catch(() => undefined);
  }, 500);
  await new Promise((r) => setTimeout(r, phase.measureMs));
  measuring = false;
  clearInterval(sampler);
  const window = creates.filter((t) => t >= from && t < from + phase.measureMs);

  await worker.stop();
  await app.close();
  await outbound.stop();
  await pool.end();
  await db.drop();
  return { phase, refill: refill.sort((a, b) => a - b), creates: window, maxActive, cps: config.twilio.cps };
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
  const results: PhaseResult[] = [];
  try {
    for (const p of phases) {
      process.stdout.write(`phase ${p.name} …\n`);
      results.push(await runPhase(server, p));
    }
  } finally {
    await server.stop();
  }
  const [refill, small, cps] = results.map(summarize);
  if (!refill || !small || !cps) throw new Error('missing results');
  const ms = (x: number) => (Number.isFinite(x) ? `${x.toFixed(1)} ms` : 'n/a');
  const pass = (ok: boolean) => (ok ? '**PASS**' : '**MISS**');
  const when = new Date().toISOString().slice(0, 16).replace('T', ' ');
  const section = `## Dialer

Slot refill latency and CPS use of the outbound dialer (\`npx tsx bench/dialer.ts\`), businesses × ${SLOTS} call slots, one run each, on the Twilio simulator. API, worker, dialer and simulator share one Node process (the simulator's HTTP traffic and every webhook included); the real \`twilio\` SDK talks HTTP to the simulator.

Measured ${when} UTC on ${os.cpus().length} cores, Node ${process.version}, ${server.kind} PostgreSQL ${server.version}.

| scenario | calls | measured | refills | p50 | p90 | p99 | max | max active / business |
|---|---|---|---|---|---|---|---|---|
| refill latency, 1000 businesses × 3 (SIM_CALL_MS 60000, TWILIO_CPS 200: demand ~50 calls/s) | final callback sent → next create-call of that business | ${(phases[0]?.measureMs ?? 0) / 1000} s after ${(phases[0]?.warmupMs ?? 0) / 1000} s warm-up | ${refill.refills} | ${ms(refill.p50)} | ${ms(refill.p90)} | ${ms(refill.p99)} | ${ms(refill.max)} | ${refill.maxActive} |
| refill latency, 200 businesses × 3 (same, demand ~10 calls/s) | same | same | ${small.refills} | ${ms(small.p50)} | ${ms(small.p90)} | ${ms(small.p99)} | ${ms(small.max)} | ${small.maxActive} |

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

**How it works (docs/DIALER.md)**: a final callback commits the call's end and \`NOTIFY bulkhead_dialer\` in one transaction; the dialer's listener claims the business's next item (one transaction under the business's slot lock, with the CPS reservation as its last statement) and the SDK posts the create-call. CPS is one GCRA row shared by all processes; claims never run more than 1 s ahead of it.
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

main().catch((err: unknown) => {
  quietLog.error({ err });
  console.error(err);
  process.exit(1);
});
