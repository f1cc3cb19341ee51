import type { Queryable } from '../db/pool.js';

/**
 * Calls-per-second budgets, one per Twilio account (each subaccount has its own limit; the
 * deployment's account is shared by every business without one), each shared by every process
 * through one row (GCRA, the "virtual scheduling" form of a token bucket): `next_at` is the
 * earliest instant the account's next call may start. Reserving n calls moves it forward by n/cps
 * in ONE autocommit statement (an upsert: an account's row is created by its first call), so two
 * processes can never hand out the same instant, and returns each call's start offset.
 *
 * Alternatives considered: a per-process limiter (cps / processes) wastes budget whenever the
 * processes are unevenly loaded; an advisory lock + "last dial" timestamps needs a transaction
 * per dial and a second round trip. A burst allowance is deliberately absent: Twilio counts
 * calls per second strictly and queues (or rejects) the excess.
 */
export interface CpsLimiter {
  readonly cps: number;
  /** The account whose budget `reserve` spends when it is given none (the deployment's). */
  readonly mainAccount: string;
  /** Reserves n start instants on `account`'s budget; resolves with each one's delay from now in ms (ascending). */
  reserve(n: number, account?: string): Promise<number[]>;
}

/**
 * The key of the deployment's own account when the limiter is not told its sid (tests, tools):
 * any constant works as long as the claim and the limiter use the same one (the dialer passes the
 * real TWILIO_ACCOUNT_SID to both, so a business that enters the deployment's sid as its own
 * shares the same budget, as it shares the same account).
 */
export const MAIN_ACCOUNT = 'main';

export function createCpsLimiter(db: Queryable, cps: number, mainAccount = MAIN_ACCOUNT): CpsLimiter {
  const intervalMs = 1000 / cps;
  return {
    cps,
    mainAccount,
    async reserve(n, account = mainAccount) {
      if (n <= 0) return [];
      // Always in autocommit: the row is every process's, and a transaction holding it until
      // COMMIT serializes all claims (measured, see claim.ts).
      const { rows } = await db.query<{ end_ms: number }>({
        name: 'bulkhead_cps_reserve',
        text: `INSERT INTO dialer_cps AS d (account_sid, next_at) VALUES ($2, clock_timestamp() + make_interval(secs => $1::float8 / 1000))
               ON CONFLICT (account_sid) DO UPDATE
                  SET next_at = greatest(d.next_at, clock_timestamp()) + make_interval(secs => $1::float8 / 1000)
            RETURNING extract(epoch FROM next_at - clock_timestamp())::float8 * 1000 AS end_ms`,
        values: [n * intervalMs, account],
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
 * SQL: ms of the CPS budget of the account `accountExpr` names already reserved beyond now (0 when
 * idle or never used). `next_at` may be '-infinity' (rows of 002), and subtracting an infinite
 * timestamp is an error before PostgreSQL 17 (infinite intervals came in 17), so the difference
 * is taken from the clamped value.
 */
export function cpsBacklogSql(accountExpr: string): string {
  return `coalesce((SELECT greatest(0, extract(epoch FROM greatest(next_at, clock_timestamp()) - clock_timestamp()) * 1000)::float8 FROM dialer_cps WHERE account_sid = ${accountExpr}), 0)`;
}

/** How many calls may be claimed now so that none waits more than lookaheadMs for its CPS turn. */
export function cpsAllowance(backlogMs: number, lookaheadMs: number, cps: number): number {
  return Math.max(0, Math.floor(((lookaheadMs - backlogMs) * cps) / 1000) + 1);
}
