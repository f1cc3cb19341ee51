import { randomBytes } from 'node:crypto';
import { hostname } from 'node:os';
import type pg from 'pg';
import type { WorkerConfig } from '../config/config.js';
import { sleep } from '../lib/abortable.js';
import { backoffMs } from '../lib/backoff.js';
import { LostClaimError, PermanentError, publicErrorText } from '../lib/errors.js';
import type { Logger } from '../lib/logger.js';
import { PeriodicTask } from '../lib/periodic-task.js';
import { isRetryablePgError } from '../db/pool.js';
import { PgListener } from './listener.js';
import { BatchSizer, pauseBetweenBatches, PressureGauge } from './batch-pacing.js';
import { openOnFirstStatement } from './batch-tx.js';
import { ClaimAhead, MAX_WAIT_MS } from './claim-ahead.js';
import { Completions, type SettledRow } from './completions.js';
import type { JobMetrics } from './metrics.js';
import type { HandlerRegistry } from './registry.js';
import { commitBatch } from './sql/batch.js';
import { claimJobs, claimJobsOfOneBusiness, nextDueIn, waitingPriority } from './sql/claim.js';
import { businessesAtShare, FairShareCheck, mayOweSlot, shareSlots, shouldYield, slotsByBusiness, type YieldState } from './fair-share.js';
import { heartbeat, markWorkerStopped, pruneWorkers, registerWorker, rescueStaleJobs } from './sql/liveness.js';
import { recordBatchFailure, releaseJob } from './sql/release.js';
import type { BatchHandler, BatchResult, ClaimedJob, JobStatus } from './types.js';

export interface WorkerDeps {
  pool: pg.Pool;
  databaseUrl: string;
  registry: HandlerRegistry;
  config: WorkerConfig;
  log: Logger;
  metrics?: JobMetrics;
  /** Sees every committed batch (tests, diagnostics). */
  onBatch?: (b: BatchReport) => void;
}

export interface BatchReport {
  jobId: number;
  type: string;
  size: number;
  processed: number;
  ms: number;
}

type BatchOutcome = ({ kind: 'continue' } | { kind: 'stop' } | { kind: 'snooze'; ms: number }) & { processed: number };

const PROGRESS_LOG_EVERY_MS = 5_000;
/** Finished jobs waiting to be settled beyond which a finished job keeps its slot until it is. */
const SETTLING_MOST = 500;
/** The first batch of an adaptive job (JOB_BATCH_SIZE unset): the old fixed default. */
const DEFAULT_BATCH_SIZE = 50;
/**
 * "Does another business wait for a slot?" is asked at most this often per worker, and only at a
 * batch boundary of a full worker whose job's business holds more than its share; a NOTIFY that
 * a job was queued makes the next boundary ask (after the minimum), FAIR_CHECK_MAX_AGE_MS covers
 * jobs that become due without one (a retry, a snooze). The minimum bounds the cost when queueing
 * is busy; the latency it adds to a waiting business stays under one batch (JOB_BATCH_TARGET_MS).
 */
const FAIR_CHECK_MIN_AGE_MS = 100;
const FAIR_CHECK_MAX_AGE_MS = 1_000;

/**
 * A worker process's job runner. The producer loop claims only as many jobs as it has free
 * slots, wakes on NOTIFY (polling is the fallback), and runs each job batch by batch; the engine
 * owns looping, heartbeats, pause/cancel, checkpoints and retries, handlers only do one batch.
 */
