/**
 * How many jobs a worker claims beyond its free slots (graphile-worker's local queue): enough to
 * start its next jobs without a claim each while its jobs are short, none while they are long.
 *
 * A job claimed ahead is `running` under this worker before it starts, so nobody else can run it
 * and a pause or cancel takes effect at the end of its first batch, as for a job just claimed.
 * That is only worth it when the wait is short: the worker claims what it expects to start within
 * HORIZON_MS at the pace its jobs have been ending (slots × horizon ÷ mean job time), at most
 * WORKER_CLAIM_AHEAD, and nothing until it has seen a job end. Bulk jobs (seconds per job) get no
 * jobs claimed ahead; 1 ms no-op jobs get the maximum. A job still waiting after MAX_WAIT_MS (the
 * worker's jobs turned slow) is handed back to the queue (worker.ts).
 *
 * Measured (`npm run bench -- engine`, no-op jobs, concurrency 10, docs/BENCHMARKS.md): claims per
 * job fell from 0.28 to 0.009 with the default maximum of 500.
 */
export const HORIZON_MS = 50;
export const MAX_WAIT_MS = 1_000;
/** Weight of the newest job time in the running mean: about the last ten jobs count. */
const WEIGHT = 0.2;

export class ClaimAhead {
  readonly #slots: number;
  readonly #most: number;
  #meanMs: number | null = null;

  constructor(slots: number, most: number) {
    this.#slots = slots;
    this.#most = most;
  }

  /** A job held a slot this long (from its start to handing the slot back). */
  observe(ms: number): void {
    this.#meanMs = this.#meanMs === null ? ms : this.#meanMs + WEIGHT * (ms - this.#meanMs);
  }

  /** Jobs to claim beyond the free slots now. */
  get size(): number {
    if (this.#most === 0 || this.#meanMs === null) return 0;
    return Math.min(this.#most, Math.floor((this.#slots * HORIZON_MS) / Math.max(this.#meanMs, 0.1)));
  }
}
