/**
 * WhatsApp broadcasts: the sustained send rate against the simulator's cap, as a fraction of the
 * cap, and how many sends the cap refused (130429) or failed for good. Standalone:
 *
 *   npx tsx bench/broadcasts.ts [--quick]
 *
 * The production path end to end: acceptBroadcast (what the HTTP route calls) → gate → job →
 * real Workers with the production handlers and engine defaults (JOB_BATCH_PAUSE_MS=200; 0 for this job type, see its handler) →
 * the Cloud API adapter over HTTP → the simulator's sliding-window limit. Status webhooks are
 * off (nothing listens for them here): this measures sending alone. Results are printed and
 * written to docs/BENCHMARKS.md under "## WhatsApp broadcasts" (only that section).
 */
import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import type pg from 'pg';
import { acceptBroadcast } from '../src/broadcasts/broadcasts.service.js';
import { CATCH_UP_MS, JITTER_MARGIN_MS, PACING_HEADROOM } from '../src/broadcasts/pacing.js';
import { createModules, createRegistry } from '../src/app/modules.js';
import { loadConfig } from '../src/config/config.js';
import { createPool } from '../src/db/pool.js';
import { Worker } from '../src/jobs/worker.js';
import { WhatsAppSimulator } from '../src/providers/whatsapp/simulator.js';
import { WA_ERRORS } from '../src/providers/whatsapp/types.js';
import { createTenant, type BenchTenant } from './lib/dataset.js';
import { createBenchDatabase, quietLog } from './lib/db.js';
import { startBenchServer, type BenchServer } from './lib/server.js';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const TARGET = 0.95;
const AREAS = ['212', '646', '718', '917', '347', '415', '305', '312'];

interface Scenario {
  name: string;
  cap: number;
  workers: number;
  /** One broadcast per business, all on the one sender number. */
  broadcasts: number;
  recipientsEach: number;
}

interface Measured {
  scenario: Scenario;
  accepted: number;
  seconds: number;
  rate: number;
  fraction: number;
  refused130429: number;
  rateLimitFailures: number;
  otherFailures: number;
  maxInAnySecond: number;
}

function phoneList(count: number, offset: number): string[] {
  const out: string[] = [];
  for (let i = offset; out.length < count; i += 1) {
    const area = AREAS[Math.floor(i / 10_000) % AREAS.length] ?? '212';
    out.push(`+1${area}555${String(i % 10_000).padStart(4, '0')}`);
  }
  return out;
}