export class Worker {
  readonly id = `${hostname()}:${process.pid}:${randomBytes(4).toString('hex')}`;
  readonly #deps: WorkerDeps;
  readonly #log: Logger;
  readonly #active = new Map<number, Promise<void>>();
  /** Slot accounting: the jobs of #active that hold a slot (not those whose last batch only waits to be settled). */
  readonly #slots = new Set<number>();
  /** Fair share's view: the jobs of #slots not already handing their slot to another business (#owesSlot). */
  readonly #held = new Map<number, ClaimedJob>();
  /** Jobs claimed ahead (claim-ahead.ts), in claim order, each with the time it was claimed. */
  #ahead: Array<{ job: ClaimedJob; at: number }> = [];
  readonly #claimAhead: ClaimAhead;
  readonly #completions: Completions;
  readonly #shareSlots: number;
  readonly #fairCheck: FairShareCheck;
  /** The last claim saw more than one business with queued jobs: the next one is the fair claim. */
  #severalBusinesses = false;
  readonly #stopping = new AbortController();
  readonly #gauge: PressureGauge;
  #wake: (() => void) | null = null;
  /**
   * A notify() that came while the producer was not waiting (it was claiming, or starting jobs):
   * the next wait returns at once. Without it, slots freed by a burst of jobs ending together
   * (their batches settled by one statement) stayed idle until the poll.
   */
  #woken = false;
  #listener: PgListener | null = null;
  #loop: Promise<void> | null = null;
  #heartbeat: PeriodicTask | null = null;
  #stopped: Promise<void> | null = null;

