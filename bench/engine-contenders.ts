/**
 * The three job engines of the engine scenario behind one shape: load N no-op jobs in bulk,
 * start processing, report how many are left, stop. Each runs in this process with its own
 * pool, on its own fresh database of the same server.
 */
import { run, makeWorkerUtils, Logger as GraphileLogger, type Runner } from 'graphile-worker';
import PgBoss from 'pg-boss';
import type pg from 'pg';
import { loadConfig } from '../src/config/config.js';
import { createPool } from '../src/db/pool.js';
import { HandlerRegistry } from '../src/jobs/registry.js';
import { z } from 'zod';
import { defineJob, type JobHandlerDefinition } from '../src/jobs/types.js';
import { claimJobs, claimJobsOfOneBusiness } from '../src/jobs/sql/claim.js';
import { Worker } from '../src/jobs/worker.js';
import { quietLog, type Observer } from './lib/db.js';

export interface LoadedQueue {
  /** Starts processing; the clock runs from the call. */
  start(): Promise<void>;
  /** Jobs not yet completed. */
  remaining(observer: Observer): Promise<number>;
  stop(): Promise<void>;
}

export interface Contender {
  key: string;
  engine: string;
  config: string;
  /** Excluded from the target: shown for context. */
  informational?: boolean;
  /** Inserts `jobs` no-op jobs in bulk into the (fresh, migrated) database at `url`. */
  load(url: string, setup: pg.Pool, jobs: number): Promise<LoadedQueue>;
  /** Tables to VACUUM (ANALYZE) after loading. */
  tables: string[];
  /** Ours only: the plan PostgreSQL picks for the claim statement on the loaded table. */
  claimPlan?(setup: pg.Pool): Promise<string>;
}

const NOOP_TYPE = 'bench_noop';

const noopHandler: JobHandlerDefinition = defineJob({
  type: NOOP_TYPE,
  params: z.looseObject({}),
  batch: async () => ({ processed: 1, succeeded: 1, failed: 0, checkpoint: null, done: true }),
});

export interface OursOptions {
  concurrency: number;
  /**
   * Diagnostic: the jobs spread round robin over this many businesses (default 1). The fair claim
   * (src/jobs/sql/claim.ts) visits every business with queued jobs, so its cost grows with them.
   */
  businesses?: number;
  /** Diagnostic: disable the jobs_notify_update trigger (the pg_notify of each job UPDATE statement). */
  withoutNotifyTrigger?: boolean;
}


export function ours(key: string, opts: OursOptions, label: { config: string; informational?: boolean }): Contender {
  return {
    key,
    engine: 'bulkhead (ours)',
    config: label.config,
    ...(label.informational ? { informational: true } : {}),
    tables: ['jobs'],
    claimPlan: (setup) => explainClaim(setup, opts.concurrency, (opts.businesses ?? 1) > 1),
    async load(url, setup, jobs) {
      const { rows } = await setup.query<{ id: number }>(
        `INSERT INTO businesses (name) SELECT 'bench ' || g FROM generate_series(1, $1) g RETURNING id`,
        [opts.businesses ?? 1],
      );
      const businessIds = rows.map((r) => r.id);
      if (businessIds.length === 0) throw new Error('no business');
      // One multi-row INSERT: the same rows insertJob writes, without a round trip per job.
      await setup.query(
        `INSERT INTO jobs (business_id, type, queue, params, params_hash, total)
         SELECT ($1::bigint[])[1 + g % cardinality($1::bigint[])], $2, 'default', '{}'::jsonb, 'bench-' || g, 1
           FROM generate_series(1, $3) g`,
        [businessIds, NOOP_TYPE, jobs],
      );
      if (opts.withoutNotifyTrigger) {
        const { rows: found } = await setup.query(`SELECT 1 FROM pg_trigger WHERE tgname = 'jobs_notify_update' AND tgrelid = 'jobs'::regclass`);
        if (found.length === 0) throw new Error('the jobs_notify_update trigger this diagnostic disables no longer exists; update bench/engine-contenders.ts');
        await setup.query('ALTER TABLE jobs DISABLE TRIGGER jobs_notify_update');
      }
      const config = loadConfig({
        DATABASE_URL: url,
        WORKER_CONCURRENCY: String(opts.concurrency),
        WORKER_QUEUES: 'default',
        JOB_BATCH_PAUSE_MS: '0',
        LOG_LEVEL: 'silent',
      });
      // Slots + the claim/heartbeat connection, as graphile-worker recommends for itself.
      const pool = createPool(url, { max: opts.concurrency + 2, idleInTxTimeoutMs: config.dbIdleInTxTimeoutMs }, quietLog);
      const worker = new Worker({ pool, databaseUrl: url, registry: new HandlerRegistry().register(noopHandler), config: config.worker, log: quietLog });
      return {
        start: () => worker.start(),
        remaining: (o) => o.count(`SELECT count(*)::int AS n FROM jobs WHERE status <> 'completed'`),
        async stop() {
          await worker.stop();
          await pool.end();
        },
      };
    },
  };
}

interface PlanNode {
  'Node Type': string;
  'Relation Name'?: string;
  'Index Name'?: string;
  'Subplan Name'?: string;
  Plans?: PlanNode[];
}

