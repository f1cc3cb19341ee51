import type { Logger } from './logger.js';

export interface PeriodicTaskOptions {
  /** For logs: what the task does ("dialer sweep", "retention"). */
  name: string;
  everyMs: number;
  /** One run. It gets a signal that aborts when the task is stopped. */
  run: (signal: AbortSignal) => Promise<unknown>;
  log: Logger;
  /** Run once at start instead of after the first interval. Default false. */
  runAtStart?: boolean;
}

/**
 * A timer that runs an async task every `everyMs`, never two runs at once (a run that outlasts
 * the interval makes the next tick skip, not overlap), logs a failed run instead of crashing the
 * process, and stops within a deadline: `stop({ timeoutMs })` aborts the signal, waits for the run
 * in flight at most that long, and is idempotent (River's startstop.Service contract).
 *
 * Why not setInterval directly: every part that had one grew its own "already running?" flag and
 * a stop that either did not wait for the run in flight or waited for it without a bound.
 */
export class PeriodicTask {
  readonly #opts: PeriodicTaskOptions;
  readonly #abort = new AbortController();
  #timer: NodeJS.Timeout | null = null;
  #running: Promise<void> | null = null;
  #started = false;

  constructor(opts: PeriodicTaskOptions) {
    if (!(opts.everyMs > 0)) throw new RangeError(`${opts.name}: everyMs must be > 0`);
    this.#opts = opts;
  }

  /** True while a run is in flight. */
  get busy(): boolean {
    return this.#running !== null;
  }

  start(): void {
    if (this.#started || this.#abort.signal.aborted) return;
    this.#started = true;
    this.#timer = setInterval(() => void this.runNow(), this.#opts.everyMs);
    this.#timer.unref();
    if (this.#opts.runAtStart) void this.runNow();
  }

  /**
   * Runs now unless a run is in flight (then resolves when that one ends). Resolves, never
   * rejects: a failure is logged and the next tick tries again.
   */
  runNow(): Promise<void> {
    if (this.#abort.signal.aborted) return Promise.resolve();
    this.#running ??= (async () => {
      try {
        await this.#opts.run(this.#abort.signal);
      } catch (err) {
        if (!this.#abort.signal.aborted) this.#opts.log.warn({ err, task: this.#opts.name }, `${this.#opts.name} failed`);
      } finally {
        this.#running = null;
      }
    })();
    return this.#running;
  }

  /** Idempotent. Resolves once the run in flight ended, or after timeoutMs, whichever is first. */
  async stop({ timeoutMs = 10_000 }: { timeoutMs?: number } = {}): Promise<void> {
    if (this.#timer) clearInterval(this.#timer);
    this.#timer = null;
    this.#abort.abort();
    const running = this.#running;
    if (!running) return;
    let timer: NodeJS.Timeout | undefined;
    const late = new Promise<'late'>((resolve) => {
      timer = setTimeout(() => resolve('late'), timeoutMs);
      timer.unref();
    });
    const outcome = await Promise.race([running.then(() => 'done' as const), late]);
    clearTimeout(timer);
    if (outcome === 'late') this.#opts.log.warn({ task: this.#opts.name, timeoutMs }, `${this.#opts.name} did not stop in time; left behind`);
  }
}
