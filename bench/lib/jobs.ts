/** Our engine as the bulk scenarios use it: a real worker with the real handlers, and a job watch. */
import type pg from 'pg';
import { createModules, createRegistry } from '../../src/app/modules.js';
import { loadConfig } from '../../src/config/config.js';
import { createPool } from '../../src/db/pool.js';
import type { AcceptDeps } from '../../src/gate/accept.js';
import type { JobStatus } from '../../src/jobs/types.js';
import { Worker, type WorkerDeps } from '../../src/jobs/worker.js';
import { quietLog } from './db.js';
import { pollUntil } from './timing.js';

export interface InProcessWorker {
  stop(): Promise<void>;
}

/**
 * A worker with every production job type (the domains' modules), configured like `bulkhead worker` from `env`
 * (only `env`, not process.env: what it leaves unset takes the engine's default; LOG_LEVEL is silent unless set).
 * `hooks.onBatch` sees every committed batch.
 */
export async function startInProcessWorker(url: string, env: Record<string, string>, hooks: Pick<WorkerDeps, 'onBatch'> = {}): Promise<InProcessWorker> {
  const config = loadConfig({ LOG_LEVEL: 'silent', ...env, DATABASE_URL: url });
  const pool = createPool(url, { max: config.dbPoolMax, idleInTxTimeoutMs: config.dbIdleInTxTimeoutMs }, quietLog);
  const worker = new Worker({ pool, databaseUrl: url, registry: createRegistry(createModules({ pool, databaseUrl: url, config, log: quietLog, accept: acceptDeps(pool), publicBaseUrl: () => config.publicBaseUrl })), config: config.worker, log: quietLog, ...hooks });
  await worker.start();
  return {
    async stop() {
      await worker.stop();
      await pool.end();
    },
  };
}

export function acceptDeps(pool: pg.Pool): AcceptDeps {
  return { pool, dedupWindowS: loadConfig({}).gate.dedupWindowS };
}

export interface FinishedJob {
  status: JobStatus;
  processed: number;
  succeeded: number;
  failed: number;
  total: number;
  last_error: string | null;
}

/** Polls the job every `intervalMs` until it is terminal; throws unless it completed. */
export async function waitForCompletion(pool: pg.Pool, jobId: number, timeoutMs: number, intervalMs = 20): Promise<FinishedJob> {
  let job: FinishedJob | undefined;
  await pollUntil(async () => {
    const { rows } = await pool.query<FinishedJob>(
      `/* bench-observer */ SELECT status, processed, succeeded, failed, total, last_error FROM jobs WHERE id = $1`,
      [jobId],
    );
    job = rows[0];
    return job !== undefined && ['completed', 'failed', 'cancelled'].includes(job.status);
  }, { what: `job ${jobId} to finish`, intervalMs, timeoutMs });
  if (!job || job.status !== 'completed') throw new Error(`job ${jobId} ended ${job?.status ?? 'nowhere'}: ${job?.last_error ?? ''}`);
  return job;
}

export function jobIdOf(body: Record<string, unknown>): number {
  const id = body.job_id;
  if (typeof id !== 'number') throw new Error(`no job_id in ${JSON.stringify(body)}`);
  return id;
}
