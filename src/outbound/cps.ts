import type { Queryable } from '../db/pool.js';

/**
 * The account's calls-per-second budget, shared by every process through one row (GCRA, the
 * "virtual scheduling" form of a token bucket): `next_at` is the earliest instant the next call
 * may start. Reserving n calls moves it forward by n/cps in ONE autocommit UPDATE, so two
 * processes can never hand out the same instant, and returns each call's start offset.
 *
 * Alternatives considered: a per-process limiter (cps / processes) wastes budget whenever the
 * processes are unevenly loaded; an advisory lock + "last dial" timestamps needs a transaction
 * per dial and a second round trip. A burst allowance is deliberately absent: Twilio counts
 * calls per second strictly and queues (or rejects) the excess.
 */
export interface CpsLimiter {
  readonly cps: number;
  /** Reserves n start instants; resolves with each one's delay from now in ms (ascending). */
  reserve(n: number): Promise<number[]>;
}

export function createCpsLimiter(db: Queryable, cps: number): CpsLimiter {
  const intervalMs = 1000 / cps;
  return {
    cps,
    async reserve(n) {
      if (n <= 0) return [];
      // Always in autocommit: the row is every process's, and a transaction holding it until
      // COMMIT serializes all claims (measured, see claim.ts).
      const { rows } = await db.query<{ end_ms: number }>({
        name: 'bulkhead_cps_reserve',
        text: `UPDATE dialer_cps
                  SET next_at = greatest(next_at, clock_timestamp()) + make_interval(secs => $1::float8 / 1000)
                WHERE id = 1
            RETURNING extract(epoch FROM next_at - clock_timestamp())::float8 * 1000 AS end_ms`,
        values: [n * intervalMs],
      });
      const endMs = rows[0]?.end_ms ?? n * intervalMs;
      return cpsDelays(endMs, n, intervalMs);
    },
  };
}

/** The start offsets of n calls whose reserved span ends `endMs` from now. */
export function cpsDelays(endMs: number, n: number, intervalMs: number): number[] {
  const start = endMs - n * intervalMs;
  return Array.from({ length: n }, (_, i) => Math.max(0, start + i * intervalMs));
}

/**
 * SQL: ms of CPS budget already reserved beyond now (0 when idle). `next_at` starts at
 * '-infinity' (no call yet), and subtracting an infinite timestamp is an error before
 * PostgreSQL 17 (infinite intervals came in 17), so the difference is taken from the clamped value.
 */
export const CPS_BACKLOG_SQL = `(SELECT greatest(0, extract(epoch FROM greatest(next_at, clock_timestamp()) - clock_timestamp()) * 1000)::float8 FROM dialer_cps WHERE id = 1)`;

/** How many calls may be claimed now so that none waits more than lookaheadMs for its CPS turn. */
export function cpsAllowance(backlogMs: number, lookaheadMs: number, cps: number): number {
  return Math.max(0, Math.floor(((lookaheadMs - backlogMs) * cps) / 1000) + 1);
}
