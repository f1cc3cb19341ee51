/**
 * (b) bulk-delete: 100 000 leads with a note, an activity and a reminder each, deleted through
 * the real `delete_leads_bulk` job (the service the HTTP route calls, then an in-process worker
 * with the production handlers), against ONE raw `DELETE … WHERE id = ANY($2)` on the same data.
 */
import { acceptBulkDelete } from '../src/leads/bulk.service.js';
import { createBenchDatabase } from './lib/db.js';
import { createTenant, insertLeads, leadIds, remainingRows } from './lib/dataset.js';
import { acceptDeps, jobIdOf, startInProcessWorker, waitForCompletion } from './lib/jobs.js';
import type { ScenarioReport, TargetCheck } from './lib/report.js';
import type { Scenario, ScenarioContext } from './lib/scenario.js';
import { formatInt, ratio, seconds, since } from './lib/timing.js';

const TARGET = 0.8;
const BATCH_SIZES = [50, 1000];

interface JobRun {
  batchSize: number;
  acceptMs: number;
  totalMs: number;
  batches: number;
}

export const bulkDeleteScenario: Scenario = {
  name: 'bulk-delete',
  async run(ctx) {
    const leads = ctx.quick ? 20_000 : 100_000;
    const runs: JobRun[] = [];
    for (const batchSize of BATCH_SIZES) {
      ctx.progress(`bulk-delete: ${formatInt(leads)} leads through delete_leads_bulk, JOB_BATCH_SIZE=${batchSize}`);
      runs.push(await viaJob(ctx, leads, batchSize));
      ctx.progress(`bulk-delete:   ${seconds(runs.at(-1)?.totalMs ?? 0)}`);
    }
    ctx.progress(`bulk-delete: ${formatInt(leads)} leads with one raw DELETE`);
    const rawMs = await viaRawDelete(ctx, leads);
    ctx.progress(`bulk-delete:   ${seconds(rawMs)}`);
    return report(leads, runs, rawMs);
  },
};

async function prepare(ctx: ScenarioContext, name: string, leads: number) {
  const db = await createBenchDatabase(ctx.server, name);
  const tenant = await createTenant(db.pool, 'bulk-delete');
  await insertLeads(db.pool, tenant.businessId, { count: leads, source: 'manual', children: true });
  const ids = await leadIds(db.pool, tenant.businessId);
  if (ids.length !== leads) throw new Error(`expected ${leads} leads, found ${ids.length}`);
  return { db, tenant, ids };
}

async function viaJob(ctx: ScenarioContext, leads: number, batchSize: number): Promise<JobRun> {
  const { db, tenant, ids } = await prepare(ctx, `bulk_delete_job_${batchSize}`, leads);
  try {
    // Started and idle before the clock: a deployment has its workers running already.
    const worker = await startInProcessWorker(db.url, { JOB_BATCH_SIZE: String(batchSize), JOB_BATCH_PAUSE_MS: '0' });
    try {
      const t0 = performance.now();
      const accepted = await acceptBulkDelete(acceptDeps(db.pool), tenant, ids, undefined);
      const acceptMs = since(t0);
      if (accepted.statusCode !== 202) throw new Error(`bulk delete not accepted: ${JSON.stringify(accepted)}`);
      const job = await waitForCompletion(db.pool, jobIdOf(accepted.body), 600_000);
      const totalMs = since(t0);
      if (job.succeeded !== leads) throw new Error(`the job deleted ${job.succeeded} of ${leads} leads`);
      const left = await remainingRows(db.pool, tenant.businessId);
      if (left !== 0) throw new Error(`${left} leads or children are left after the job`);
      return { batchSize, acceptMs, totalMs, batches: Math.ceil(leads / batchSize) };
    } finally {
      await worker.stop();
    }
  } finally {
    await db.drop();
  }
}

async function viaRawDelete(ctx: ScenarioContext, leads: number): Promise<number> {
  const { db, tenant, ids } = await prepare(ctx, 'bulk_delete_raw', leads);
  try {
    const t0 = performance.now();
    const { rowCount } = await db.pool.query(`DELETE FROM leads WHERE business_id = $1 AND id = ANY($2::bigint[])`, [tenant.businessId, ids]);
    const ms = since(t0);
    if (rowCount !== leads) throw new Error(`raw DELETE removed ${rowCount} of ${leads} leads`);
    const left = await remainingRows(db.pool, tenant.businessId);
    if (left !== 0) throw new Error(`${left} children are left after the raw DELETE`);
    return ms;
  } finally {
    await db.drop();
  }
}

