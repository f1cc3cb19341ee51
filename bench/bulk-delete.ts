/**
 * (b) bulk-delete: leads with a note, an activity and a reminder each, deleted through the real
 * `delete_leads_bulk` job (the service the HTTP route calls, then an in-process worker with the
 * production handlers) at the engine's DEFAULT batch settings (adaptive size, pause only under
 * database pressure), against ONE raw `DELETE … WHERE id = ANY($2)` on the same data; fixed batch
 * sizes for comparison. While the default-settings job runs, an API process of its own serves
 * another business's lead list to a paced reader (on a thread of its own), whose p99 is compared
 * with its p99 with no job running.
 *
 * Sizes: 100 000 leads, 20 000 with --quick, or BENCH_LEADS (a comma-separated list, e.g.
 * BENCH_LEADS=100000,1000000: every size in one run, one table each).
 */
import type pg from 'pg';
import { loadConfig } from '../src/config/config.js';
import { withTx } from '../src/db/pool.js';
import type { BatchReport } from '../src/jobs/worker.js';
import { acceptBulkDelete } from '../src/leads/bulk.service.js';
import { moveLeadsToTrash } from '../src/leads/trash.repo.js';
import { createTenant, insertLeads, leadIds, remainingRows, type BenchTenant } from './lib/dataset.js';
import { createBenchDatabase, type BenchDatabase } from './lib/db.js';
import { acceptDeps, jobIdOf, startInProcessWorker, waitForCompletion } from './lib/jobs.js';
import { spawnApi } from './lib/child.js';
import type { LoadResult, LoadSpec } from './lib/load.js';
import { pacedOnThread } from './lib/load-thread.js';
import type { ScenarioReport, Table, TargetCheck } from './lib/report.js';
import type { Scenario, ScenarioContext } from './lib/scenario.js';
import { formatInt, ratio, seconds, since, sleep } from './lib/timing.js';

/** raw time ÷ job time, default settings. */
const TARGET = 0.8;
/** Reader p99 during the default-settings delete ÷ its p99 with no job running. */
const READER_TARGET = 2;
const FIXED_SIZES = [50, 1000];
const READER_LEADS = 10_000;
const READER_PATH = '/api/v1/leads?limit=50';
const READER_CONNECTIONS = 4;
/** The load starts this long before the job is accepted, so it covers the whole delete. */
const LOAD_LEAD_MS = 50;
/** The query of the worker's PressureGauge (src/jobs/batch-pacing.ts), sampled by the bench. */
const ACTIVE_SESSIONS = `/* bench-observer */ SELECT count(*)::int AS active FROM pg_stat_activity
  WHERE state = 'active' AND backend_type = 'client backend' AND pid <> pg_backend_pid()`;

interface Variant {
  /** null: the engine's defaults (no JOB_BATCH_SIZE, no JOB_BATCH_PAUSE_MS). */
  fixedSize: number | null;
  /** A concurrent reader during the delete (and its unloaded baseline before). */
  reader: boolean;
  env: Record<string, string>;
}

interface TimedBatch extends BatchReport {
  /** performance.now() when the worker reported the batch committed. */
  endAt: number;
}

interface JobRun {
  variant: Variant;
  acceptMs: number;
  totalMs: number;
  /** Every committed batch of the job, in order (the worker's onBatch hook). */
  batches: TimedBatch[];
  /** From the 202 to the start of the first batch (NOTIFY, claim). */
  toFirstMs: number;
  /** Time between one batch's commit and the next one's start: the pause, if any, and the loop. */
  gapsMs: number[];
  sessions: SessionStats;
  reader: ReaderRun | null;
}

/** The reader's offered rate (req/s) and how long its unloaded measurement runs (s). */
interface ReaderOpts {
  rate: number;
  seconds: number;
}

interface ReaderRun {
  unloaded: LoadResult;
  loaded: LoadResult;
  unloadedS: number;
}

interface SessionStats {
  samples: number;
  mean: number;
  max: number;
  /** Samples with more active sessions than JOB_PRESSURE_ACTIVE's default (8): the worker's pause condition. */
  over: number;
}

interface SizeResult {
  leads: number;
  runs: JobRun[];
  rawMs: number;
  /** The job's own statement (delete + file into the trash) for all ids at once: the floor of what the job does now. */
  rawTrashMs: number;
}

