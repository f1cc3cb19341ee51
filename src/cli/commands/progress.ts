import { isTerminal, type Job } from '../api-client.js';

/**
 * Items per second over a sliding window of samples. A window (not the average since the start)
 * so the rate and ETA follow a job that was paused, or that shares the workers with others.
 */
export class RateMeter {
  private readonly samples: { at: number; processed: number }[] = [];

  constructor(private readonly windowMs = 10_000) {}

  sample(processed: number, at: number): void {
    const last = this.samples.at(-1);
    // A job picked up again from its checkpoint may report less than before: start over.
    if (last && processed < last.processed) this.samples.length = 0;
    this.samples.push({ at, processed });
    while (this.samples.length > 2 && (this.samples[0]?.at ?? at) < at - this.windowMs) this.samples.shift();
  }

  /** Items per second, or null until two samples at least 200 ms apart exist. */
  rate(now: number): number | null {
    const first = this.samples[0];
    const last = this.samples.at(-1);
    if (!first || !last || last.at - first.at < 200) return null;
    // Past the last sample the job made no progress we know of: the rate decays with time.
    return ((last.processed - first.processed) * 1000) / (Math.max(now, last.at) - first.at);
  }
}

/** An ended job's average rate from its own timestamps (the window may hold a single sample). */
export function averageRate(job: Pick<Job, 'processed' | 'started_at' | 'finished_at'>): number | null {
  if (!job.started_at || !job.finished_at) return null;
  const seconds = (Date.parse(job.finished_at) - Date.parse(job.started_at)) / 1000;
  return seconds > 0 ? job.processed / seconds : null;
}

export function formatDuration(seconds: number): string {
  const s = Math.max(0, Math.round(seconds));
  if (s < 60) return `${s}s`;
  if (s < 3600) return `${Math.floor(s / 60)}m${String(s % 60).padStart(2, '0')}s`;
  return `${Math.floor(s / 3600)}h${String(Math.floor((s % 3600) / 60)).padStart(2, '0')}m`;
}

function formatRate(perSecond: number | null): string {
  if (perSecond === null) return '–/s';
  return perSecond >= 100 ? `${Math.round(perSecond)}/s` : `${perSecond.toFixed(1)}/s`;
}

/** Seconds left at `rate`, or null when it cannot be known (no rate yet, not running). */
export function etaSeconds(job: Pick<Job, 'status' | 'total' | 'processed'>, rate: number | null): number | null {
  if (job.status === 'completed') return 0;
  if (job.status !== 'running' || rate === null || rate <= 0 || job.total <= 0) return null;
  return Math.max(0, job.total - job.processed) / rate;
}

export interface BarStyle {
  width: number;
  full: string;
  empty: string;
}

const TTY_BAR: BarStyle = { width: 30, full: '█', empty: '░' };
export const PLAIN_BAR: BarStyle = { width: 20, full: '#', empty: '-' };

/**
 * What a job not yet at its batch boundary was asked to do: `cancel` (wins over a pause),
 * `pause` (it stays running until the boundary), or nothing.
 */
export function requestOf(job: Pick<Job, 'status' | 'cancel_requested' | 'pause_requested'>): 'cancel' | 'pause' | null {
  if (isTerminal(job.status)) return null;
  if (job.cancel_requested) return 'cancel';
  return job.pause_requested && job.status === 'running' ? 'pause' : null;
}

/**
 * One line: `job 12 delete_leads_bulk [#####-----] 52% 104/200 38.2/s ETA 3s running`.
 * Pure, so the look is tested without a terminal.
 */
export function progressLine(job: Job, rate: number | null, style: BarStyle): string {
  const fraction = Math.min(1, Math.max(0, job.total > 0 ? job.processed / job.total : job.status === 'completed' ? 1 : 0));
  const filled = Math.round(fraction * style.width);
  const bar = style.full.repeat(filled) + style.empty.repeat(style.width - filled);
  const percent = `${Math.floor(fraction * 100)}%`.padStart(4);
  const eta = etaSeconds(job, rate);
  const status = `${job.status}${requestOf(job) ? ` (${requestOf(job)} requested)` : ''}`;
  return [
    `job ${job.id} ${job.type}`,
    `[${bar}]`,
    percent,
    `${job.processed}/${job.total}`,
    formatRate(rate),
    `ETA ${eta === null ? '?' : formatDuration(eta)}`,
    status,
  ].join('  ');
}

export interface ProgressOutput {
  write(text: string): unknown;
  isTTY?: boolean;
  columns?: number;
}

/**
 * Draws a job's progress on stderr: one line redrawn in place with `\r` on a terminal; plain
 * lines otherwise (on each status change and at most every `intervalMs`), so a CI log or a
 * pipe gets a readable history instead of control characters.
 */
export class ProgressReporter {
  private readonly meter = new RateMeter();
  private last: Job | null = null;
  private lastStatus: string | null = null;
  private lastPrintAt = 0;
  private ticker: NodeJS.Timeout | null = null;
  private drawn = false;

  constructor(
    private readonly out: ProgressOutput,
    private readonly opts: { intervalMs?: number; now?: () => number } = {},
  ) {}

  private get tty(): boolean {
    return this.out.isTTY === true;
  }

  private now(): number {
    return (this.opts.now ?? Date.now)();
  }

  update(job: Job): void {
    const now = this.now();
    this.meter.sample(job.processed, now);
    this.last = job;
    const statusKey = `${job.status}+${requestOf(job) ?? ''}`;
    const changed = statusKey !== this.lastStatus;
    this.lastStatus = statusKey;
    if (this.tty) {
      this.draw();
      // Redraw each second so the rate and ETA stay honest while no event arrives.
      this.ticker ??= setInterval(() => this.draw(), 1000).unref();
    } else if (changed || now - this.lastPrintAt >= (this.opts.intervalMs ?? 2000)) {
      this.lastPrintAt = now;
      this.out.write(`${progressLine(job, this.rate(job, now), PLAIN_BAR)}\n`);
    }
  }

  /** Leaves the terminal on a fresh line (the bar stays visible above it). */
  stop(): void {
    if (this.ticker) clearInterval(this.ticker);
    this.ticker = null;
    if (this.tty && this.drawn) this.out.write('\n');
    this.drawn = false;
  }

  private rate(job: Job, now: number): number | null {
    return (isTerminal(job.status) ? averageRate(job) : null) ?? this.meter.rate(now);
  }

  private draw(): void {
    if (!this.last) return;
    let line = progressLine(this.last, this.rate(this.last, this.now()), TTY_BAR);
    const columns = this.out.columns ?? 0;
    if (columns > 0 && line.length >= columns) line = line.slice(0, columns - 1);
    this.out.write(`\r\x1b[2K${line}`);
    this.drawn = true;
  }
}
