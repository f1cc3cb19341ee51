/**
 * Exponential backoff with full jitter, capped. `attempt` counts from 1.
 * Full jitter (AWS architecture blog, "Exponential Backoff And Jitter") spreads retries of
 * many jobs that failed together better than equal or decorrelated jitter.
 */
export function backoffMs(attempt: number, baseMs = 1_000, capMs = 60_000, random = Math.random): number {
  const ceiling = Math.min(capMs, baseMs * 2 ** Math.max(0, attempt - 1));
  return Math.round(ceiling / 2 + (random() * ceiling) / 2);
}