const PRESSURE_ACTIVE = loadConfig({}).worker.batch.pressureActive;

const VARIANTS: Variant[] = [
  { fixedSize: null, reader: true, env: {} },
  { fixedSize: null, reader: false, env: {} },
  ...FIXED_SIZES.map((n) => ({ fixedSize: n, reader: false, env: { JOB_BATCH_SIZE: String(n), JOB_BATCH_PAUSE_MS: '0' } })),
];

export const bulkDeleteScenario: Scenario = {
  name: 'bulk-delete',
  async run(ctx) {
    const sizes = leadCounts(ctx.quick);
    const reader: ReaderOpts = { rate: readerRate(), seconds: ctx.quick ? 3 : 10 };
    const results: SizeResult[] = [];
    for (const leads of sizes) {
      const runs: JobRun[] = [];
      for (const variant of VARIANTS) {
        ctx.progress(`bulk-delete: ${formatInt(leads)} leads through delete_leads_bulk, ${variantName(variant)}`
          + (variant.reader ? ` (reader at ${reader.rate} req/s)` : ''));
        const run = await viaJob(ctx, leads, variant, reader);
        runs.push(run);
        ctx.progress(`bulk-delete:   ${seconds(run.totalMs)}, ${formatInt(run.batches.length)} batches`
          + (run.reader ? `; reader p99 ${run.reader.unloaded.p99} ms unloaded, ${run.reader.loaded.p99} ms during the delete` : ''));
      }
      ctx.progress(`bulk-delete: ${formatInt(leads)} leads with one raw DELETE`);
      const rawMs = await viaRawDelete(ctx, leads);
      ctx.progress(`bulk-delete:   ${seconds(rawMs)}`);
      ctx.progress(`bulk-delete: ${formatInt(leads)} leads with one raw DELETE into the trash`);
      const rawTrashMs = await viaRawTrash(ctx, leads);
      ctx.progress(`bulk-delete:   ${seconds(rawTrashMs)}`);
      results.push({ leads, runs, rawMs, rawTrashMs });
    }
    return report(results, reader);
  },
};

/** BENCH_LEADS (comma-separated counts) when set, else 20 000 with --quick, else 100 000. */
function leadCounts(quick: boolean): number[] {
  const raw = process.env.BENCH_LEADS?.trim();
  if (!raw) return [quick ? 20_000 : 100_000];
  const counts = raw.split(',').map((s) => Number(s.trim().replace(/_/g, '')));
  if (counts.some((n) => !Number.isSafeInteger(n) || n < 1)) throw new Error(`BENCH_LEADS must be positive integers, comma-separated: ${raw}`);
  return counts;
}

/** BENCH_READER_RATE (requests per second), else 100. */
function readerRate(): number {
  const raw = process.env.BENCH_READER_RATE?.trim();
  const rate = raw ? Number(raw) : 100;
  if (!Number.isFinite(rate) || rate <= 0) throw new Error(`BENCH_READER_RATE must be a positive number: ${raw}`);
  return rate;
}

function variantName(v: Variant): string {
  if (v.fixedSize !== null) return `JOB_BATCH_SIZE=${v.fixedSize}, JOB_BATCH_PAUSE_MS=0`;
  return v.reader ? 'default settings, with the reader' : 'default settings, no reader';
}

interface Dataset {
  db: BenchDatabase;
  tenant: BenchTenant;
  reader: BenchTenant;
  ids: number[];
}

/** The same dataset for every row: the reader's business with its leads, then the leads to delete with their children. */
async function prepare(ctx: ScenarioContext, name: string, leads: number): Promise<Dataset> {
  const db = await createBenchDatabase(ctx.server, name);
  try {
    const reader = await createTenant(db.pool, 'bulk-delete-reader');
    await insertLeads(db.pool, reader.businessId, { count: READER_LEADS, source: 'manual', children: false });
    const tenant = await createTenant(db.pool, 'bulk-delete');
    await insertLeads(db.pool, tenant.businessId, { count: leads, source: 'manual', children: true });
    const ids = await leadIds(db.pool, tenant.businessId);
    if (ids.length !== leads) throw new Error(`expected ${leads} leads, found ${ids.length}`);
    return { db, tenant, reader, ids };
  } catch (err) {
    await db.drop();
    throw err;
  }
}