function report(leads: number, runs: JobRun[], rawMs: number): ScenarioReport {
  const targets: TargetCheck[] = runs.map((r) => ({
    subject: `delete_leads_bulk, JOB_BATCH_SIZE=${r.batchSize}`,
    target: `raw ÷ job ≥ ${TARGET}× (job ≤ ${(1 / TARGET).toFixed(2)}× raw)`,
    measured: `${ratio(rawMs / r.totalMs)} (${seconds(r.totalMs)} vs ${seconds(rawMs)})`,
    pass: rawMs / r.totalMs >= TARGET,
  }));
  const analysis = analyse(leads, runs, rawMs);
  return {
    title: `${formatInt(leads)} leads with children: the delete_leads_bulk job vs one raw DELETE`,
    summary: 'Time to delete a business\'s leads with their notes, activities and reminders through the durable job, against the fastest possible '
      + 'single SQL statement on an identical dataset.',
    setup: [
      `Dataset (regenerated in a fresh database for each row): ${formatInt(leads)} leads of one business, each with one note, one activity and one `
        + `reminder (${formatInt(leads * 4)} rows, by \`INSERT … SELECT generate_series\`), then \`VACUUM (ANALYZE)\`.`,
      'Job: `acceptBulkDelete` (the service behind `POST /api/v1/leads/bulk-delete`: gate, job row with the ids as targets) with all lead ids, '
        + 'processed by an in-process worker with the production handlers (`createRegistry()`), started and idle before the clock, '
        + '`JOB_BATCH_PAUSE_MS=0`. Time: from the accept call to the job row reading `completed` (20 ms poll).',
      'Baseline: `DELETE FROM leads WHERE business_id = $1 AND id = ANY($2)` with the same ids; children go by `ON DELETE CASCADE` in both cases.',
      'Both check afterwards that no lead and no child of the business is left. Ratio = raw time ÷ job time.',
    ],
    tables: [{
      columns: ['variant', 'batches', 'accept (202)', 'total', 'raw ÷ this'],
      rows: [
        ...runs.map((r) => [`delete_leads_bulk job, JOB_BATCH_SIZE=${r.batchSize}`, formatInt(r.batches), `${formatInt(r.acceptMs)} ms`, seconds(r.totalMs), ratio(rawMs / r.totalMs)]),
        ['raw `DELETE … id = ANY($2)` (baseline)', '1', '—', seconds(rawMs), '1.00×'],
      ],
    }],
    targets,
    analysis,
  };
}

function analyse(leads: number, runs: JobRun[], rawMs: number): string[] {
  const out: string[] = [];
  const perBatch = (r: JobRun) => (r.totalMs - r.acceptMs - rawMs) / r.batches;
  for (const r of runs) {
    const met = rawMs / r.totalMs >= TARGET;
    out.push(`**JOB_BATCH_SIZE=${r.batchSize}** (${formatInt(r.batches)} batches): ${met ? 'meets' : '**misses**'} the target at ${ratio(rawMs / r.totalMs)}. `
      + `Accepting the job (gate, job row with ${formatInt(leads)} target ids) took ${formatInt(r.acceptMs)} ms; processing took `
      + `${seconds(r.totalMs - r.acceptMs)}, `
      + (r.totalMs - r.acceptMs >= rawMs
        ? `${seconds(r.totalMs - r.acceptMs - rawMs)} more than the raw statement, i.e. ${perBatch(r).toFixed(2)} ms per batch beyond the raw statement's own cost for the same leads.`
        : `${seconds(rawMs - (r.totalMs - r.acceptMs))} less than the raw statement: ${formatInt(r.batches)} statements of ${r.batchSize} ids deleted faster than one of ${formatInt(leads)}.`));
  }
  const small = runs.find((r) => r.batchSize === Math.min(...BATCH_SIZES));
  const large = runs.find((r) => r.batchSize === Math.max(...BATCH_SIZES));
  out.push('Every batch is its own transaction: a pool checkout, `BEGIN`, the handler\'s `DELETE FROM leads WHERE business_id = $1 AND id = ANY($2)` '
    + '(children by cascade, exactly as in the baseline), the engine\'s own statements on the job row (progress, checkpoint and the fencing check; '
    + 'the engine scenario\'s statement profile lists them for this version), and `COMMIT`: a few round trips around the one statement that does the work.');
  if (small && rawMs / small.totalMs < TARGET) {
    const allowance = (rawMs * (1 / TARGET - 1)) / small.batches;
    out.push(`At ${small.batchSize} leads per batch the fixed part dominates: to stay within ${(1 / TARGET).toFixed(2)}× the raw time, each of the `
      + `${formatInt(small.batches)} batches could add at most ${allowance.toFixed(2)} ms (a quarter of the raw statement's time for ${small.batchSize} leads, `
      + `${(rawMs / small.batches).toFixed(2)} ms), less than a handful of round trips cost on this shared 2-core machine. The default batch size `
      + 'is chosen for short locks and smooth progress, not for throughput; DESIGN.md\'s default 200 ms pause between batches (0 here) would add '
      + `${seconds(small.batches * 200)} more on top.`);
  }
  if (small && large && perBatch(small) > 0 && perBatch(large) > 3 * perBatch(small)) {
    out.push(`At ${large.batchSize} leads per batch the extra time per batch (${perBatch(large).toFixed(2)} ms) is far above the whole extra per batch `
      + `at ${small.batchSize} (${perBatch(small).toFixed(2)} ms), which bounds the engine's fixed statements; so most of it grows with the batch, not with `
      + `the number of batches: per lead, ${formatInt(large.batches)} deletes of ${large.batchSize} ids cost more than one delete of ${formatInt(leads)} ids.`);
  }
  if (runs.some((r) => rawMs / r.totalMs < TARGET)) {
    out.push('What would close the gap: a larger batch for delete jobs specifically (the engine cost per batch is fixed, so it shrinks per lead as the '
      + 'batch grows; a per-job-type batch size instead of one JOB_BATCH_SIZE for all), and fewer engine round trips per batch (see the '
      + 'engine scenario\'s profile and suggestions). The raw statement remains the floor: one transaction holding every lead\'s '
      + 'row lock until it ends, with no progress, no pause or cancel, and nothing to resume after a crash — what the job exists to provide.');
  }
  return out;
}
