import type { BatchConfig } from '../config/config.js';
import type { Queryable } from '../db/pool.js';

/**
 * How big the next batch of a job is: sized so a batch takes about `targetMs`, as
 * pt-online-schema-change's --chunk-time does. A fixed size was either too small (100k leads in
 * 2 000 batches of 50: per-batch overhead and, with the old 200 ms pause, seven minutes for what
 * PostgreSQL does in a second) or too big for a slower table (a long batch delays pause and
 * cancel, which take effect at batch boundaries, and holds row locks longer).
 *
 * The rate (rows per ms) is a moving average of the batches so far, so one slow batch (a
 * checkpoint, a cold cache) does not halve the next; the size moves at most ×2 / ÷2 per batch
 * and stays within [minSize, maxSize]. Pure: the caller measures and reports.
 */
export class BatchSizer {
  readonly #cfg: Pick<BatchConfig, 'targetMs' | 'minSize' | 'maxSize'>;
  #size: number;
  #rate: number | null = null;

  constructor(cfg: Pick<BatchConfig, 'targetMs' | 'minSize' | 'maxSize'>, initial = 50) {
    this.#cfg = cfg;
    this.#size = clamp(initial, cfg.minSize, cfg.maxSize);
  }

  get size(): number {
    return this.#size;
  }

  /** A batch of `rows` rows took `ms` (handler and commit). Batches that did no rows teach nothing. */
  observe(rows: number, ms: number): void {
    if (rows <= 0) return;
    const rate = rows / Math.max(ms, 1);
    this.#rate = this.#rate === null ? rate : RATE_WEIGHT * rate + (1 - RATE_WEIGHT) * this.#rate;
    const wanted = Math.round(this.#rate * this.#cfg.targetMs);
    this.#size = clamp(clamp(wanted, Math.floor(this.#size / 2), this.#size * 2), this.#cfg.minSize, this.#cfg.maxSize);
  }
}

/** Weight of the newest batch in the rate's moving average. */
const RATE_WEIGHT = 0.5;

function clamp(n: number, lo: number, hi: number): number {
  return Math.max(lo, Math.min(hi, n));
}

/**
 * The database's load as the number of other sessions executing a statement right now
 * (gh-ost's max-load on Threads_running, in PostgreSQL terms). Sampled at most every
 * `everyMs` per worker, however many jobs ask. Measured alternatives: a p99 of the API's own
 * query latency would see only one API process (workers and APIs are separate processes, and
 * there may be many); sessions in pg_stat_activity are what every process shares.
 */
export class PressureGauge {
  readonly #db: Queryable;
  readonly #everyMs: number;
  #last: { at: number; active: number } | null = null;
  #pending: Promise<number> | null = null;

  constructor(db: Queryable, everyMs = 100) {
    this.#db = db;
    this.#everyMs = everyMs;
  }

  async active(): Promise<number> {
    const now = Date.now();
    if (this.#last && now - this.#last.at < this.#everyMs) return this.#last.active;
    this.#pending ??= this.#db
      .query<{ active: number }>({
        name: 'bulkhead_pressure',
        // Client sessions running a statement, this one excluded; idle and idle-in-transaction
        // sessions use no CPU and are left out.
        text: `SELECT count(*)::int AS active FROM pg_stat_activity
                WHERE state = 'active' AND backend_type = 'client backend' AND pid <> pg_backend_pid()`,
      })
      .then((r) => {
        const active = r.rows[0]?.active ?? 0;
        this.#last = { at: Date.now(), active };
        return active;
      })
      .finally(() => (this.#pending = null));
    return this.#pending;
  }
}

/**
 * The pause before the next batch: JOB_BATCH_PAUSE_MS when set; otherwise none while the database
 * has at most `pressureActive` other active sessions, and while it has more, waits in short steps
 * until it has not — at most `maxPauseMs` at one boundary, so pause and cancel stay prompt and a
 * job always moves. Resolves with the ms waited.
 */
export async function pauseBetweenBatches(
  cfg: Pick<BatchConfig, 'fixedPauseMs' | 'pressureActive' | 'maxPauseMs'>,
  gauge: Pick<PressureGauge, 'active'>,
  sleep: (ms: number) => Promise<void>,
  signal?: AbortSignal,
): Promise<number> {
  if (cfg.fixedPauseMs !== null) {
    if (cfg.fixedPauseMs > 0) await sleep(cfg.fixedPauseMs);
    return cfg.fixedPauseMs;
  }
  let waited = 0;
  while (waited < cfg.maxPauseMs && !signal?.aborted && (await gauge.active()) > cfg.pressureActive) {
    const step = Math.min(PRESSURE_STEP_MS, cfg.maxPauseMs - waited);
    await sleep(step);
    waited += step;
  }
  return waited;
}

const PRESSURE_STEP_MS = 50;
