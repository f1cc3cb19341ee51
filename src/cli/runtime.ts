import type pg from 'pg';
import type { FastifyInstance } from 'fastify';
import type { Config } from '../config/config.js';
import { startEmbeddedPostgres, type EmbeddedPostgresHandle } from '../db/embedded.js';
import { migrate } from '../db/migrate.js';
import { createPool } from '../db/pool.js';
import { pruneIdempotencyKeys } from '../gate/idempotency.js';
import { acceptDeps, buildApp } from '../http/app.js';
import { createAppMetrics, type AppMetrics } from '../http/metrics.js';
import { JobEvents } from '../jobs/job-events.js';
import { pruneFinishedJobs } from '../jobs/jobs.repo.js';
import { Worker } from '../jobs/worker.js';
import { pruneAbandonedImportRows } from '../leads/index.js';
import type { Logger } from '../lib/logger.js';
import { createRegistry } from './handlers.js';
import type { DomainModule, ModuleRoles } from './module.js';
import { createModules } from './modules.js';

export interface Database {
  url: string;
  pool: pg.Pool;
  embedded: EmbeddedPostgresHandle | null;
  close(): Promise<void>;
}

/** DATABASE_URL when set; otherwise the embedded PostgreSQL under DATA_DIR. Migrates either way. */
export async function openDatabase(config: Config, log: Logger, opts: { migrate: boolean } = { migrate: true }): Promise<Database> {
  const embedded = config.databaseUrl ? null : await startEmbeddedPostgres({ dataDir: config.dataDir, log: log.child({ part: 'embedded-postgres' }) });
  const url = config.databaseUrl ?? embedded?.url;
  if (!url) throw new Error('no database URL');
  const pool = createPool(url, { max: config.dbPoolMax, idleInTxTimeoutMs: config.dbIdleInTxTimeoutMs }, log);
  try {
    if (opts.migrate) await migrate(pool, log);
  } catch (err) {
    await pool.end().catch(() => undefined);
    await embedded?.stop();
    throw err;
  }
  let closed = false;
  return {
    url,
    pool,
    embedded,
    async close() {
      if (closed) return;
      closed = true;
      await pool.end().catch(() => undefined);
      await embedded?.stop();
    },
  };
}

export interface ApiHandle {
  app: FastifyInstance;
  url: string;
  stop(): Promise<void>;
}

/** The provider-backed domains of this process (created once, shared by its API and worker). */
export function createProcessModules(config: Config, db: Database, log: Logger, metrics: AppMetrics): DomainModule[] {
  return createModules({
    pool: db.pool,
    databaseUrl: db.url,
    config,
    log,
    accept: acceptDeps(db.pool, config.gate.dedupWindowS, metrics),
    publicBaseUrl: () => config.publicBaseUrl,
  });
}

export async function startModules(modules: readonly DomainModule[], roles: ModuleRoles): Promise<() => Promise<void>> {
  for (const m of modules) await m.start(roles);
  return async () => {
    for (const m of [...modules].reverse()) await m.stop();
  };
}

export async function startApi(
  config: Config,
  db: Database,
  log: Logger,
  metrics: AppMetrics = createAppMetrics(db.pool),
  modules: readonly DomainModule[] = [],
): Promise<ApiHandle> {
  const jobEvents = new JobEvents(db.url, log.child({ part: 'job-events' }));
  await jobEvents.start();
  const app = await buildApp({ pool: db.pool, config, log, metrics, jobEvents, modules });
  // A longer accept queue than Node's 511 (the kernel caps it at net.core.somaxconn): provider
  // webhooks arrive in bursts when many calls end at once, and a connection that finds the queue
  // full is not refused but retried by TCP after 1, 3, 7 s — a slot freed seconds late.
  const address = await app.listen({ port: config.port, host: config.host, backlog: 4096 });
  return {
    app,
    url: address,
    async stop() {
      await app.close();
      await jobEvents.stop();
    },
  };
}

export interface WorkerHandle {
  worker: Worker;
  stop(): Promise<void>;
}

/** Rounds of one pruning pass: 1 000 jobs each, so a backlog drains without one huge DELETE. */
const PRUNE_ROUNDS = 100;

export async function startWorker(
  config: Config,
  db: Database,
  log: Logger,
  metrics?: AppMetrics,
  modules: readonly DomainModule[] = [],
): Promise<WorkerHandle> {
  const worker = new Worker({
    pool: db.pool,
    databaseUrl: db.url,
    registry: createRegistry(modules),
    config: config.worker,
    log: log.child({ part: 'worker' }),
    ...(metrics ? { metrics: metrics.jobs } : {}),
  });
  await worker.start();
  // Retention: finished jobs older than JOB_RETENTION_DAYS, expired idempotency keys, and
  // staged import rows of imports that were cancelled or failed.
  const maintenance = setInterval(() => {
    void (async () => {
      // One DELETE of at most 1 000 rows per round keeps locks and WAL bursts short; a pass
      // continues while rounds come back full, so a busy system's backlog cannot outgrow it.
      let jobs = 0;
      for (let round = 0; round < PRUNE_ROUNDS; round++) {
        const n = await pruneFinishedJobs(db.pool, config.jobRetentionDays);
        jobs += n;
        if (n < 1000) break;
      }
      const keys = await pruneIdempotencyKeys(db.pool);
      const rows = await pruneAbandonedImportRows(db.pool);
      if (jobs + keys + rows > 0) log.info({ prunedJobs: jobs, prunedIdempotencyKeys: keys, prunedImportRows: rows }, 'retention');
    })().catch((err) => log.warn({ err }, 'retention failed'));
  }, config.jobRetentionEveryMs);
  maintenance.unref();
  return {
    worker,
    async stop() {
      clearInterval(maintenance);
      await worker.stop();
    },
  };
}
