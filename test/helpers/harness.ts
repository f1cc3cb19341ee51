import os from 'node:os';
import path from 'node:path';
import type { FastifyInstance } from 'fastify';
import type pg from 'pg';
import type { DomainModule } from '../../src/app/module.js';
import { startProcess } from '../../src/app/process.js';
import { loadConfig, type Config } from '../../src/config/config.js';
import { migrate } from '../../src/db/migrate.js';
import { createPool } from '../../src/db/pool.js';
import type { JobStatus } from '../../src/jobs/types.js';
import { Worker } from '../../src/jobs/worker.js';
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
  /** Every domain module, started with roles api + worker (worker: false leaves that role out). */
  modules: readonly DomainModule[];
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
  // Fixed batches: many tests pause or cancel a job between two batches of a known size.
  // Adaptive sizing (the production default) has its own tests (test/jobs/adaptive.test.ts).
  JOB_BATCH_SIZE: '50',
  WORKER_POLL_MS: '250',
  // Tests send thousands of requests from one token in seconds (the bad-input fuzz, storms); the
  // request budget has its own test (test/http/hostile-tenant.test.ts) at the production defaults.
  API_RATE_PER_S: '1000000',
  API_RATE_BURST: '1000000',
  // Tests written before Israel became the default dial +1212555… numbers and read English
  // messages; test/tenancy/defaults.test.ts runs on the production defaults (IL, he).
  DEFAULT_COUNTRY: 'US',
  DEFAULT_TIMEZONE: 'UTC',
  DEFAULT_LOCALE: 'en',
  LOG_LEVEL: process.env.TEST_LOG_LEVEL ?? 'silent',
  ADMIN_TOKEN,
  PORT: '0',
  HOST: '127.0.0.1',
};

/**
 * A fresh database with migrations and a process started by the production composition root
 * (src/app/process.ts): API (listening or inject-only) and, unless worker: false, the worker role.
 */
export async function startTestEnv(opts: TestEnvOptions = {}): Promise<TestEnv> {
  const db = await createTestDatabase();
  const config = loadConfig({ ...TEST_ENV, ...opts.env, DATABASE_URL: db.url, DATA_DIR: process.env.TEST_DATA_DIR ?? path.join(os.tmpdir(), 'bulkhead-test-data') });
  const log = createLogger(config.logLevel);
  const pool = createPool(db.url, { max: 20, idleInTxTimeoutMs: config.dbIdleInTxTimeoutMs }, log);
  await migrate(pool, log);
  const proc = await startProcess({
    config,
    log,
    roles: { api: true, worker: opts.worker ?? true },
    listen: opts.listen ?? false,
    db: { url: db.url, pool, embedded: null, close: async () => undefined },
  });
  const app = proc.app;
  if (!app) throw new Error('no app');
  const workers: Worker[] = proc.worker ? [proc.worker] : [];
  return {
    url: db.url,
    pool,
    config,
    log: proc.log,
    app,
    baseUrl: proc.url ?? '',
    workers,
    modules: proc.modules,
    async startWorker(overrides = {}) {
      const c = loadConfig({ ...TEST_ENV, ...opts.env, ...overrides, DATABASE_URL: db.url });
      const worker = new Worker({ pool, databaseUrl: db.url, registry: proc.registry, config: c.worker, log: proc.log, metrics: proc.metrics.jobs });
      await worker.start();
      workers.push(worker);
      return worker;
    },
    async close() {
      await Promise.all(workers.map((w) => w.stop()));
      await proc.stop();
      await pool.end();
      await db.drop();
    },
  };
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
