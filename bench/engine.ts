/**
 * (a) engine: no-op job throughput of our engine against graphile-worker and pg-boss on the same
 * server, 10 concurrent jobs in one in-process worker each, N jobs loaded in bulk beforehand.
 * The clock runs from "start processing" to "the last job is completed", as seen by a 20 ms poll
 * of the engine's own job table. A statement profile (pg_stat_statements) explains the gap.
 */
import { graphileWorker, ours, pgBoss, type Contender } from './engine-contenders.js';
import { busyShare, machineCpu } from './lib/cpu.js';
import { createBenchDatabase, Observer, vacuumAnalyze } from './lib/db.js';
import type { Table, TargetCheck, ScenarioReport } from './lib/report.js';
import type { Scenario, ScenarioContext } from './lib/scenario.js';
import { formatInt, perSecond, pollUntil, ratio, seconds, since } from './lib/timing.js';

const CONCURRENCY = 10;
const TARGET_RATIO = 1.5;

interface Measurement {
  contender: Contender;
  jobs: number;
  ms: number;
  jobsPerSec: number;
  commitsPerJob: number;
  walBytesPerJob: number;
  /** Share of all cores busy during the run (this process, PostgreSQL, anything else). */
  machineBusy: number;
  /** Ours: outline of the claim statement's plan on the loaded table. */
  claimPlan?: string;
}

interface StatementStat {
  statement: string;
  callsPerJob: number;
  meanMs: number;
  share: number;
}

export const engineScenario: Scenario = {
  name: 'engine',
  async run(ctx) {
    const jobs = ctx.quick ? 5_000 : 20_000;
    // pg-boss with one job per fetch is capped by its 0.5 s minimum polling interval (about 20
    // jobs/s for 10 loops), so that configuration gets a size that ends in seconds.
    const pollingCapped = ctx.quick ? 100 : 200;
    const profileJobs = ctx.quick ? 2_000 : 5_000;

    const oursMain = ours('ours', { concurrency: CONCURRENCY }, {
      config: `WORKER_CONCURRENCY=${CONCURRENCY}, JOB_BATCH_PAUSE_MS=0, pool ${CONCURRENCY + 2}`,
    });
    const gwDefault = graphileWorker('gw', { concurrency: CONCURRENCY }, `concurrency ${CONCURRENCY}, maxPoolSize ${CONCURRENCY + 2}, defaults (no batching)`);
    const oursTenants = ours('ours_10biz', { concurrency: CONCURRENCY, businesses: 10 }, {
      config: 'diagnostic: as above, the jobs spread over 10 businesses (the fair claim visits each one with queued jobs)',
      informational: true,
    });
    const plan: Array<[Contender, number]> = [
      [oursMain, jobs],
      [gwDefault, jobs],
      [graphileWorker('gw_batched', { concurrency: CONCURRENCY, batching: { localQueueSize: 500, completeJobBatchDelay: 0 } },
        `concurrency ${CONCURRENCY}, maxPoolSize ${CONCURRENCY + 2}, localQueue.size 500, completeJobBatchDelay 0 (their performance-page settings)`), jobs],
      [pgBoss('boss_batch', { workers: CONCURRENCY, batchSize: 100 }, {
        config: `${CONCURRENCY} work() loops × batchSize 100, pollingIntervalSeconds 0.5 (up to 1 000 jobs in flight)`,
      }), jobs],
      [pgBoss('boss_single', { workers: CONCURRENCY, batchSize: 1 }, {
        config: `${CONCURRENCY} work() loops × batchSize 1 (10 jobs in flight, like the others)`,
        informational: true,
      }), pollingCapped],
      [oursTenants, jobs],
      [ours('ours_nonotify', { concurrency: CONCURRENCY, withoutNotifyTrigger: true }, {
        config: 'diagnostic: as the first row, the jobs_notify_update trigger disabled (no pg_notify per job UPDATE statement)',
        informational: true,
      }), jobs],
    ];

    const results: Measurement[] = [];
    for (const [contender, n] of plan) {
      ctx.progress(`engine: ${contender.engine} — ${contender.config} (${formatInt(n)} jobs)`);
      const m = await measure(ctx, contender, n);
      ctx.progress(`engine:   ${formatInt(m.jobsPerSec)} jobs/s`);
      results.push(m);
    }

    const profiles: Array<[string, StatementStat[]]> = [];
    if (ctx.server.canProfile) {
      const profiled: Array<[string, Contender]> = [
        ['bulkhead (ours)', oursMain],
        ['bulkhead (ours), 10 businesses (diagnostic)', oursTenants],
        [gwDefault.engine, gwDefault],
      ];
      for (const [label, contender] of profiled) {
        ctx.progress(`engine: statement profile of ${label} (${formatInt(profileJobs)} jobs)`);
        profiles.push([label, await profile(ctx, contender, profileJobs)]);
      }
    }
    return report(results, profiles, { jobs, profileJobs, canProfile: ctx.server.canProfile });
  },
};