async function viaJob(ctx: ScenarioContext, leads: number, variant: Variant, readerOpts: ReaderOpts): Promise<JobRun> {
  const name = `bulk_delete_job_${variant.fixedSize ?? 'default'}${variant.reader ? '_reader' : ''}`;
  const { db, tenant, reader, ids } = await prepare(ctx, name, leads);
  try {
    const batches: TimedBatch[] = [];
    // Started and idle before the clock: a deployment has its workers running already.
    const worker = await startInProcessWorker(db.url, variant.env, { onBatch: (b) => batches.push({ ...b, endAt: performance.now() }) });
    try {
      const api = variant.reader ? await startReaderApi(db) : null;
      try {
        let unloaded: LoadResult | null = null;
        let loaded: LoadResult | undefined;
        let stopLoad: (() => Promise<LoadResult>) | null = null;
        if (api) {
          const spec = readerSpec(api.url, reader.token);
          // On a thread of its own: the accept and the worker below run on this one (load-thread.ts).
          await pacedOnThread(spec(2), readerOpts.rate).result; // warm-up (JIT, the API's pool, plan caches); not reported
          ctx.progress(`bulk-delete:   reader unloaded, ${readerOpts.seconds} s`);
          unloaded = await pacedOnThread(spec(readerOpts.seconds), readerOpts.rate).result;
          // Bounded by the job's own timeout below; stopped as soon as the job is done.
          const running = pacedOnThread(spec(jobTimeoutMs(leads) / 1000), readerOpts.rate);
          stopLoad = async () => {
            running.stop();
            return running.result;
          };
          await sleep(LOAD_LEAD_MS);
        }
        const sampler = sampleActiveSessions(db.pool);
        const t0 = performance.now();
        let acceptMs = 0;
        let job;
        let sessions: SessionStats;
        try {
          const accepted = await acceptBulkDelete(acceptDeps(db.pool), tenant, ids, undefined);
          acceptMs = since(t0);
          if (accepted.statusCode !== 202) throw new Error(`bulk delete not accepted: ${JSON.stringify(accepted)}`);
          job = await waitForCompletion(db.pool, jobIdOf(accepted.body), jobTimeoutMs(leads));
        } finally {
          sessions = await sampler.stop();
          loaded = await stopLoad?.();
        }
        const totalMs = since(t0);
        if (job.succeeded !== leads) throw new Error(`the job deleted ${job.succeeded} of ${leads} leads`);
        const left = await remainingRows(db.pool, tenant.businessId);
        if (left !== 0) throw new Error(`${left} leads or children are left after the job`);
        await checkTrash(db.pool, tenant.businessId, leads);
        const readerLeft = await remainingRows(db.pool, reader.businessId);
        if (readerLeft !== READER_LEADS) throw new Error(`the reader's business has ${readerLeft} rows, expected ${READER_LEADS}`);
        const startOf = (b: TimedBatch) => b.endAt - b.ms;
        const first = batches[0];
        return {
          variant,
          acceptMs,
          totalMs,
          batches,
          toFirstMs: first ? Math.max(0, startOf(first) - (t0 + acceptMs)) : 0,
          gapsMs: batches.slice(1).map((b, i) => Math.max(0, startOf(b) - (batches[i]?.endAt ?? startOf(b)))),
          sessions,
          reader: unloaded && loaded ? { unloaded, loaded, unloadedS: readerOpts.seconds } : null,
        };
      } finally {
        await api?.stop();
      }
    } finally {
      await worker.stop();
    }
  } finally {
    await db.drop();
  }
}

/** The sessions the worker's pressure gauge counts, every 100 ms until stopped (the sampler's own excluded). */
function sampleActiveSessions(pool: pg.Pool, everyMs = 100): { stop(): Promise<SessionStats> } {
  const counts: number[] = [];
  let stopped = false;
  const loop = (async () => {
    while (!stopped) {
      const { rows } = await pool.query<{ active: number }>(ACTIVE_SESSIONS);
      counts.push(rows[0]?.active ?? 0);
      await sleep(everyMs);
    }
  })();
  return {
    async stop() {
      stopped = true;
      await loop;
      return {
        samples: counts.length,
        mean: counts.reduce((a, b) => a + b, 0) / Math.max(1, counts.length),
        max: Math.max(0, ...counts),
        over: counts.filter((n) => n > PRESSURE_ACTIVE).length,
      };
    },
  };
}

