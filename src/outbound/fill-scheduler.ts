/**
 * When to fill which business's call slots: the dialer's decisions, without a database or real
 * time. The dialer (dialer.ts) gives it one `step` — a claim round of a business, its calls handed
 * to dialing — and the scheduler decides what follows each round: another round, a retry of a
 * taken slot lock, a wait for CPS budget, or nothing.
 */

/** What one claim round of a business came to. */
export type FillStep =
  | { kind: 'claimed'; more: boolean }
  | { kind: 'locked' }
  | { kind: 'cps_busy'; retryInMs: number }
  /** No slot, nothing due, calling hours closed, business gone: the next call's end or the sweeper fills again. */
  | { kind: 'done' };

/** `must`: the fill has to happen; `try`: only if the slot lock is free (FillScheduler.request). */
export type FillLock = 'must' | 'try';

/** One-shot timers, injected so tests drive time by hand. */
export interface Timers {
  /** Calls `fn` once after `ms`; the returned function cancels it. */
  after(ms: number, fn: () => void): () => void;
}

/** Real timers that do not keep the process alive. */
const realTimers: Timers = {
  after(ms, fn) {
    const t = setTimeout(fn, ms);
    t.unref();
    return () => clearTimeout(t);
  },
};

export interface FillSchedulerOptions {
  step(businessId: number): Promise<FillStep>;
  /** The account's calls per second: how many CPS waiters one wake-up lets go. */
  cps: number;
  /** A round that threw (the fill ends; the sweeper and the run's poll remain). */
  onError(err: unknown, businessId: number): void;
  timers?: Timers;
  /** In [0, 1): the locked-retry jitter. */
  random?: () => number;
}

/** Fills of different businesses that run at once in one process (each round is one short transaction). */
export const FILL_CONCURRENCY = 8;
/** Claim rounds per fill, so one business with many do-not-call leads cannot keep a fill worker. */
export const MAX_ROUNDS = 20;
/** A fill that found the slot lock taken tries again after 10–20 ms, up to 100 times (~1.5 s). */
export const LOCKED_RETRY_MS = 10;
export const LOCKED_RETRY_LIMIT = 100;
/** Between CPS wake-ups while businesses still wait: 100 ms, or 1/cps s when longer (one business per wake-up then). */
const CPS_REWAKE_MS = 100;

export class FillScheduler {
  readonly #o: FillSchedulerOptions;
  readonly #timers: Timers;
  readonly #random: () => number;
  /** Waiting for a fill worker, in request order; a business is queued once however often it is requested. */
  readonly #queued = new Set<number>();
  /** Being filled now, at most FILL_CONCURRENCY. */
  readonly #running = new Map<number, Promise<void>>();
  /** Requested while being filled: filled once more after (coalesced). */
  readonly #again = new Set<number>();
  /** With a pending request that must happen (not only a NOTIFY's `try`). */
  readonly #must = new Set<number>();
  /** Consecutive fills that found the slot lock taken. */
  readonly #lockedTries = new Map<number, number>();
  readonly #retryTimers = new Set<() => void>();
  /** Waiting for CPS budget, FIFO. */
  readonly #cpsWaiting = new Set<number>();
  #cpsTimer: (() => void) | null = null;
  #stopped = false;

  constructor(o: FillSchedulerOptions) {
    this.#o = o;
    this.#timers = o.timers ?? realTimers;
    this.#random = o.random ?? Math.random;
  }

