/**
 * (d) worker-rss: memory of a real worker process (`bulkhead worker`) while it deletes 1 000 000
 * imported leads through `delete_imported_leads` with `{all: true}`, JOB_BATCH_SIZE=1000. The
 * RSS (VmRSS of /proc/<pid>/status) is sampled every 200 ms from spawn to exit.
 */
import { acceptDeleteImported } from '../src/leads/bulk.service.js';
import { RssSampler, spawnService } from './lib/child.js';
import { createBenchDatabase } from './lib/db.js';
import { createTenant, insertLeads, remainingRows } from './lib/dataset.js';
import { acceptDeps, jobIdOf, waitForCompletion } from './lib/jobs.js';
import type { ScenarioReport } from './lib/report.js';
import type { Scenario } from './lib/scenario.js';
import { formatInt, pollUntil, seconds, since, sleep } from './lib/timing.js';

const TARGET_MAX_RSS = 200 * 1_000_000;
const SAMPLE_EVERY_MS = 200;

const mb = (bytes: number) => `${(bytes / 1_000_000).toFixed(1)} MB`;

export const workerRssScenario: Scenario = {
  name: 'worker-rss',
  async run(ctx) {
    const leads = ctx.quick ? 200_000 : 1_000_000;
    const db = await createBenchDatabase(ctx.server, 'worker_rss');
    try {
      ctx.progress(`worker-rss: generating ${formatInt(leads)} imported leads`);
      const tenant = await createTenant(db.pool, 'worker-rss');
      await insertLeads(db.pool, tenant.businessId, { count: leads, source: 'import', children: false });

      const worker = spawnService('worker', {
        DATABASE_URL: db.url,
        JOB_BATCH_SIZE: '1000',
        JOB_BATCH_PAUSE_MS: '0',
        LOG_LEVEL: 'warn',
      });
      const sampler = new RssSampler(worker.pid, SAMPLE_EVERY_MS).start();
      try {
        await pollUntil(async () => {
          const { rows } = await db.pool.query<{ n: number }>(
            `SELECT count(*)::int AS n FROM workers WHERE pid = $1 AND stopped_at IS NULL`, [worker.pid]);
          return (rows[0]?.n ?? 0) > 0;
        }, { what: 'the worker to register', intervalMs: 50, timeoutMs: 60_000 });
        await sleep(1_000);
        const idle = sampler.last();
        ctx.progress(`worker-rss: worker pid ${worker.pid} ready (RSS ${mb(idle)}); enqueueing delete_imported_leads {all: true}`);

        const jobStartsAt = sampler.elapsedMs;
        const t0 = performance.now();
        const accepted = await acceptDeleteImported(acceptDeps(db.pool), db.pool, tenant, { all: true }, undefined);
        const job = await waitForCompletion(db.pool, jobIdOf(accepted.body), 900_000, 50);
        const ms = since(t0);
        const atCompletion = sampler.last();
        if (job.succeeded !== leads) throw new Error(`the job deleted ${job.succeeded} of ${leads} leads`);
        const left = await remainingRows(db.pool, tenant.businessId);
        if (left !== 0) throw new Error(`${left} leads are left after the job`);
        await sleep(2_000);
        const settled = sampler.last();
        const max = sampler.maxSince(jobStartsAt);
        const maxOverall = sampler.maxSince(0);
        ctx.progress(`worker-rss:   ${seconds(ms)}, max RSS ${mb(max)}`);
        return report({ leads, ms, idle, max, maxOverall, atCompletion, settled, samples: sampler.samples.length });
      } finally {
        sampler.stop();
        await worker.stop();
      }
    } finally {
      await db.drop();
    }
  },
};

interface Measured {
  leads: number;
  ms: number;
  idle: number;
  max: number;
  maxOverall: number;
  atCompletion: number;
  settled: number;
  samples: number;
}

function report(m: Measured): ScenarioReport {
  const pass = m.maxOverall < TARGET_MAX_RSS;
  return {
    title: `worker RSS while deleting ${formatInt(m.leads)} imported leads`,
    summary: 'Peak and final resident memory of a separate `bulkhead worker` process running one large `delete_imported_leads` job: '
      + 'the worker must stream the work batch by batch, never hold the lead set.',
    setup: [
      `${formatInt(m.leads)} leads with \`source = 'import'\` for one business (no children), by \`INSERT … SELECT generate_series\`, in a fresh database \`bh_bench_worker_rss\`.`,
      'Worker: `node --import tsx src/cli/main.ts worker` (the tsx loader included, as the brief starts it) with DATABASE_URL, `JOB_BATCH_SIZE=1000`, '
        + '`JOB_BATCH_PAUSE_MS=0`, LOG_LEVEL=warn, otherwise defaults.',
      `Job: \`acceptDeleteImported\` with \`{all: true}\` (the service behind \`POST /api/v1/leads/imported/bulk-delete\`), enqueued once the worker `
        + `had registered and idled 1 s. RSS sampled every ${SAMPLE_EVERY_MS} ms (${formatInt(m.samples)} samples) from spawn until after completion.`,
      'Time: from the accept call to the job row reading `completed` (50 ms poll); afterwards no imported lead is left.',
    ],
    tables: [{
      columns: ['leads', 'batches', 'time', 'deleted / s', 'RSS idle', 'RSS max (during job)', 'RSS max (whole life)', 'RSS at completion', 'RSS 2 s later'],
      rows: [[
        formatInt(m.leads),
        formatInt(Math.floor(m.leads / 1000) + 1),
        seconds(m.ms),
        formatInt((m.leads * 1000) / m.ms),
        mb(m.idle),
        mb(m.max),
        mb(m.maxOverall),
        mb(m.atCompletion),
        mb(m.settled),
      ]],
    }],
    targets: [{
      subject: 'worker max RSS',
      target: `< ${mb(TARGET_MAX_RSS)}`,
      measured: `${mb(m.maxOverall)} (idle ${mb(m.idle)})`,
      pass,
    }],
    analysis: [
      `The worker grows by ${mb(Math.max(0, m.max - m.idle))} over its idle size while deleting ${formatInt(m.leads)} leads: `
        + 'the `{all: true}` job keeps only a `last_id` checkpoint, and each batch deletes the next 1000 imported leads after it with one statement '
        + 'that returns counts and the last id, so the worker holds no per-lead state between batches. '
        + (pass ? 'The target is met.' : '**The target is missed**: the idle baseline itself (Node, tsx, pg, pino, zod, the HTTP stack imported by the CLI) is already close to it.'),
    ],
  };
}