/** Generous: JOB_BATCH_SIZE=50 at 1M leads is 20 000 batches. */
function jobTimeoutMs(leads: number): number {
  return Math.max(600_000, leads * 2);
}

function readerSpec(base: string, token: string): (durationS: number) => Omit<LoadSpec, 'body' | 'signal'> {
  return (durationS) => ({ base, tokens: Array.from({ length: READER_CONNECTIONS }, () => token), path: READER_PATH, durationS });
}

interface ReaderApi {
  url: string;
  stop(): Promise<void>;
}

/**
 * The reader's API: a `bulkhead api` process of its own (no worker role), as in a deployment,
 * where the API that serves the lead list does not share its event loop with the worker.
 */
async function startReaderApi(db: BenchDatabase): Promise<ReaderApi> {
  // The reader offers 100 req/s from one token, above the default request budget (50/s).
  const api = await spawnApi({ DATABASE_URL: db.url, API_RATE_PER_S: '1000000', API_RATE_BURST: '1000000' });
  return { url: api.base, stop: () => api.process.stop() };
}

async function viaRawDelete(ctx: ScenarioContext, leads: number): Promise<number> {
  const { db, tenant, ids } = await prepare(ctx, 'bulk_delete_raw', leads);
  try {
    const t0 = performance.now();
    // Children have no cascade (012_children_without_cascade.sql): one statement deletes them by
    // lead id and the leads, the fastest way PostgreSQL removes this data (with the cascades it
    // was the same DELETE FROM leads, and slower).
    const { rows } = await db.pool.query<{ n: number }>(
      `WITH n AS (DELETE FROM lead_notes WHERE lead_id = ANY($2::bigint[])),
            a AS (DELETE FROM lead_activities WHERE lead_id = ANY($2::bigint[])),
            r AS (DELETE FROM lead_reminders WHERE lead_id = ANY($2::bigint[])),
            l AS (DELETE FROM leads WHERE business_id = $1 AND id = ANY($2::bigint[]) RETURNING 1)
       SELECT count(*)::int AS n FROM l`,
      [tenant.businessId, ids],
    );
    const rowCount = rows[0]?.n ?? 0;
    const ms = since(t0);
    if (rowCount !== leads) throw new Error(`raw DELETE removed ${rowCount} of ${leads} leads`);
    const left = await remainingRows(db.pool, tenant.businessId);
    if (left !== 0) throw new Error(`${left} children are left after the raw DELETE`);
    return ms;
  } finally {
    await db.drop();
  }
}

/** What the job does per batch (trash.repo.ts moveLeadsToTrash: leads, then children, into the trash) for all ids in one transaction. */
async function viaRawTrash(ctx: ScenarioContext, leads: number): Promise<number> {
  const { db, tenant, ids } = await prepare(ctx, 'bulk_delete_raw_trash', leads);
  try {
    const t0 = performance.now();
    const moved = await withTx(db.pool, (tx) => moveLeadsToTrash(tx, tenant.businessId, ids, 0));
    const ms = since(t0);
    if (moved !== leads) throw new Error(`raw DELETE into the trash moved ${moved} of ${leads} leads`);
    const left = await remainingRows(db.pool, tenant.businessId);
    if (left !== 0) throw new Error(`${left} children are left after the raw DELETE into the trash`);
    await checkTrash(db.pool, tenant.businessId, leads);
    return ms;
  } finally {
    await db.drop();
  }
}

/** Every deleted lead is in the trash once, with the one note, activity and reminder it had. */
async function checkTrash(pool: pg.Pool, businessId: number, leads: number): Promise<void> {
  const { rows } = await pool.query<{ n: number; children: number }>(
    `SELECT count(*)::int AS n,
            (SELECT count(*) FROM trash_lead_notes WHERE business_id = $1)::int
              + (SELECT count(*) FROM trash_lead_activities WHERE business_id = $1)::int
              + (SELECT count(*) FROM trash_lead_reminders WHERE business_id = $1)::int AS children
       FROM trash_leads WHERE business_id = $1`,
    [businessId],
  );
  const r = rows[0];
  if (r?.n !== leads || r.children !== 3 * leads) throw new Error(`the trash holds ${r?.n} leads with ${r?.children} children, expected ${leads} with ${3 * leads}`);
}