async function measure(ctx: ScenarioContext, contender: Contender, jobs: number): Promise<Measurement> {
  const db = await createBenchDatabase(ctx.server, `engine_${contender.key}`);
  let observer: Observer | null = null;
  try {
    const queue = await contender.load(db.url, db.pool, jobs);
    await vacuumAnalyze(db.pool, contender.tables);
    const claimPlan = await contender.claimPlan?.(db.pool);
    observer = await Observer.open(db);
    const o = observer;
    const before = await o.counters();
    const cpuBefore = await machineCpu();
    const t0 = performance.now();
    let ms: number;
    let machineBusy: number;
    try {
      await queue.start();
      await pollUntil(async () => (await queue.remaining(o)) === 0, { what: `${contender.key} to finish`, intervalMs: 20, timeoutMs: 600_000 });
      ms = since(t0);
      machineBusy = busyShare(cpuBefore, await machineCpu());
    } finally {
      await queue.stop();
    }
    await db.pool.end();
    await o.waitForOthersToLeave();
    const after = await o.counters();
    return {
      contender,
      jobs,
      ms,
      jobsPerSec: perSecond(jobs, ms),
      commitsPerJob: (after.commits - before.commits) / jobs,
      walBytesPerJob: (after.walBytes - before.walBytes) / jobs,
      machineBusy,
      ...(claimPlan ? { claimPlan } : {}),
    };
  } finally {
    await observer?.close();
    await db.drop();
  }
}

/** A separate, smaller run with pg_stat_statements tracking this database only. */
async function profile(ctx: ScenarioContext, contender: Contender, jobs: number): Promise<StatementStat[]> {
  const db = await createBenchDatabase(ctx.server, `engine_profile_${contender.key}`);
  let observer: Observer | null = null;
  try {
    await db.pool.query('CREATE EXTENSION IF NOT EXISTS pg_stat_statements');
    await db.pool.query(`ALTER DATABASE ${db.name} SET pg_stat_statements.track = 'top'`);
    const queue = await contender.load(db.url, db.pool, jobs);
    await vacuumAnalyze(db.pool, contender.tables);
    observer = await Observer.open(db);
    const o = observer;
    await o.query('SELECT pg_stat_statements_reset()');
    try {
      await queue.start();
      await pollUntil(async () => (await queue.remaining(o)) === 0, { what: `${contender.key} to finish`, intervalMs: 20, timeoutMs: 600_000 });
    } finally {
      await queue.stop();
    }
    const rows = await o.query<{ query: string; calls: number; total_ms: number; mean_ms: number }>(
      `SELECT s.query, s.calls::int AS calls, s.total_exec_time AS total_ms, s.mean_exec_time AS mean_ms
         FROM pg_stat_statements s JOIN pg_database d ON d.oid = s.dbid
        WHERE d.datname = $1 AND s.query NOT LIKE '%bench-observer%'`,
      [db.name],
    );
    const total = rows.reduce((sum, r) => sum + r.total_ms, 0);
    return rows
      .map((r) => ({ statement: r.query.replace(/\s+/g, ' ').trim(), callsPerJob: r.calls / jobs, meanMs: r.mean_ms, share: total > 0 ? r.total_ms / total : 0 }))
      // Statements that settle or claim hundreds of jobs at once run far less than once per job.
      .filter((s) => s.callsPerJob >= 0.01 || s.share >= 0.01)
      .sort((a, b) => b.callsPerJob - a.callsPerJob || b.share - a.share);
  } finally {
    await observer?.close();
    await db.drop();
  }
}

