import type { FastifyInstance } from 'fastify';
import type { Config } from '../config/config.js';
import { pruneIdempotencyKeys } from '../gate/idempotency.js';
import { acceptDeps, buildApp } from '../http/app.js';
import { createAppMetrics, type AppMetrics } from '../http/metrics.js';
import { JobEvents } from '../jobs/job-events.js';
import { pruneFinishedJobs } from '../jobs/jobs.repo.js';
import type { HandlerRegistry } from '../jobs/registry.js';
import { Worker } from '../jobs/worker.js';
import { createLogger, type Logger } from '../lib/logger.js';
import { PeriodicTask } from '../lib/periodic-task.js';
import { openDatabase, type Database } from './database.js';
import type { DomainModule, ModuleRoles } from './module.js';
import { createModules, createRegistry } from './modules.js';

export interface ProcessOptions {
  config: Config;
  roles: ModuleRoles;
  log?: Logger;
  /** An open, migrated database (tests bring their own); otherwise DATABASE_URL or the embedded one. */
  db?: Database;
  /**
   * Accept connections on HOST:PORT (default true). False builds the app for `inject` only:
   * tests that never need a socket.
   */
  listen?: boolean;
}

/** A running Bulkhead process: API, worker or both, on one pool, with every domain started. */
export interface BulkheadProcess {
  config: Config;
  log: Logger;
  db: Database;
  metrics: AppMetrics;
  modules: readonly DomainModule[];
  registry: HandlerRegistry;
  /** The HTTP app (API role). */
  app: FastifyInstance | null;
  /** Where the API listens, e.g. http://127.0.0.1:3000 (API role, listening). */
  url: string | null;
  /** This process's job runner (worker role). */
  worker: Worker | null;
  /** Stops in reverse order of start; closes the database only when it opened it. Idempotent. */
  stop(opts?: { timeoutMs?: number }): Promise<void>;
}

/** Rounds of one pruning pass: 1 000 jobs each, so a backlog drains without one huge DELETE. */
const PRUNE_ROUNDS = 100;

/**
 * The composition root: every command (`start`, `api`, `worker`) and the test harness start a
 * process through here, so tests run the production wiring. Order matters and is the point:
 * modules start (providers, simulators, dialer) BEFORE the API accepts a request and before the
 * worker claims a job — a request arriving during startup or a job queued before it finds every
 * domain ready — and they stop only after both have stopped. The API listens before the worker
 * starts so that a port chosen at start (PORT=0) is known before the first call is dialled.
 */
export async function startProcess(opts: ProcessOptions): Promise<BulkheadProcess> {
  const { config, roles } = opts;
  const log = opts.log ?? createLogger(config.logLevel);
  const ownsDb = !opts.db;
  const db = opts.db ?? (await openDatabase(config, log));
  const stack: Array<(o: { timeoutMs?: number }) => Promise<unknown>> = [];
  const unwind = async (o: { timeoutMs?: number }) => {
    for (const stop of stack.splice(0).reverse()) {
      await stop(o).catch((err: unknown) => log.warn({ err }, 'stopping a part failed'));
    }
  };
  if (ownsDb) stack.push(() => db.close());

  try {
    const metrics = createAppMetrics(db.pool);
    let listeningAt = '';
    const modules = createModules({
      pool: db.pool,
      databaseUrl: db.url,
      config,
      log,
      accept: acceptDeps(db.pool, config.gate.dedupWindowS, metrics),
      publicBaseUrl: () => listeningAt && config.port === 0 ? listeningAt : config.publicBaseUrl,
    });
    const registry = createRegistry(modules);

    let app: FastifyInstance | null = null;
    if (roles.api) {
      const jobEvents = new JobEvents(db.url, log.child({ part: 'job-events' }));
      await jobEvents.start();
      stack.push(() => jobEvents.stop());
      app = await buildApp({ pool: db.pool, config, log, metrics, jobEvents, modules });
    }

    for (const m of modules) {
      await m.start?.(roles);
      if (m.stop) stack.push((o) => m.stop?.(o) ?? Promise.resolve());
    }
    // Pushed after the modules: the API stops accepting before they stop.
    const built = app;
    if (built) stack.push(() => built.close());

    let url: string | null = null;
    if (app) {
      if (opts.listen ?? true) {
        // A longer accept queue than Node's 511 (the kernel caps it at net.core.somaxconn):
        // provider webhooks arrive in bursts when many calls end at once, and a connection that
        // finds the queue full is not refused but retried by TCP after 1, 3, 7 s.
        url = (await app.listen({ port: config.port, host: config.host, backlog: 4096 })).replace('localhost', '127.0.0.1');
        listeningAt = url;
      } else {
        await app.ready();
      }
    }

    let worker: Worker | null = null;
    if (roles.worker) {
      const w = new Worker({ pool: db.pool, databaseUrl: db.url, registry, config: config.worker, log: log.child({ part: 'worker' }), metrics: metrics.jobs });
      await w.start();
      worker = w;
      stack.push((o) => w.stop(o));
      const retention = engineRetention(db, config, log);
      retention.start();
      stack.push((o) => retention.stop(o));
    }

    let stopped: Promise<void> | null = null;
    return {
      config, log, db, metrics, modules, registry, app, url, worker,
      stop(o = {}) {
        stopped ??= unwind(o);
        return stopped;
      },
    };
  } catch (err) {
    await unwind({ timeoutMs: 5_000 });
    throw err;
  }
}

/**
 * Retention of the engine's and the gate's own rows: finished jobs older than
 * JOB_RETENTION_DAYS, expired idempotency keys. One DELETE of at most 1 000 rows per round
 * keeps locks and WAL bursts short; a pass continues while rounds come back full, so a busy
 * system's backlog cannot outgrow it. Domains prune their own rows (leads: abandoned import rows).
 */
function engineRetention(db: Database, config: Config, log: Logger): PeriodicTask {
  return new PeriodicTask({
    name: 'retention',
    everyMs: config.jobRetentionEveryMs,
    log,
    run: async (signal) => {
      let jobs = 0;
      for (let round = 0; round < PRUNE_ROUNDS && !signal.aborted; round++) {
        const n = await pruneFinishedJobs(db.pool, config.jobRetentionDays);
        jobs += n;
        if (n < 1000) break;
      }
      const keys = await pruneIdempotencyKeys(db.pool);
      if (jobs + keys > 0) log.info({ prunedJobs: jobs, prunedIdempotencyKeys: keys }, 'retention');
    },
  });
}