// ---------------------------------------------------------------------------------------------
// Report: every number below is computed from the runs; nothing is asserted that is not.

function ordinal(n: number): string {
  const tens = n % 100;
  const suffix = tens >= 11 && tens <= 13 ? 'th' : ({ 1: 'st', 2: 'nd', 3: 'rd' } as Record<number, string>)[n % 10] ?? 'th';
  return `${formatInt(n)}${suffix}`;
}

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  if (s.length === 0) return 0;
  const mid = Math.floor(s.length / 2);
  return s.length % 2 === 1 ? (s[mid] ?? 0) : Math.round(((s[mid - 1] ?? 0) + (s[mid] ?? 0)) / 2);
}

interface BatchStats {
  count: number;
  first: number;
  median: number;
  max: number;
  /** Sum of the batches' own time (handler and commit). */
  inBatchesMs: number;
  medianMs: number;
  maxMs: number;
}

function batchStats(r: JobRun): BatchStats {
  const sizes = r.batches.map((b) => b.size);
  const ms = r.batches.map((b) => b.ms);
  return {
    count: r.batches.length,
    first: sizes[0] ?? 0,
    median: median(sizes),
    max: Math.max(0, ...sizes),
    inBatchesMs: ms.reduce((a, b) => a + b, 0),
    medianMs: median(ms.map((x) => Math.round(x))),
    maxMs: Math.max(0, ...ms),
  };
}

/** How long the adaptive size took to reach its largest value (it moves at most ×2 per batch). */
function rampUp(r: JobRun): string {
  const s = batchStats(r);
  const k = r.batches.findIndex((b) => b.size === s.max);
  if (k <= 0) return '';
  const before = r.batches.slice(0, k);
  return `The size reached its largest value at batch ${k + 1} of ${s.count}, after ${formatInt(sum(before.map((b) => b.processed)))} leads `
    + `in ${formatInt(sum(before.map((b) => b.ms)))} ms of batches.`;
}

function sum(xs: number[]): number {
  return xs.reduce((a, b) => a + b, 0);
}

function readerRatio(rd: ReaderRun): number {
  return rd.loaded.p99 / Math.max(rd.unloaded.p99, 0.1);
}

function readerFailures(l: LoadResult): number {
  return l.non2xx + l.errors + l.timeouts;
}

function variantLabel(v: Variant): string {
  if (v.fixedSize !== null) return `delete_leads_bulk job, JOB_BATCH_SIZE=${v.fixedSize}, JOB_BATCH_PAUSE_MS=0 (informational)`;
  return v.reader ? '**delete_leads_bulk job, default settings, with the reader** (target)' : 'delete_leads_bulk job, default settings, no reader (informational)';
}