function shorten(sql: string): string {
  const flat = sql.replace(/\s+/g, ' ').trim();
  return flat.length > 90 ? `${flat.slice(0, 87)}…` : flat;
}

function best(results: Measurement[], engine: string): Measurement | undefined {
  return results
    .filter((m) => m.contender.engine === engine && !m.contender.informational)
    .sort((a, b) => b.jobsPerSec - a.jobsPerSec)[0];
}

function report(
  results: Measurement[],
  profiles: Array<[string, StatementStat[]]>,
  sizes: { jobs: number; profileJobs: number; canProfile: boolean },
): ScenarioReport {
  const main = results.find((m) => m.contender.key === 'ours');
  if (!main) throw new Error('engine: our own run is missing');
  const table: Table = {
    title: 'Throughput (no-op jobs, 10 concurrent, one in-process worker each)',
    columns: ['engine', 'configuration', 'jobs', 'time', 'jobs/s', 'ours ÷ this', 'commits / job', 'WAL / job', 'machine busy'],
    rows: results.map((m) => [
      m.contender.engine,
      m.contender.config + (m.contender.informational ? ' *(not a target row)*' : ''),
      formatInt(m.jobs),
      seconds(m.ms),
      formatInt(m.jobsPerSec),
      m === main ? '—' : ratio(main.jobsPerSec / m.jobsPerSec),
      m.commitsPerJob.toFixed(2),
      `${formatInt(m.walBytesPerJob)} B`,
      `${(m.machineBusy * 100).toFixed(0)} %`,
    ]),
  };
  const targets: TargetCheck[] = [];
  for (const engine of ['graphile-worker 0.17.3', 'pg-boss 10.4.2']) {
    const peer = best(results, engine);
    if (!peer) continue;
    const r = main.jobsPerSec / peer.jobsPerSec;
    targets.push({
      subject: `ours vs ${engine} (its fastest configuration here: ${peer.contender.config.split(',')[0]}${peer.contender.key === 'gw_batched' ? ', batching' : ''})`,
      target: `≥ ${TARGET_RATIO.toFixed(1)}×`,
      measured: `${ratio(r)} (${formatInt(main.jobsPerSec)} vs ${formatInt(peer.jobsPerSec)} jobs/s)`,
      pass: r >= TARGET_RATIO,
    });
  }
  const tables = [table];
  for (const [engine, stats] of profiles) {
    tables.push({
      title: `Statement profile: ${engine} (pg_stat_statements, ${formatInt(sizes.profileJobs)} jobs, separate run)`,
      columns: ['statement', 'calls / job', 'mean', 'share of server time'],
      rows: stats.slice(0, 10).map((s) => [`\`${shorten(s.statement)}\``, s.callsPerJob.toFixed(s.callsPerJob < 0.1 ? 3 : 2), `${s.meanMs.toFixed(3)} ms`, `${(s.share * 100).toFixed(0)} %`]),
    });
  }
  return {
    title: 'no-op job throughput vs graphile-worker and pg-boss',
    summary: 'How many jobs per second each engine completes when the jobs themselves do nothing: the cost of the engine alone '
      + '(claiming, fencing, progress, completion) on one PostgreSQL server.',
    setup: [
      `${formatInt(sizes.jobs)} jobs per engine, inserted in bulk before the clock starts (ours: one \`INSERT … SELECT generate_series\` into jobs; `
        + 'graphile-worker: `addJobs` via `makeWorkerUtils`; pg-boss: `insert` in chunks of 10 000), then `VACUUM (ANALYZE)` of the job table.',
      'Each engine runs in this process with its own pool on its own fresh database `bh_bench_engine_*` of the same server; its handler does nothing '
        + '(ours: a registered test type returning `{processed: 1, succeeded: 1, failed: 0, checkpoint: null, done: true}`).',
      'Time: from the call that starts processing (`worker.start()`, `run()`, the `work()` calls) until a 20 ms poll of the engine\'s job table '
        + 'finds no job left that is not completed (graphile-worker deletes completed jobs; pg-boss marks them `completed`).',
      '"commits / job" is the database\'s `pg_stat_database.xact_commit` delta over the run divided by the jobs (the observer\'s own transactions '
        + 'are taken out); "WAL / job" is the server\'s WAL growth over the run divided by the jobs.',
      'Rows marked *not a target row* are context: pg-boss with one job per fetch is limited by its minimum 0.5 s polling interval per `work()` '
        + 'loop (it waits that long after every fetch unless notified); the two diagnostic rows run our engine with the jobs spread over 10 '
        + 'businesses (the fair claim visits each business with queued jobs), and with the `jobs_notify_update` trigger disabled, to measure what each costs.',
      ...(sizes.canProfile ? [] : ['The statement profile was skipped: the server does not preload pg_stat_statements.']),
    ],
    tables,
    targets,
    analysis: analyse(results, main, profiles, targets),
  };
}