async function run(server: BenchServer, s: Scenario): Promise<Measured> {
  const db = await createBenchDatabase(server, `broadcasts_${s.name}`);
  // The adapter sends config.whatsapp.token (the development one here): the simulator expects it.
  const sim = new WhatsAppSimulator({ appSecret: 'bench-secret-123', token: loadConfig({}).whatsapp.token, mps: s.cap, webhookUrl: () => null, statuses: false });
  const simUrl = await sim.start();
  const config = loadConfig({ DATABASE_URL: db.url, LOG_LEVEL: 'silent', WHATSAPP_API_BASE: simUrl, SIM_WHATSAPP_MPS: String(s.cap) });
  const pools: pg.Pool[] = [];
  const workers: Worker[] = [];
  try {
    for (let i = 0; i < s.workers; i += 1) {
      const pool = createPool(db.url, { max: config.dbPoolMax }, quietLog);
      pools.push(pool);
      const modules = createModules({
        pool, databaseUrl: db.url, config, log: quietLog, accept: { pool, dedupWindowS: 0 }, publicBaseUrl: () => 'http://127.0.0.1:1',
      });
      const worker = new Worker({ pool, databaseUrl: db.url, registry: createRegistry(modules), config: config.worker, log: quietLog });
      for (const m of modules) await m.start?.({ api: false, worker: true });
      await worker.start();
      workers.push(worker);
    }
    const tenants: BenchTenant[] = [];
    for (let i = 0; i < s.broadcasts; i += 1) tenants.push(await createTenant(db.pool, `bench-${i}`));
    const jobIds: number[] = [];
    for (const [i, t] of tenants.entries()) {
      const accepted = await acceptBroadcast(
        { accept: { pool: db.pool, dedupWindowS: 0 }, pool: db.pool, senderOf: async () => config.whatsapp.phoneNumberId },
        t,
        { template: { name: 'spring_sale', language: 'en_US' }, recipients: phoneList(s.recipientsEach, i * s.recipientsEach).map((phone) => ({ phone })) },
        undefined,
      );
      jobIds.push(Number(accepted.body.job_id));
    }
    for (;;) {
      const { rows } = await db.pool.query<{ n: number }>(
        `SELECT count(*)::int AS n FROM jobs WHERE id = ANY($1::bigint[]) AND status IN ('queued', 'running')`,
        [jobIds],
      );
      if (rows[0]?.n === 0) break;
      await new Promise((r) => setTimeout(r, 200));
    }
    const { rows: failures } = await db.pool.query<{ reason: string | null; n: number }>(
      `SELECT reason, count(*)::int AS n FROM whatsapp_recipients WHERE status = 'failed' GROUP BY reason`,
    );
    const times = sim.accepted.map((m) => m.at).sort((a, b) => a - b);
    if (process.env.BENCH_DEBUG && sim.throttledAt[0] !== undefined) {
      const t0 = sim.throttledAt[0];
      const inWin = times.filter((t) => t > t0 - 1000 && t <= t0);
      console.log('first 130429 at +', t0 - (times[0] ?? 0), 'accepted in window', inWin.length, 'gaps', inWin.map((t, i) => (i ? t - (inWin[i - 1] ?? 0) : 0)).join(','));
    }
    const first = times[0] ?? 0;
    const last = times.at(-1) ?? 0;
    let maxInAnySecond = 0;
    for (let i = 0, j = 0; i < times.length; i += 1) {
      while ((times[i] ?? 0) - (times[j] ?? 0) >= 1000) j += 1;
      maxInAnySecond = Math.max(maxInAnySecond, i - j + 1);
    }
    const seconds = (last - first) / 1000;
    const rate = times.length > 1 ? (times.length - 1) / seconds : 0;
    return {
      scenario: s,
      accepted: times.length,
      seconds,
      rate,
      fraction: rate / s.cap,
      refused130429: sim.refusals.get(WA_ERRORS.throughput) ?? 0,
      rateLimitFailures: failures.filter((f) => f.reason === 'retries_exhausted').reduce((a, f) => a + f.n, 0),
      otherFailures: failures.filter((f) => f.reason !== 'retries_exhausted').reduce((a, f) => a + f.n, 0),
      maxInAnySecond,
    };
  } finally {
    for (const w of workers) await w.stop();
    await sim.stop();
    for (const p of pools) await p.end();
    await db.drop();
  }
}