function report(results: SizeResult[], reader: ReaderOpts): ScenarioReport {
  const targets: TargetCheck[] = [];
  const tables: Table[] = [];
  const analysis: string[] = [];
  const many = results.length > 1;
  for (const res of results) {
    const { leads, runs, rawMs, rawTrashMs } = res;
    const at = many ? `, ${formatInt(leads)} leads` : '';
    const def = runs.find((r) => r.variant.fixedSize === null && r.variant.reader);
    if (def) {
      targets.push({
        subject: `delete_leads_bulk at default settings, reader running${at}`,
        target: `raw ÷ job ≥ ${TARGET}× (job ≤ ${(1 / TARGET).toFixed(2)}× raw)`,
        measured: `${ratio(rawMs / def.totalMs)} (${seconds(def.totalMs)} vs ${seconds(rawMs)})`,
        pass: rawMs / def.totalMs >= TARGET,
      });
      const rd = def.reader;
      if (rd) {
        const failures = readerFailures(rd.loaded) + readerFailures(rd.unloaded);
        targets.push({
          subject: `reader p99 (GET ${READER_PATH}, another business, ${reader.rate} req/s) during that delete${at}`,
          target: `≤ ${READER_TARGET}× unloaded p99, no failed request`,
          measured: `${ratio(readerRatio(rd))} (${rd.loaded.p99} ms vs ${rd.unloaded.p99} ms)${failures > 0 ? `, ${formatInt(failures)} failed` : ''}`,
          pass: readerRatio(rd) <= READER_TARGET && failures === 0,
        });
      }
    }
    tables.push({
      title: `${formatInt(leads)} leads: the delete`,
      columns: ['variant', 'batches', 'batch size (first / median / max)', 'batch time (median / max)', 'accept (202)', '202 → first batch',
        'between batches (sum / max)', 'total', 'raw ÷ this', `active sessions (mean / max / samples > ${PRESSURE_ACTIVE})`],
      rows: [
        ...runs.map((r) => {
          const s = batchStats(r);
          return [
            variantLabel(r.variant),
            formatInt(s.count),
            r.variant.fixedSize === null ? `${formatInt(s.first)} / ${formatInt(s.median)} / ${formatInt(s.max)}` : formatInt(r.variant.fixedSize),
            `${formatInt(s.medianMs)} / ${formatInt(s.maxMs)} ms`,
            `${formatInt(r.acceptMs)} ms`,
            `${formatInt(r.toFirstMs)} ms`,
            `${formatInt(sum(r.gapsMs))} / ${formatInt(Math.max(0, ...r.gapsMs))} ms`,
            seconds(r.totalMs),
            ratio(rawMs / r.totalMs),
            `${r.sessions.mean.toFixed(1)} / ${r.sessions.max} / ${r.sessions.over} of ${r.sessions.samples}`,
          ];
        }),
        ['raw `DELETE … id = ANY($2)` (baseline)', '1', formatInt(leads), '—', '—', '—', '—', seconds(rawMs), '1.00×', '—'],
        ['raw `DELETE … id = ANY($2)` into the trash, the job\'s statements (informational)', '1', formatInt(leads), '—', '—', '—', '—', seconds(rawTrashMs), ratio(rawMs / rawTrashMs), '—'],
      ],
    });
    if (def?.reader) {
      const rd = def.reader;
      const row = (phase: string, l: LoadResult, ratioCell: string) => [
        phase, formatInt(l.total), `${formatInt(l.rps)} req/s`, `${l.p50} ms`, `${l.p90} ms`, `**${l.p99} ms**`, `${l.max} ms`, formatInt(readerFailures(l)), ratioCell,
      ];
      tables.push({
        title: `${formatInt(leads)} leads: the concurrent reader, GET ${READER_PATH} (another business), paced ${reader.rate} req/s over ${READER_CONNECTIONS} connections`,
        columns: ['phase', 'requests', 'achieved', 'p50', 'p90', 'p99', 'max', 'failed', 'p99 ÷ unloaded'],
        rows: [
          row(`unloaded (worker idle, ${rd.unloadedS} s)`, rd.unloaded, '1.00×'),
          row('during the default-settings delete', rd.loaded, ratio(readerRatio(rd))),
        ],
      });
    }
    analysis.push(...analyse(res, many, reader));
  }
  analysis.push('Every batch is its own transaction: a pool checkout, `BEGIN`, the handler\'s two statements (src/leads/trash.repo.ts `moveLeadsToTrash`: '
    + '`DELETE FROM leads … RETURNING` into trash_leads, which locks and files the batch\'s leads at once, then the notes, activities and reminders of those '
    + 'leads deleted by lead id into their trash tables — no cascade, as in the baseline), the engine\'s own statements on the job row (progress, checkpoint and the fencing check; '
    + 'the engine scenario\'s statement profile lists them for this version), and `COMMIT`: a few round trips around the one statement that does the work. '
    + 'The raw statement remains the floor: one transaction holding every lead\'s row lock until it ends, with no progress, no pause or cancel, '
    + 'and nothing to resume after a crash — what the job exists to provide.');
  const sizes = results.map((r) => formatInt(r.leads));
  return {
    title: `${sizes.join(' and ')} leads with children: the delete_leads_bulk job at default settings vs one raw DELETE, with a concurrent reader`,
    summary: 'Time to delete a business\'s leads with their notes, activities and reminders through the durable job at the engine\'s default batch '
      + 'settings, against the fastest possible single SQL statement on an identical dataset; and the lead-list latency another business sees '
      + 'while that job runs, against the same reader with no job running.',
    setup: [
      `Sizes: ${sizes.join(' and ')} leads (100,000 by default, 20,000 with \`--quick\`; \`BENCH_LEADS\` sets them, comma-separated: `
        + '`BENCH_LEADS=100000,1000000 npm run bench -- bulk-delete` measures 100k and 1M in one run, one table each).',
      `Dataset (regenerated in a fresh database for each row): a reader business with ${formatInt(READER_LEADS)} leads (no children), `
        + 'then the business whose leads are deleted, each lead with one note, one activity and one reminder (4 rows per lead, by '
        + '`INSERT … SELECT generate_series`), then `VACUUM (ANALYZE)`.',
      'Job: `acceptBulkDelete` (the service behind `POST /api/v1/leads/bulk-delete`: gate, job row with the ids as targets) with all lead ids, '
        + 'processed by an in-process worker with the production handlers (`createRegistry()`), started and idle before the clock. '
        + 'Default settings: neither `JOB_BATCH_SIZE` nor `JOB_BATCH_PAUSE_MS` set and every other variable at its default (adaptive batches '
        + 'sized for `JOB_BATCH_TARGET_MS`=200 within `JOB_BATCH_MIN`..`JOB_BATCH_MAX`=10..10000; a pause between batches only while the database '
        + `has more than \`JOB_PRESSURE_ACTIVE\`=${PRESSURE_ACTIVE} other active sessions). Informational rows: the same defaults without the reader, `
        + 'and `JOB_BATCH_SIZE`=50 and 1000 with `JOB_BATCH_PAUSE_MS=0`. Time: from the accept call to the job row reading `completed` (20 ms poll).',
      'Batches are the ones the worker ran, with their sizes and times (its `onBatch` hook); "between batches" is the time from one batch\'s '
        + 'commit to the next one\'s start (the pause, if any, and the loop). Active sessions: the worker\'s pressure-gauge query '
        + '(client sessions in state `active`, the sampler\'s own excluded), sampled every 100 ms from the accept to completion.',
      `Reader (target row only): an API process of its own (\`node --import tsx src/cli/main.ts api\`, no worker role, its own pool of \`DB_POOL_MAX\` connections, PORT=0) `
        + `serving \`GET ${READER_PATH}\` to the reader business's token, paced at ${reader.rate} req/s (\`BENCH_READER_RATE\`) over `
        + `${READER_CONNECTIONS} keep-alive connections (bench/lib/load.ts \`paced\`: latency from each request's scheduled time, so queueing counts). `
        + `After a 2 s warm-up: ${reader.seconds} s with the worker idle (unloaded), then the same load started ${LOAD_LEAD_MS} ms before the accept `
        + 'and stopped when the job reads `completed` (during). The load generator runs on a thread of its own (bench/lib/load-thread.ts) and '
        + 'the API in its own process, so neither shares an event loop with the accept and the worker (this process\'s main thread), as in a '
        + 'deployment; all of them share the machine\'s cores with PostgreSQL.',
      'Baseline: one statement deleting the same ids (`DELETE FROM leads WHERE business_id = $1 AND id = ANY($2)`) and their children by lead id '
        + '(no cascades since migration 012), keeping nothing. Informational: the job\'s own statements (src/leads/trash.repo.ts `moveLeadsToTrash`: '
        + 'the leads deleted into trash_leads, then their children into the children\'s trash tables) for all ids in one transaction, the work '
        + 'the job does since the trash (issue 13).',
      'Every run checks afterwards that no lead and no child of the business is left, that the trash holds every lead once with its three '
        + 'children (the job and the raw trash statement), and that the reader\'s leads are all there. Ratio = raw time ÷ job time.',
    ],
    tables,
    targets,
    analysis,
  };
}