/** What a statement of our engine's profile is, for the analysis (matched on its normalized text). */
function describeStatement(sql: string): string {
  if (isClaim(sql)) return 'the claim';
  if (sql === 'BEGIN' || sql === 'COMMIT') return `\`${sql}\``;
  if (/^UPDATE jobs SET processed/.test(sql)) {
    return /locked_by = \$2 AND attempts = \$3/.test(sql) || /WHERE id = \$1 AND locked_by/.test(sql)
      ? 'the fenced progress/completion `UPDATE`' : 'the progress/completion `UPDATE`';
  }
  if (/FOR UPDATE/.test(sql)) return 'the fence `SELECT … FOR UPDATE`';
  if (/^SELECT \(extract/.test(sql)) return 'the next-due query';
  return `\`${sql.slice(0, 40)}…\``;
}

/**
 * A claim statement (src/jobs/sql/claim.ts) in a profile: the fair claim, the one-business claim,
 * or `WITH next AS` before fair share.
 */
function isClaim(sql: string): boolean {
  return /^WITH (?:next AS|RECURSIVE queued_businesses|span AS)/.test(sql);
}

function analyse(results: Measurement[], main: Measurement, profiles: Array<[string, StatementStat[]]>, targets: TargetCheck[]): string[] {
  const out: string[] = [];
  const byKey = (key: string) => results.find((m) => m.contender.key === key);
  const gw = byKey('gw');
  const gwBatched = byKey('gw_batched');
  const boss = byKey('boss_batch');
  const tenants = byKey('ours_10biz');
  const noNotify = byKey('ours_nonotify');
  const missed = targets.filter((t) => !t.pass);
  const peers = (list: TargetCheck[]) => list.map((t) => t.subject.replace(/^ours vs /, '').replace(/ \(.*$/, '')).join(' and ');
  const profileOf = (label: string) => profiles.find(([l]) => l === label)?.[1];
  const oursProfile = profileOf('bulkhead (ours)');
  const tenantsProfile = profileOf('bulkhead (ours), 10 businesses (diagnostic)');
  const gwProfile = profiles.find(([label]) => label.startsWith('graphile'))?.[1];
  const claimOf = (stats: StatementStat[] | undefined) => stats?.find((st) => isClaim(st.statement));
  const claim = claimOf(oursProfile);
  const claimTenants = claimOf(tenantsProfile);
  // A sort is fine over the few candidates the fair claim gathers per business; a scan of the table is not.
  const claimSorts = /Seq Scan on jobs|Bitmap Heap Scan on jobs/.test(main.claimPlan ?? '');
  const separateFence = oursProfile?.some((st) => !isClaim(st.statement) && /FOR UPDATE/.test(st.statement)) ?? false;

  out.push(missed.length === 0
    ? `Ours completes ${formatInt(main.jobsPerSec)} no-op jobs/s and meets the ${TARGET_RATIO}× target against both peers.`
    : `Ours completes ${formatInt(main.jobsPerSec)} no-op jobs/s and **misses** the ${TARGET_RATIO}× target against ${peers(missed)}`
      + (gw ? ` — it reaches ${ratio(main.jobsPerSec / gw.jobsPerSec)} of graphile-worker even at graphile-worker's defaults` : '') + '.');

  if (claimSorts) {
    out.push('**The claim reads every queued job (a defect).** The plan of its job-picking part on the loaded table is '
      + `\`${main.claimPlan ?? 'unknown'}\`: a scan of the job table, not the index probes per business of src/jobs/sql/claim.ts. `
      + (claim ? `In the profile one claim costs ${claim.meanMs.toFixed(2)} ms of server time on average and the claims are ${(claim.share * 100).toFixed(0)} % `
        + 'of all server time; the cost grows with the backlog (each claim is O(queued jobs)).' : ''));
  } else if (main.claimPlan) {
    out.push('With one business queued the worker sends the one-business claim (one index walk), with several the fair claim, which probes the job indexes '
      + `per business with queued jobs (plan of the first one's job-picking part: \`${main.claimPlan}\`)`
      + (claim ? `, ${claim.meanMs.toFixed(2)} ms of server time per claim` : '')
      + (tenants ? `; with the same jobs spread over 10 businesses, ${formatInt(tenants.jobsPerSec)} jobs/s`
        + (claimTenants ? ` and ${claimTenants.meanMs.toFixed(2)} ms per claim` : '') : '')
      + '.');
  }

  const perJobProfile = oursProfile;
  if (perJobProfile) {
    const total = perJobProfile.reduce((sum, st) => sum + st.callsPerJob, 0);
    const serverUs = perJobProfile.reduce((sum, st) => sum + st.callsPerJob * st.meanMs, 0) * 1000;
    const list = perJobProfile.map((st) => `${describeStatement(st.statement)} ×${st.callsPerJob.toFixed(st.callsPerJob < 0.1 ? 3 : 2)} (${st.meanMs.toFixed(2)} ms each)`).join(', ');
    out.push(`**Per job.** Ours sends ${total.toFixed(2)} statements per job — ${list}, about ${serverUs.toFixed(0)} µs of server time per job — `
      + (gwProfile ? `where graphile-worker at its defaults sends ${gwProfile.reduce((sum, st) => sum + st.callsPerJob, 0).toFixed(1)} (its claim-and-lock function and a delete). ` : '. ')
      + 'The worker claims ahead of its free slots while its jobs are short (src/jobs/claim-ahead.ts), and a batch that made no statement '
      + 'takes no connection and no transaction: its job row is settled with the others that ended meanwhile, one UPDATE for the group, each '
      + 'row fenced by its own claim (src/jobs/completions.ts). '
      + `It commits ${main.commitsPerJob.toFixed(2)} transactions and writes ${formatInt(main.walBytesPerJob)} bytes of WAL per job`
      + (gw ? ` (graphile-worker at its defaults: ${gw.commitsPerJob.toFixed(1)} and ${formatInt(gw.walBytesPerJob)} B)` : '')
      + ': each job row is updated twice, by the claim and by the settle, and both change indexed columns (`status`, the predicate of the '
      + 'partial indexes, and `locked_by`), so neither update is HOT and each adds entries to the table\'s indexes; graphile-worker deletes '
      + 'its row instead (its claim is not HOT either: it changes `is_available`, its queue index\'s predicate). Ours keeps every finished '
      + 'job as the history the API and the dashboard list (pruned after JOB_RETENTION_DAYS). The updates between the claim and the settle '
      + '(a batch that does not end its job, a heartbeat, a pause or cancel request) change no indexed column and are HOT, with room kept '
      + 'on each page for them (migration 019, test/jobs/hot-updates.test.ts); a no-op job of this run has none of those.');
  }
  if (noNotify) {
    const delta = (noNotify.jobsPerSec / main.jobsPerSec - 1) * 100;
    out.push(`With the \`jobs_notify_update\` trigger disabled (last diagnostic row), throughput changes by ${delta >= 0 ? '+' : ''}${delta.toFixed(0)} % `
      + `(${formatInt(noNotify.jobsPerSec)} jobs/s)` + (Math.abs(delta) < 10 ? ', within run-to-run noise on this shared machine: NOTIFY is not the bottleneck' : '')
      + `; commits per job drop from ${main.commitsPerJob.toFixed(2)} to ${noNotify.commitsPerJob.toFixed(2)}, because each notification `
      + 'also costs every listening session a transaction to read the queue.');
  }
  if (gwBatched || boss) {
    out.push('**The batched peers.** '
      + (gwBatched ? `graphile-worker with its local queue and batched completion (${formatInt(gwBatched.jobsPerSec)} jobs/s) fetches up to 500 jobs per `
        + `statement and completes many per statement (${gwBatched.commitsPerJob.toFixed(2)} commits per job). ` : '')
      + (boss ? `pg-boss (${formatInt(boss.jobsPerSec)} jobs/s) fetches and completes 100 jobs per statement per loop (${boss.commitsPerJob.toFixed(2)} `
        + 'commits per job); with one job per fetch, i.e. 10 in flight like the others, its 0.5 s minimum polling interval caps it at about 20 jobs/s (see its row). ' : '')
      + 'Ours batches the same way where that changes nothing about the failure model: the claim, and the settling of batches that wrote '
      + 'nothing. A batch that writes data still commits its data change, its progress and its checkpoint in its own transaction, fenced '
      + 'by its claim: one failing handler never rolls back another job\'s work. What is left between ours and graphile-worker\'s batched '
      + 'configuration is the row work per job above (two non-HOT updates of a kept row against one delete).');
  }
  if (missed.length > 0) {
    const ideas: string[] = [];
    if (claimSorts) {
      ideas.push('check that the claim still reaches `jobs_queued_by_business` (migration 007) per business: a plan that scans the table '
        + 'means the index is missing or the planner was given another one to prefer');
    }
    if (separateFence) {
      ideas.push('fold the fence `SELECT … FOR UPDATE` into the progress `UPDATE` (`AND locked_by = $w AND attempts = $a`, 0 rows → roll back): '
        + 'one round trip less per batch');
    }
    const perJobClaim = claimOf(perJobProfile);
    if (perJobClaim && perJobClaim.callsPerJob >= 0.1) {
      ideas.push(`claim ahead, like graphile-worker's local queue: the profile shows ${perJobClaim.callsPerJob.toFixed(2)} claims per job because a claim `
        + 'mostly refills the one or two slots just freed (and, when it gets fewer jobs than asked, is followed by the next-due query); keeping '
        + '`concurrency` jobs claimed ahead takes claims off the per-job path');
    }
    if (main.commitsPerJob > 1.5) {
      ideas.push('for a job whose first batch finishes it, commit the claim together with that batch (claim + handler + completion in one '
        + 'transaction: one transaction per job instead of two; a crash rolls the claim back too, so nothing needs rescuing)');
    }
    if (gw && main.walBytesPerJob > 1.5 * gw.walBytesPerJob) {
      ideas.push(`fewer index entries per job (WAL per job is ${ratio(main.walBytesPerJob / gw.walBytesPerJob)} graphile-worker's): the claim and the `
        + 'settle cannot be HOT while the queue is a partial index over the table that keeps the history (becoming unclaimable is an index '
        + 'change); a small queue table whose rows the settle moves to a history table would index a finished job once, in the history, '
        + 'at the cost of one more row write per job');
    }
    out.push('**Suggestions for src/jobs and the schema** (expectations, not measured here): ' + ideas.map((idea, n) => `(${n + 1}) ${idea}`).join('; ') + '. None of these weakens fencing or the exactly-once batch commit.');
  }
  return out;
}
