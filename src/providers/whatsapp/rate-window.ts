/**
 * The simulator's throughput rule: at most `limit` accepted messages in any window of
 * `windowMs` (a sliding window, stricter than per-calendar-second counters: a sender that
 * bursts at a second boundary is refused, as a careful reading of "N messages per second"
 * allows the real API to do). Timestamps are kept in a ring, so a check is O(1).
 */
export class SlidingWindow {
  readonly #times: Float64Array;
  #head = 0;
  #count = 0;

  constructor(readonly limit: number, readonly windowMs = 1_000) {
    this.#times = new Float64Array(Math.max(1, limit));
  }

  /** Takes a place at `now` (ms) when there is one. */
  tryAcquire(now: number): boolean {
    if (this.#count < this.#times.length) {
      this.#times[(this.#head + this.#count) % this.#times.length] = now;
      this.#count += 1;
      return true;
    }
    const oldest = this.#times[this.#head] ?? 0;
    if (now - oldest < this.windowMs) return false;
    this.#times[this.#head] = now;
    this.#head = (this.#head + 1) % this.#times.length;
    return true;
  }
}