  /**
   * Fill this business's free slots soon. Fills never wait for the business's slot lock
   * (claim.ts). `must`: when the lock is taken, try again shortly; `try`: give up — only for a
   * NOTIFY heard while this dialer does not know its peers, when every listening dialer acts on
   * it, the lock's holder included.
   */
  request(businessId: number, lock: FillLock = 'must'): void {
    if (this.#stopped) return;
    if (lock === 'must') this.#must.add(businessId);
    if (this.#running.has(businessId)) {
      this.#again.add(businessId);
      return;
    }
    this.#queued.add(businessId);
    this.#pump();
  }

  /** Starts no fill any more, cancels the pending retries and wake-ups; resolves when the fills in flight ended. Idempotent. */
  async stop(): Promise<void> {
    this.#stopped = true;
    this.#cpsTimer?.();
    this.#cpsTimer = null;
    for (const cancel of this.#retryTimers) cancel();
    this.#retryTimers.clear();
    this.#queued.clear();
    this.#again.clear();
    await Promise.all(this.#running.values());
  }

  #pump(): void {
    for (const businessId of this.#queued) {
      if (this.#stopped || this.#running.size >= FILL_CONCURRENCY) return;
      this.#queued.delete(businessId);
      const fill = this.#fill(businessId)
        .catch((err: unknown) => this.#o.onError(err, businessId))
        .finally(() => {
          this.#running.delete(businessId);
          if (this.#again.delete(businessId)) this.#queued.add(businessId);
          this.#pump();
        });
      this.#running.set(businessId, fill);
    }
  }

  async #fill(businessId: number): Promise<void> {
    const must = this.#must.delete(businessId);
    for (let round = 0; round < MAX_ROUNDS && !this.#stopped; round++) {
      const step = await this.#o.step(businessId);
      if (step.kind === 'locked') {
        if (must) this.#retryLocked(businessId);
        return;
      }
      this.#lockedTries.delete(businessId);
      if (step.kind === 'cps_busy') {
        this.#waitForCps(businessId, step.retryInMs);
        return;
      }
      if (step.kind === 'done' || !step.more) return;
    }
  }

  /**
   * Another transaction holds the business's slot lock (another process's fill, or a direct
   * call). A `try` fill just stops — every dialer heard that NOTIFY and the holder fills after
   * (`again`) — but a fill that must happen (the owner's NOTIFY, a run's batch, the sweeper, a
   * CPS wake-up) tries again shortly. It never *waits* on the lock: a blocked claim holds a
   * pooled connection, and with 3 worker processes such waits (19–45 ms each, hundreds of them)
   * exhausted the pools and halved calls/s (docs/SCALING.md). The holder's transaction lasts a
   * few ms; after LOCKED_RETRY_LIMIT tries the sweeper and the run's poll remain. The jitter
   * keeps two processes that found the same holder from retrying in step. The count starts
   * over on any other outcome of a round (CPS-busy included).
   */
  #retryLocked(businessId: number): void {
    const tries = (this.#lockedTries.get(businessId) ?? 0) + 1;
    if (tries > LOCKED_RETRY_LIMIT || this.#stopped) {
      this.#lockedTries.delete(businessId);
      return;
    }
    this.#lockedTries.set(businessId, tries);
    const cancel = this.#timers.after(LOCKED_RETRY_MS + this.#random() * LOCKED_RETRY_MS, () => {
      this.#retryTimers.delete(cancel);
      this.request(businessId);
    });
    this.#retryTimers.add(cancel);
  }

  /**
   * Businesses waiting for CPS budget wake in FIFO order, a tenth of a second's budget of them per
   * wake-up (each claims at least one call) — not all at once, which would cost one refused claim
   * transaction each; the claims keep the reserved backlog near the lookahead (dialer.ts), so the
   * budget never idles while anyone waits.
   */
  #waitForCps(businessId: number, retryInMs: number): void {
    this.#cpsWaiting.add(businessId);
    if (!this.#cpsTimer) this.#armCpsTimer(retryInMs);
  }

  #armCpsTimer(ms: number): void {
    if (this.#stopped) return;
    this.#cpsTimer = this.#timers.after(Math.max(1, ms), () => {
      this.#cpsTimer = null;
      let n = Math.max(1, Math.ceil(this.#o.cps * 0.1));
      for (const businessId of this.#cpsWaiting) {
        if (n-- <= 0) break;
        this.#cpsWaiting.delete(businessId);
        this.request(businessId);
      }
      if (this.#cpsWaiting.size > 0) this.#armCpsTimer(Math.max(CPS_REWAKE_MS, 1000 / this.#o.cps));
    });
  }
}
