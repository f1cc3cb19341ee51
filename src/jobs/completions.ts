import type pg from 'pg';
import { commitBatches, type SettledBatch } from './sql/batch.js';
import type { JobStatus } from './types.js';

export interface SettledRow {
  status: JobStatus;
  processed: number;
  total: number;
  succeeded: number;
  failed: number;
}

interface Waiting {
  batch: SettledBatch;
  resolve: (row: SettledRow | null) => void;
  reject: (err: unknown) => void;
}

/** graphile-worker settles up to this many jobs per statement too (its completeJobs batches). */
const MOST_PER_STATEMENT = 500;

/**
 * Group commit for batches that made no statement of their own (sql/batch.ts commitBatches): one
 * statement in flight per worker, and the batches that end while it runs share the next one. A
 * batch that ends alone waits one turn of the event loop; under load a statement settles as many
 * jobs as ended during the previous one, which is what takes the per-job round trip off the
 * engine's path for short jobs (bench/engine.ts: one UPDATE per 10 no-op jobs at concurrency 10).
 * Resolves with the job's settled row, or null when its claim moved on (the caller's lost claim).
 */
export class Completions {
  readonly #pool: pg.Pool;
  readonly #workerId: string;
  #waiting: Waiting[] = [];
  #flushing = false;

  constructor(pool: pg.Pool, workerId: string) {
    this.#pool = pool;
    this.#workerId = workerId;
  }

  settle(batch: SettledBatch): Promise<SettledRow | null> {
    return new Promise((resolve, reject) => {
      this.#waiting.push({ batch, resolve, reject });
      if (!this.#flushing) {
        this.#flushing = true;
        setImmediate(() => void this.#flush());
      }
    });
  }

  async #flush(): Promise<void> {
    while (this.#waiting.length > 0) {
      const group = this.#waiting.splice(0, MOST_PER_STATEMENT);
      try {
        const { rows } = await this.#pool.query<SettledRow & { id: number | string }>(commitBatches(this.#workerId, group.map((w) => w.batch)));
        const byJob = new Map(rows.map(({ id, ...row }) => [Number(id), row]));
        for (const w of group) w.resolve(byJob.get(w.batch.jobId) ?? null);
      } catch (err) {
        for (const w of group) w.reject(err);
      }
    }
    this.#flushing = false;
  }
}