/**
 * EXPLAIN (without ANALYZE: nothing is claimed) of the exact claim statement the worker sends
 * (the fair claim when several businesses have queued jobs, the one-business claim otherwise),
 * reduced to the outline of its job-picking CTE, e.g. "Limit → LockRows → Sort → Seq Scan on jobs".
 */
async function explainClaim(setup: pg.Pool, limit: number, severalBusinesses: boolean): Promise<string> {
  const claim = severalBusinesses ? claimJobs('bench-explain', ['default'], limit) : claimJobsOfOneBusiness('bench-explain', ['default'], limit);
  const args = severalBusinesses ? `'bench-explain', '{default}', ${limit}, '{}', ${limit}` : `'bench-explain', '{default}', ${limit}`;
  const client = await setup.connect();
  try {
    await client.query(`PREPARE bench_claim AS ${claim.text}`);
    const { rows } = await client.query<{ 'QUERY PLAN': Array<{ Plan: PlanNode }> }>(`EXPLAIN (FORMAT JSON) EXECUTE bench_claim(${args})`);
    await client.query('DEALLOCATE bench_claim');
    const root = rows[0]?.['QUERY PLAN'][0]?.Plan;
    const cte = root ? findNode(root, (n) => n['Subplan Name'] === 'CTE next') : undefined;
    return cte ? outline(cte).join(' → ') : 'unknown';
  } finally {
    client.release();
  }
}

function findNode(node: PlanNode, match: (n: PlanNode) => boolean): PlanNode | undefined {
  if (match(node)) return node;
  for (const child of node.Plans ?? []) {
    const found = findNode(child, match);
    if (found) return found;
  }
  return undefined;
}

function outline(node: PlanNode): string[] {
  const on = node['Index Name'] ? ` using ${node['Index Name']}` : node['Relation Name'] ? ` on ${node['Relation Name']}` : '';
  return [`${node['Node Type']}${on}`, ...(node.Plans ?? []).flatMap(outline)];
}

export interface GraphileOptions {
  concurrency: number;
  /** Their documented batching options (worker.graphile.org/docs/performance). */
  batching?: { localQueueSize: number; completeJobBatchDelay: number };
}

const silentGraphileLogger = new GraphileLogger(() => () => undefined);

export function graphileWorker(key: string, opts: GraphileOptions, config: string): Contender {
  return {
    key,
    engine: 'graphile-worker 0.17.3',
    config,
    tables: ['graphile_worker._private_jobs'],
    async load(url, _setup, jobs) {
      const utils = await makeWorkerUtils({ connectionString: url, logger: silentGraphileLogger });
      try {
        await utils.migrate();
        await utils.addJobs(Array.from({ length: jobs }, () => ({ identifier: 'noop', payload: {} })));
      } finally {
        await utils.release();
      }
      let runner: Runner | null = null;
      return {
        async start() {
          runner = await run({
            connectionString: url,
            concurrency: opts.concurrency,
            maxPoolSize: opts.concurrency + 2,
            noHandleSignals: true,
            logger: silentGraphileLogger,
            taskList: { noop: async () => undefined },
            ...(opts.batching
              ? {
                  preset: {
                    worker: {
                      localQueue: { size: opts.batching.localQueueSize },
                      completeJobBatchDelay: opts.batching.completeJobBatchDelay,
                      failJobBatchDelay: opts.batching.completeJobBatchDelay,
                    },
                  },
                }
              : {}),
          });
        },
        remaining: (o) => o.count(`SELECT count(*)::int AS n FROM graphile_worker._private_jobs`),
        async stop() {
          await runner?.stop();
        },
      };
    },
  };
}

export interface PgBossOptions {
  /** work() calls: each is one polling loop. */
  workers: number;
  batchSize: number;
}

const PGBOSS_QUEUE = 'noop';
// pg-boss's minimum: every work() loop waits this long after each fetch unless notified.
const PGBOSS_POLL_S = 0.5;

export function pgBoss(key: string, opts: PgBossOptions, label: { config: string; informational?: boolean }): Contender {
  return {
    key,
    engine: 'pg-boss 10.4.2',
    config: label.config,
    ...(label.informational ? { informational: true } : {}),
    tables: ['pgboss.job'],
    async load(url, _setup, jobs) {
      // No maintenance or cron during the measurement: neither is part of processing jobs.
      const boss = new PgBoss({ connectionString: url, max: opts.workers + 2, supervise: false, schedule: false });
      boss.on('error', (err) => console.error('pg-boss error:', err));
      await boss.start();
      await boss.createQueue(PGBOSS_QUEUE);
      const CHUNK = 10_000;
      for (let i = 0; i < jobs; i += CHUNK) {
        await boss.insert(Array.from({ length: Math.min(CHUNK, jobs - i) }, () => ({ name: PGBOSS_QUEUE, data: {} })));
      }
      return {
        async start() {
          for (let i = 0; i < opts.workers; i++) {
            await boss.work(PGBOSS_QUEUE, { batchSize: opts.batchSize, pollingIntervalSeconds: PGBOSS_POLL_S }, async () => undefined);
          }
        },
        remaining: (o) => o.count(`SELECT count(*)::int AS n FROM pgboss.job WHERE name = $1 AND state <> 'completed'`, [PGBOSS_QUEUE]),
        async stop() {
          await boss.stop({ graceful: true, wait: true, timeout: 10_000 });
        },
      };
    },
  };
}