function analyse(res: SizeResult, many: boolean, reader: ReaderOpts): string[] {
  const { leads, runs, rawMs, rawTrashMs } = res;
  const out: string[] = [];
  const at = many ? ` (${formatInt(leads)} leads)` : '';
  const processingVsRaw = (r: JobRun) => {
    const processing = r.totalMs - r.acceptMs;
    return `processing after the 202 took ${seconds(processing)}, `
      + (processing >= rawMs ? `${seconds(processing - rawMs)} more than the raw statement` : `${seconds(rawMs - processing)} less than the raw statement`);
  };
  const def = runs.find((r) => r.variant.fixedSize === null && r.variant.reader);
  const quiet = runs.find((r) => r.variant.fixedSize === null && !r.variant.reader);
  if (def) {
    const s = batchStats(def);
    const met = rawMs / def.totalMs >= TARGET;
    const gaps = sum(def.gapsMs);
    out.push(`**Default settings, reader running${at}**: ${met ? 'meets' : '**misses**'} the target at ${ratio(rawMs / def.totalMs)} `
      + `(${seconds(def.totalMs)} vs ${seconds(rawMs)}; the target allows ${seconds(rawMs / TARGET)}). `
      + `Accepting the job (gate, job row with ${formatInt(leads)} target ids) took ${formatInt(def.acceptMs)} ms and the first batch started `
      + `${formatInt(def.toFirstMs)} ms after the 202; the ${formatInt(s.count)} batches took ${seconds(s.inBatchesMs)} in all, sized `
      + `${formatInt(s.first)} first, ${formatInt(s.median)} at the median and ${formatInt(s.max)} at most (median batch ${formatInt(s.medianMs)} ms, `
      + `longest ${formatInt(s.maxMs)} ms, for a 200 ms target), and ${formatInt(gaps)} ms went between batches (longest gap `
      + `${formatInt(Math.max(0, ...def.gapsMs))} ms). Active sessions averaged ${def.sessions.mean.toFixed(1)} (at most ${def.sessions.max}); `
      + `${def.sessions.over} of ${def.sessions.samples} samples were above ${PRESSURE_ACTIVE}, the level at which the worker pauses. `
      + `${rampUp(def)} P${processingVsRaw(def).slice(1)}.`);
    out.push(`**The trash${at}**: the job's statements run once over every id took ${seconds(rawTrashMs)} against ${seconds(rawMs)} for the `
      + `plain DELETE (${ratio(rawTrashMs / rawMs)} as long): that is what filing the leads and their children costs, whoever runs it. The `
      + `default-settings job took ${ratio(def.totalMs / rawTrashMs)} as long as that statement.`);
    if (quiet) {
      out.push(`Without the reader${at} the same defaults took ${seconds(quiet.totalMs)} (${ratio(rawMs / quiet.totalMs)} of the raw speed) in `
        + `${formatInt(quiet.batches.length)} batches, ${formatInt(sum(quiet.gapsMs))} ms between them; the run with the reader took `
        + `${ratio(def.totalMs / quiet.totalMs)} as long as this one.`);
    }
    const rd = def.reader;
    if (rd) {
      const r = readerRatio(rd);
      const failures = readerFailures(rd.loaded) + readerFailures(rd.unloaded);
      const rank = (l: LoadResult) => Math.max(1, l.total - Math.floor(0.99 * l.total));
      out.push(`**Reader${at}**: p99 ${rd.loaded.p99} ms during the delete against ${rd.unloaded.p99} ms unloaded, ${ratio(r)}: `
        + `${r <= READER_TARGET ? 'within' : '**above**'} the ${READER_TARGET}× target${failures > 0 ? `, with ${formatInt(failures)} failed requests` : ''}. `
        + `p50 went from ${rd.unloaded.p50} ms to ${rd.loaded.p50} ms and the maximum from ${rd.unloaded.max} ms to ${rd.loaded.max} ms. `
        + `${formatInt(rd.loaded.total)} requests ran during the delete, so their p99 is the ${ordinal(rank(rd.loaded))} slowest `
        + `(unloaded: the ${ordinal(rank(rd.unloaded))} slowest of ${formatInt(rd.unloaded.total)})`
        + (rd.loaded.total < 1000 ? '; with fewer than 1,000 requests it is close to the maximum and moves with a single slow request.' : '.')
        + (rd.unloaded.rps < 0.9 * reader.rate || rd.loaded.rps < 0.9 * reader.rate
          ? ` The achieved rate (${formatInt(rd.unloaded.rps)} req/s unloaded, ${formatInt(rd.loaded.rps)} during) is below the offered `
            + `${reader.rate} req/s: the API did not keep up and the latencies include the queue that built up.`
          : ''));
    }
  }
  for (const r of runs.filter((x) => x.variant.fixedSize !== null)) {
    const s = batchStats(r);
    out.push(`JOB_BATCH_SIZE=${r.variant.fixedSize}${at}, informational: ${ratio(rawMs / r.totalMs)} in ${formatInt(s.count)} batches `
      + `(median ${formatInt(s.medianMs)} ms each); ${processingVsRaw(r)}`
      + `${r.totalMs - r.acceptMs >= rawMs ? `, ${((r.totalMs - r.acceptMs - rawMs) / Math.max(1, s.count)).toFixed(2)} ms per batch` : ''}.`);
  }
  return out;
}