function markdown(results: Measured[], server: BenchServer, when: string): string {
  const rows = results.map((r) => {
    const pass = r.fraction >= TARGET && r.rateLimitFailures === 0;
    return `| ${r.scenario.name} | ${r.scenario.cap} | ${r.scenario.workers} | ${r.scenario.broadcasts} × ${r.scenario.recipientsEach.toLocaleString('en-US')} | ` +
      `${r.rate.toFixed(1)} msg/s over ${r.seconds.toFixed(1)} s | **${(r.fraction * 100).toFixed(1)} %** | ${r.maxInAnySecond} | ${r.refused130429} | ${r.rateLimitFailures} | ${pass ? '**PASS**' : '**MISS**'} |`;
  });
  return [
    '## WhatsApp broadcasts',
    '',
    'Sustained send rate of `broadcast_whatsapp` against the simulator\'s cap (`SIM_WHATSAPP_MPS`, a sliding 1-second window answering the real 130429 beyond it), as a fraction of the cap. Target: ≥ 95 % of the cap with 0 recipients failed because of rate limiting.',
    '',
    `Measured ${when} by \`npx tsx bench/broadcasts.ts\` on ${os.cpus().length} cores, Node ${process.version}, ${server.kind} PostgreSQL ${server.version}${server.flags.length ? ` (flags \`${server.flags.join(' ')}\`)` : ''}. ` +
      'Production engine defaults (WORKER_CONCURRENCY=4; the broadcast handler sets its batch pause to 0); the Cloud API adapter talks HTTP to the simulator in the same process; status webhooks off. ' +
      'Rate = (accepted − 1) ÷ (last accept − first accept), as the simulator saw them.',
    '',
    '| scenario | cap msg/s | workers | broadcasts × recipients | sustained | of cap | max in any 1 s | 130429 answers | rate-limit failures | result |',
    '|---|---|---|---|---|---|---|---|---|---|',
    ...rows,
    '',
    '**Analysis**',
    '',
    `The pacer (src/broadcasts/pacing.ts) keeps one row per sender number, shared by every worker: the slots of the last window and a GCRA schedule. ` +
      `A slot must satisfy the provider's own sliding-window rule (at most ${(PACING_HEADROOM * 100).toFixed(0)} % of the cap in any window of 1 s + ${JITTER_MARGIN_MS} ms, the margin absorbing arrival jitter) ` +
      `and the schedule, which lets a sender that fell behind by up to ${CATCH_UP_MS} ms catch up at twice the rate. ` +
      'The remaining gap to 100 % is that headroom. A batch is ~2 s of sending in waves of ~100 ms, claimed just before their slots; ' +
      'the engine\'s pause between batches is off for this job type (`batchPauseMs: 0`), because idle time that would push a full window of catch-up into the next second cannot be made up without breaking the window rule: ' +
      'with the 200 ms pause the same code measured 75–80 % of the cap. Rows with two workers and two broadcasts show the pacing is shared: together they stay under the cap.',
    '',
  ].join('\n');
}

async function writeSection(section: string): Promise<void> {
  const file = path.join(ROOT, 'docs', 'BENCHMARKS.md');
  let text = await fs.readFile(file, 'utf8').catch(() => '# Benchmarks\n');
  const start = text.indexOf('\n## WhatsApp broadcasts\n');
  if (start >= 0) {
    const next = text.indexOf('\n## ', start + 1);
    text = text.slice(0, start + 1) + section + (next >= 0 ? text.slice(next + 1) : '');
  } else {
    const notes = text.indexOf('\n## Notes\n');
    text = notes >= 0 ? `${text.slice(0, notes + 1)}${section}\n${text.slice(notes + 1)}` : `${text.trimEnd()}\n\n${section}`;
  }
  await fs.writeFile(file, text);
}

async function main(): Promise<void> {
  const quick = process.argv.includes('--quick');
  const seconds = quick ? 8 : 30;
  const scenarios: Scenario[] = [
    { name: 'default cap, one worker', cap: 80, workers: 1, broadcasts: 1, recipientsEach: 80 * seconds },
    { name: 'default cap, two workers, two businesses', cap: 80, workers: 2, broadcasts: 2, recipientsEach: 40 * seconds },
    { name: 'cap 400, one worker', cap: 400, workers: 1, broadcasts: 1, recipientsEach: 400 * Math.min(seconds, 15) },
  ];
  const server = await startBenchServer();
  const results: Measured[] = [];
  try {
    for (const s of scenarios) {
      process.stderr.write(`broadcasts: ${s.name} (${s.broadcasts} × ${s.recipientsEach} at cap ${s.cap}) …\n`);
      const r = await run(server, s);
      results.push(r);
      console.log(`${s.name}: ${r.rate.toFixed(1)} msg/s = ${(r.fraction * 100).toFixed(1)} % of ${s.cap}; ` +
        `max ${r.maxInAnySecond} in any second; ${r.refused130429} × 130429; ${r.rateLimitFailures} rate-limit failures; ${r.otherFailures} other failures`);
    }
  } finally {
    await server.stop();
  }
  const when = `${new Date().toISOString().slice(0, 16).replace('T', ' ')} UTC`;
  await writeSection(markdown(results, server, when));
  console.log('written to docs/BENCHMARKS.md (## WhatsApp broadcasts)');
}

await main();
// The full-size run was seen to stay alive after writing its results (a handle not yet
// identified; the --quick run exits by itself): a benchmark script ends when it is done.
process.exit(0);
