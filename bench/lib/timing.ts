import { setTimeout as sleep } from 'node:timers/promises';

export { sleep };

/** Milliseconds since `start` (a performance.now() value). */
export function since(start: number): number {
  return performance.now() - start;
}

export interface WaitOptions {
  what: string;
  intervalMs?: number;
  timeoutMs: number;
}

/**
 * Polls `check` until it is true and returns how many polls it took (callers that count the
 * server's transactions subtract them). The poll interval bounds the timing resolution.
 */
export async function pollUntil(check: () => Promise<boolean>, opts: WaitOptions): Promise<number> {
  const deadline = performance.now() + opts.timeoutMs;
  for (let polls = 1; ; polls++) {
    if (await check()) return polls;
    if (performance.now() > deadline) throw new Error(`timed out after ${opts.timeoutMs} ms waiting for ${opts.what}`);
    await sleep(opts.intervalMs ?? 25);
  }
}

export function seconds(ms: number): string {
  return `${(ms / 1000).toFixed(2)} s`;
}

export function perSecond(count: number, ms: number): number {
  return ms > 0 ? (count * 1000) / ms : 0;
}

export function formatInt(n: number): string {
  return Math.round(n).toLocaleString('en-US');
}

export function ratio(n: number): string {
  return `${n.toFixed(2)}×`;
}