  constructor(deps: WorkerDeps) {
    this.#deps = deps;
    this.#log = deps.log.child({ workerId: this.id });
    this.#gauge = new PressureGauge(deps.pool);
    this.#shareSlots = shareSlots(deps.config.concurrency, deps.config.businessShare);
    this.#claimAhead = new ClaimAhead(deps.config.concurrency, deps.config.claimAhead);
    this.#completions = new Completions(deps.pool, this.id);
    this.#fairCheck = new FairShareCheck(
      async (excluded) => (await deps.pool.query<{ priority: number | null }>(waitingPriority(deps.config.queues, excluded))).rows[0]?.priority ?? null,
      { minAgeMs: FAIR_CHECK_MIN_AGE_MS, maxAgeMs: FAIR_CHECK_MAX_AGE_MS },
    );
  }

  get activeJobs(): number {
    return this.#active.size;
  }

  async start(): Promise<void> {
    const { pool, config } = this.#deps;
    await pool.query(registerWorker(this.id, hostname(), process.pid, config.queues));
    this.#listener = new PgListener({
      url: this.#deps.databaseUrl,
      channels: ['bulkhead_queue'],
      log: this.#log,
      onNotify: (_channel, queue) => {
        if (!config.queues.includes(queue)) return;
        this.#fairCheck.invalidate();
        this.notify();
      },
      onReconnect: () => this.notify(),
    });
    await this.#listener.start();
    // A beat that outlasts the interval (a slow database) makes the next one skip, not pile up.
    this.#heartbeat = new PeriodicTask({ name: 'heartbeat', everyMs: config.heartbeatMs, log: this.#log, run: () => this.#beat() });
    this.#heartbeat.start();
    this.#loop = this.#produce();
    this.#log.info({ queues: config.queues, concurrency: config.concurrency }, 'worker started');
  }

  /** Skip the wait: there may be work. */
  notify(): void {
    if (this.#wake) this.#wake();
    else this.#woken = true;
  }

  async #produce(): Promise<void> {
    const { config } = this.#deps;
    let failures = 0;
    while (!this.#stopping.signal.aborted) {
      this.#woken = false; // this turn reads the state anew
      let waitMs = config.pollMs;
      let free = config.concurrency - this.#slots.size;
      try {
        await this.#handBackStale();
        const next = this.#ahead.splice(0, Math.max(free, 0));
        for (const { job } of next) this.#startJob(job);
        free -= next.length;
        if (this.#ahead.length > 0) waitMs = Math.min(waitMs, MAX_WAIT_MS);
        // Jobs claimed ahead are topped up once half are gone, while the slots run the rest: the
        // slots should not wait for the claim that refills them.
        const ahead = this.#claimAhead.size;
        const wanted = free + Math.max(0, ahead - this.#ahead.length);
        if (free > 0 || (wanted > 0 && this.#ahead.length <= ahead / 2)) {
          const jobs = await this.#claim(wanted);
          for (const job of jobs.slice(0, free)) this.#startJob(job);
          const at = Date.now();
          for (const job of jobs.slice(free)) this.#ahead.push({ job, at });
          if (jobs.length === wanted) continue; // maybe more; slots permitting, claim again at once
          const due = await this.#deps.pool.query<{ ms: number | null }>(nextDueIn(config.queues));
          const ms = due.rows[0]?.ms;
          if (ms !== null && ms !== undefined) waitMs = Math.max(5, Math.min(waitMs, Math.ceil(ms)));
        }
        failures = 0;
      } catch (err) {
        failures += 1;
        waitMs = backoffMs(failures, 200, 5_000);
        this.#log.warn({ err, retryInMs: waitMs }, 'claiming jobs failed');
      }
      await this.#waitForWork(waitMs);
    }
  }

  #waitForWork(ms: number): Promise<void> {
    if (this.#woken) return Promise.resolve();
    return new Promise((resolve) => {
      const done = () => {
        clearTimeout(timer);
        this.#wake = null;
        this.#stopping.signal.removeEventListener('abort', done);
        resolve();
      };
      const timer = setTimeout(done, ms);
      this.#wake = done;
      this.#stopping.signal.addEventListener('abort', done, { once: true });
    });
  }

  /**
   * One claim statement per call while the picture holds: claimJobsOfOneBusiness while one
   * business has queued jobs (the old single-index claim), claimJobs (fair between businesses)
   * while several have. Each reports how many businesses have queued jobs; the one-business claim
   * claims nothing when that is more than one, and the fair claim follows at once.
   */
  async #claim(limit: number): Promise<ClaimedJob[]> {
    const { pool, config } = this.#deps;
    type Row = { queued_businesses: number } & (ClaimedJob & { targets: (number | string)[] | null } | { id: null });
    let { rows } = await pool.query<Row>(
      this.#severalBusinesses ? this.#fairClaim(limit) : claimJobsOfOneBusiness(this.id, config.queues, limit),
    );
    if (!this.#severalBusinesses && (rows[0]?.queued_businesses ?? 0) > 1) {
      ({ rows } = await pool.query<Row>(this.#fairClaim(limit)));
    }
    this.#severalBusinesses = (rows[0]?.queued_businesses ?? 0) > 1;
    const claimed = rows.flatMap(({ queued_businesses: _, ...r }) => (r.id === null ? [] : [{ ...r, targets: r.targets ? r.targets.map(Number) : null }]));
    // What waits has changed: a cached "someone waits" may be this very claim's jobs.
    if (claimed.length > 0) this.#fairCheck.forget();
    return claimed;
  }

  #fairClaim(limit: number) {
    const heldBusinesses = [...this.#held.values()].map((j) => j.business_id);
    return claimJobs(this.id, this.#deps.config.queues, limit, { heldBusinesses, shareSlots: this.#shareSlots });
  }

  /**
   * Jobs claimed ahead that have waited MAX_WAIT_MS for a slot go back to the queue (the worker's
   * jobs turned out slower than the claim expected); while stopping, all of them.
   */
  async #handBackStale(): Promise<void> {
    const oldest = this.#stopping.signal.aborted ? Infinity : Date.now() - MAX_WAIT_MS;
    const stale = this.#ahead.filter((a) => a.at <= oldest);
    if (stale.length === 0) return;
    this.#ahead = this.#ahead.filter((a) => a.at > oldest);
    await Promise.all(stale.map(({ job }) => this.#release(job, 0, this.#log.child({ jobId: job.id, businessId: job.business_id, type: job.type }), 'claimed ahead, no slot came free')));
  }

  #startJob(job: ClaimedJob): void {
    const started = Date.now();
    const freeSlot = () => {
      if (!this.#slots.delete(job.id)) return;
      this.#claimAhead.observe(Date.now() - started);
      this.#held.delete(job.id);
      this.notify();
    };
    this.#held.set(job.id, job);
    this.#slots.add(job.id);
    const run = this.#runJob(job, freeSlot)
      .catch((err) => this.#log.error({ err, jobId: job.id }, 'job runner crashed'))
      .finally(() => {
        freeSlot();
        this.#active.delete(job.id);
      });
    this.#active.set(job.id, run);
  }

  async #runJob(job: ClaimedJob, freeSlot: () => void): Promise<void> {
    const { config, registry, metrics } = this.#deps;
    const log = this.#log.child({ jobId: job.id, businessId: job.business_id, type: job.type });
    const handler = registry.get(job.type);
    if (!handler) {
      await this.#fail(job, `no handler registered for job type ${job.type}`, true, log);
      return;
    }
    const params = handler.params.safeParse(job.params);
    if (!params.success) {
      await this.#fail(job, `${job.type} params are invalid: ${params.error.message}`, true, log);
      return;
    }
    const sliceEnds = Date.now() + config.runtimeSliceMs;
    const sizer = config.batch.fixedSize === null ? new BatchSizer(config.batch) : null;
    let lastProgressLog = 0;
    let batches = 0;
    log.info({ event: 'JOB_START', attempt: job.attempts, processed: job.processed, total: job.total }, 'JOB_START');
    for (;;) {
      if (this.#stopping.signal.aborted || Date.now() >= sliceEnds) {
        const reason = this.#stopping.signal.aborted ? 'worker stopping' : 'runtime slice over';
        await this.#release(job, 0, log, reason);
        return;
      }
      if (batches > 0 && (await this.#owesSlot(job, log))) {
        await this.#release(job, 0, log, 'fair share: another business waits');
        return;
      }
      batches += 1;
      const started = process.hrtime.bigint();
      const size = config.batch.fixedSize ?? sizer?.size ?? DEFAULT_BATCH_SIZE;
      let outcome: BatchOutcome;
      try {
        outcome = await this.#runBatch(job, params.data, handler.batch, size, log, freeSlot);
        const seconds = Number(process.hrtime.bigint() - started) / 1e9;
        metrics?.batchSeconds.observe({ type: job.type, outcome: 'ok' }, seconds);
        sizer?.observe(outcome.processed, seconds * 1000);
        this.#deps.onBatch?.({ jobId: job.id, type: job.type, size, processed: outcome.processed, ms: seconds * 1000 });
      } catch (err) {
        metrics?.batchSeconds.observe({ type: job.type, outcome: 'error' }, Number(process.hrtime.bigint() - started) / 1e9);
        if (err instanceof LostClaimError) {
          log.warn({ event: 'JOB_LOST' }, 'claim lost (the job was rescued from this worker); batch rolled back');
          return;
        }
        const permanent = err instanceof PermanentError;
        const { text, errorId } = publicErrorText(err);
        // The raw error (database text included) stays in the log, under the id the client sees.
        if (errorId !== null) log.warn({ err, errorId }, 'batch failed with an internal error');
        await this.#fail(job, text, permanent, log);
        return;
      }
      if (outcome.kind === 'stop') return;
      if (outcome.kind === 'snooze') {
        await this.#release(job, outcome.ms, log, 'snoozed');
        return;
      }
      if (Date.now() - lastProgressLog >= PROGRESS_LOG_EVERY_MS) {
        lastProgressLog = Date.now();
        log.info({ event: 'JOB_PROGRESS', processed: job.processed, total: job.total, batchSize: size }, 'JOB_PROGRESS');
      }
      const signal = this.#stopping.signal;
      if (handler.batchPauseMs !== undefined) {
        if (handler.batchPauseMs > 0) await sleep(handler.batchPauseMs, signal);
      } else {
        await pauseBetweenBatches(config.batch, this.#gauge, (ms) => sleep(ms, signal), signal);
      }
    }
  }

  /**
   * At a batch boundary: this job hands its slot back when the worker is full, its business holds
   * more than its share, and a business under its share has a due job of at least this priority
   * (fair-share.ts). The slot stops counting for the business before the next await, so of a
   * business's jobs reaching boundaries together only as many yield as it is over its share.
   */
  async #owesSlot(job: ClaimedJob, log: Logger): Promise<boolean> {
    const state = (): YieldState => ({
      concurrency: this.#deps.config.concurrency,
      counts: slotsByBusiness([...this.#held.values()].map((j) => j.business_id)),
      businessId: job.business_id,
      priority: job.priority,
      slots: this.#shareSlots,
    });
    const before = state();
    if (!mayOweSlot(before)) return false;
    let waiting: number | null;
    try {
      waiting = await this.#fairCheck.waitingPriority(businessesAtShare(before.counts, before.slots));
    } catch (err) {
      log.warn({ err }, 'could not check for waiting businesses; the job keeps its slot');
      return false;
    }
    if (!shouldYield(state(), waiting)) return false;
    this.#held.delete(job.id);
    return true;
  }

  /**
   * One batch: handler, then progress + checkpoint + fence in one UPDATE, in the transaction the
   * handler's first statement opened (batch-tx.ts). A batch that made no statement has nothing to
   * commit with its progress: its job row is settled with others' (completions.ts).
   */
  async #runBatch(job: ClaimedJob, params: unknown, batch: BatchHandler, batchSize: number, log: Logger, freeSlot: () => void): Promise<BatchOutcome> {
    const lazy = openOnFirstStatement(this.#deps.pool);
    let broken = false;
    let result: BatchResult;
    let after: SettledRow | null | undefined;
    try {
      result = await batch({ tx: lazy.tx, job, params, checkpoint: job.checkpoint, batchSize, log, signal: this.#stopping.signal });
      const client = lazy.client;
      if (client) {
        after = (await client.query<SettledRow>(commitBatch(job.id, this.id, job.attempts, result))).rows[0];
        if (!after) throw new LostClaimError(`job ${job.id} is no longer held by ${this.id}`);
        await client.query('COMMIT');
      }
    } catch (err) {
      await lazy.client?.query('ROLLBACK').catch(() => (broken = true));
      throw err;
    } finally {
      lazy.release(broken);
    }
    if (after === undefined) {
      // The job's last batch only waits to be settled: its slot can start the next job meanwhile
      // (graphile-worker's batched completion does the same), unless settles are piling up.
      if (result.done && this.#active.size - this.#slots.size < SETTLING_MOST) freeSlot();
      after = await this.#completions.settle({ jobId: job.id, attempt: job.attempts, result });
    }
    if (!after) throw new LostClaimError(`job ${job.id} is no longer held by ${this.id}`);
    Object.assign(job, after, { checkpoint: result.checkpoint ?? null });
    const processed = result.processed;
    switch (after.status) {
      case 'completed':
      case 'cancelled':
        this.#logDone(log, job, after.status);
        return { kind: 'stop', processed };
      case 'paused':
        log.info({ event: 'JOB_PAUSED', processed: job.processed }, 'JOB_PAUSED');
        return { kind: 'stop', processed };
      default:
        return result.snoozeMs !== undefined ? { kind: 'snooze', ms: result.snoozeMs, processed } : { kind: 'continue', processed };
    }
  }

  async #release(job: ClaimedJob, delayMs: number, log: Logger, reason: string): Promise<void> {
    try {
      const { rows } = await this.#handBack(() => this.#deps.pool.query<{ status: JobStatus }>(releaseJob(job.id, this.id, job.attempts, delayMs)), log);
      const status = rows[0]?.status;
      if (status === 'cancelled') this.#logDone(log, job, 'cancelled');
      else log.info({ event: 'JOB_RELEASED', reason, status, processed: job.processed }, 'JOB_RELEASED');
    } catch (err) {
      // The rescuer hands it back once our heartbeat is gone; nothing is lost meanwhile.
      log.warn({ err }, 'could not release job; the rescuer will');
    }
  }

  async #fail(job: ClaimedJob, message: string, permanent: boolean, log: Logger): Promise<void> {
    const { config, pool } = this.#deps;
    const retryInMs = backoffMs(job.consecutive_failures + 1, config.retryBaseMs);
    try {
      const { rows } = await this.#handBack(() => pool.query<{ status: JobStatus; consecutive_failures: number }>(
        recordBatchFailure(job.id, this.id, job.attempts, message, permanent, config.maxConsecutiveFailures, retryInMs),
      ), log);
      const row = rows[0];
      if (!row) return;
      job.consecutive_failures = row.consecutive_failures;
      if (row.status === 'failed' || row.status === 'cancelled') {
        this.#logDone(log, job, row.status, message);
      } else if (row.status === 'paused') {
        log.info({ event: 'JOB_PAUSED', processed: job.processed, error: message }, 'JOB_PAUSED (the failed batch will be retried on resume)');
      } else {
        log.warn({ event: 'JOB_RETRY', error: message, retryInMs, consecutiveFailures: row.consecutive_failures }, 'batch failed; will retry');
      }
    } catch (err) {
      log.warn({ err, original: message, transient: isRetryablePgError(err) }, 'could not record batch failure; the rescuer will hand the job back');
    }
  }

  /**
   * Runs the statement that hands a job back (release, batch failure) until it goes through.
   * The rescuer only takes jobs of *silent* workers: a live worker that gave up on this write
   * (the database restarting) would keep heartbeating a job nobody runs, forever — the chaos
   * suite's PostgreSQL restart left jobs `running` that way. While stopping, give up: the stop
   * marks the worker stopped (or it goes silent), and the rescuer hands the job on.
   */
  async #handBack<T>(write: () => Promise<T>, log: Logger): Promise<T> {
    for (let attempt = 1; ; attempt++) {
      try {
        return await write();
      } catch (err) {
        if (!isRetryablePgError(err) || this.#stopping.signal.aborted) throw err;
        const waitMs = backoffMs(attempt, 200, 5_000);
        log.warn({ err, retryInMs: waitMs }, 'could not hand the job back yet (database unavailable); retrying');
        await sleep(waitMs, this.#stopping.signal);
      }
    }
  }

  #logDone(log: Logger, job: ClaimedJob, status: JobStatus, error?: string): void {
    this.#deps.metrics?.jobsFinished.inc({ type: job.type, status });
    log.info(
      { event: 'JOB_DONE', status, processed: job.processed, succeeded: job.succeeded, failed: job.failed, total: job.total, error },
      'JOB_DONE',
    );
  }

  async #beat(): Promise<void> {
    const { pool, config } = this.#deps;
    try {
      const { rows } = await pool.query<{ alive: number }>(heartbeat(this.id));
      if (rows[0]?.alive === 0 && !this.#stopping.signal.aborted) {
        // Our row was pruned (we were silent for long): re-register. Any job we held was
        // rescued and its fence has moved on, so our in-flight batches cannot commit.
        await pool.query(registerWorker(this.id, hostname(), process.pid, config.queues));
      }
      const rescued = await pool.query<{ id: number; type: string; business_id: number; status: JobStatus }>(
        rescueStaleJobs(config.staleMs),
      );
      for (const r of rescued.rows) {
        this.#log.warn({ event: 'JOB_RESCUED', jobId: r.id, type: r.type, businessId: r.business_id, status: r.status }, 'JOB_RESCUED');
      }
      if (rescued.rows.length > 0) this.notify();
      if (Math.random() < 0.01) await pool.query(pruneWorkers());
    } catch (err) {
      this.#log.warn({ err }, 'heartbeat failed');
    }
  }

  /**
   * Stops claiming, lets each running job finish its current batch and hands it back to the
   * queue at once (so another worker continues it without waiting for staleness). Idempotent.
   * A batch still running after timeoutMs is left behind: its job goes back to the queue when
   * the rescuer finds this worker silent, and its fence keeps it from committing after that.
   */
  stop({ timeoutMs = 30_000 }: { timeoutMs?: number } = {}): Promise<void> {
    this.#stopped ??= (async () => {
      this.#stopping.abort();
      this.notify();
      await this.#loop;
      await this.#handBackStale();
      let timer: NodeJS.Timeout | undefined;
      const late = new Promise<'late'>((resolve) => (timer = setTimeout(() => resolve('late'), timeoutMs)));
      const outcome = await Promise.race([Promise.allSettled(this.#active.values()).then(() => 'done' as const), late]);
      clearTimeout(timer);
      if (outcome === 'late') this.#log.warn({ jobs: [...this.#active.keys()], timeoutMs }, 'jobs still running at the stop deadline; the rescuer will hand them on');
      await this.#heartbeat?.stop({ timeoutMs: 5_000 });
      await this.#listener?.stop();
      await this.#deps.pool.query(markWorkerStopped(this.id)).catch(() => undefined);
      this.#log.info('worker stopped');
    })();
    return this.#stopped;
  }
}
