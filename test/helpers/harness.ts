import os from 'node:os';
import path from 'node:path';
import type { FastifyInstance } from 'fastify';
import type pg from 'pg';
import { loadConfig, type Config } from '../../src/config/config.js';
import { migrate } from '../../src/db/migrate.js';
import { createPool } from '../../src/db/pool.js';
import { buildApp } from '../../src/http/app.js';
import { createAppMetrics } from '../../src/http/metrics.js';
import { JobEvents } from '../../src/jobs/job-events.js';
import type { JobStatus } from '../../src/jobs/types.js';
import { Worker } from '../../src/jobs/worker.js';
import { createRegistry } from '../../src/cli/handlers.js';
import type { DomainModule } from '../../src/cli/module.js';
import { createModules } from '../../src/cli/modules.js';
import { acceptDeps } from '../../src/http/app.js';
import { createLogger, type Logger } from '../../src/lib/logger.js';
import { createTestDatabase } from './db.js';

export const ADMIN_TOKEN = 'test-admin-token-0123456789';

export interface TestEnv {
  url: string;
  pool: pg.Pool;
  config: Config;
  log: Logger;
  app: FastifyInstance;
  /** http://127.0.0.1:port when started with listen: true. */
  baseUrl: string;
  workers: Worker[];
  /** The provider-backed domains (outbound, broadcasts), started with roles api + worker. */
  modules: DomainModule[];
  startWorker(overrides?: Record<string, string>): Promise<Worker>;
  close(): Promise<void>;
}

export interface TestEnvOptions {
  /** Start one in-process worker (default true). */
  worker?: boolean;
  /** Listen on a real port (for parallel HTTP, SSE, child processes). Default false: use inject. */
  listen?: boolean;
  /** Extra environment for loadConfig (e.g. JOB_BATCH_SIZE). */
  env?: Record<string, string>;
}

/** Engine defaults for tests: no pause between batches, fast polling. */
export const TEST_ENV: Record<string, string> = {
  JOB_BATCH_PAUSE_MS: '0',
  WORKER_POLL_MS: '250',
  LOG_LEVEL: process.env.TEST_LOG_LEVEL ?? 'silent',
  ADMIN_TOKEN,
  PORT: '0',
};

/** A fresh database with migrations, the HTTP app and (optionally) an in-process worker. */
export async function startTestEnv(opts: TestEnvOptions = {}): Promise<TestEnv> {
  const db = await createTestDatabase();
  const config = loadConfig({ ...TEST_ENV, ...opts.env, DATABASE_URL: db.url, DATA_DIR: process.env.TEST_DATA_DIR ?? path.join(os.tmpdir(), 'bulkhead-test-data') });
  const log = createLogger(config.logLevel);
  const pool = createPool(db.url, { max: 20, idleInTxTimeoutMs: config.dbIdleInTxTimeoutMs }, log);
  await migrate(pool, log);
  const metrics = createAppMetrics(pool);
  const jobEvents = new JobEvents(db.url, log);
  await jobEvents.start();
  let baseUrl = '';
  const modules = createModules({
    pool,
    databaseUrl: db.url,
    config,
    log,
    accept: acceptDeps(pool, config.gate.dedupWindowS, metrics),
    // Webhooks need a listening API: tests that use providers start with listen: true.
    publicBaseUrl: () => baseUrl || config.publicBaseUrl,
  });
  const app = await buildApp({ pool, config, log, metrics, jobEvents, modules });
  if (opts.listen) {
    baseUrl = (await app.listen({ port: 0, host: '127.0.0.1' })).replace('localhost', '127.0.0.1');
  } else {
    await app.ready();
  }
  for (const m of modules) await m.start({ api: true, worker: opts.worker ?? true });
  const workers: Worker[] = [];
  const env: TestEnv = {
    url: db.url,
    pool,
    config,
    log,
    app,
    baseUrl,
    workers,
    modules,
    async startWorker(overrides = {}) {
      const c = loadConfig({ ...TEST_ENV, ...opts.env, ...overrides, DATABASE_URL: db.url });
      const worker = new Worker({ pool, databaseUrl: db.url, registry: createRegistry(modules), config: c.worker, log, metrics: metrics.jobs });
      await worker.start();
      workers.push(worker);
      return worker;
    },
    async close() {
      await Promise.all(workers.map((w) => w.stop()));
      for (const m of [...modules].reverse()) await m.stop();
      await app.close();
      await jobEvents.stop();
      await pool.end();
      await db.drop();
    },
  };
  if (opts.worker ?? true) await env.startWorker();
  return env;
}

export interface Tenant {
  businessId: number;
  userId: number;
  token: string;
  headers: Record<string, string>;
}

export async function createTenant(env: TestEnv, body: Record<string, unknown> = {}): Promise<Tenant> {
  const res = await env.app.inject({
    method: 'POST',
    url: '/api/v1/admin/businesses',
    headers: { authorization: `Bearer ${ADMIN_TOKEN}` },
    payload: { name: `Biz ${Math.random().toString(36).slice(2, 8)}`, ...body },
  });
  if (res.statusCode !== 201) throw new Error(`create business: ${res.statusCode} ${res.body}`);
  const json = res.json() as { business: { id: number }; user: { id: number }; token: string };
  return {
    businessId: json.business.id,
    userId: json.user.id,
    token: json.token,
    headers: { authorization: `Bearer ${json.token}` },
  };
}

/** Waits for a job state by listening to the database, never by fixed sleeps. */
export async function waitForJob(
  env: Pick<TestEnv, 'pool'>,
  jobId: number,
  until: JobStatus | ((job: { status: JobStatus; processed: number; total: number }) => boolean),
  timeoutMs = 30_000,
): Promise<{ status: JobStatus; processed: number; succeeded: number; failed: number; total: number; last_error: string | null; result: Record<string, unknown> | null }> {
  const pred = typeof until === 'string' ? (j: { status: JobStatus }) => j.status === until : until;
  const deadline = Date.now() + timeoutMs;
  let last: unknown = null;
  for (;;) {
    const { rows } = await env.pool.query(
      `SELECT status, processed, succeeded, failed, total, last_error, result FROM jobs WHERE id = $1`,
      [jobId],
    );
    const job = rows[0];
    last = job;
    if (job && pred(job)) return job;
    if (Date.now() > deadline) throw new Error(`job ${jobId} did not reach the expected state in ${timeoutMs} ms; last: ${JSON.stringify(last)}`);
    await new Promise((r) => setTimeout(r, 25));
  }
}

/** Polls fn until it returns a truthy value (a state, not a sleep). */
export async function waitFor<T>(fn: () => Promise<T | null | undefined | false>, what: string, timeoutMs = 30_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const v = await fn();
    if (v) return v;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 25));
  }
}
