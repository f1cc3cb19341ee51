import { sqlLiteral, type CallOutcome } from './call-status.js';

/** Extra attempts after a busy / no-answer outcome, and the delay before each (dialer_settings). */
export interface RetryPolicy {
  busy: number;
  noAnswer: number;
  delayS: number;
}

export const NO_RETRY: RetryPolicy = { busy: 0, noAnswer: 0, delayS: 900 };

/**
 * The outcomes that are retried, each with its number of extra attempts in RetryPolicy and in
 * dialer_settings. Only busy and no-answer: a completed call is done, a failed one (bad number,
 * provider refusal, unconfirmed dial) must not be redialled blindly. nextRetry and retryDueSql
 * both read this table, so the TypeScript rule and the SQL one cannot drift apart.
 */
const RETRIED = {
  busy: { policy: 'busy', column: 'retry_busy' },
  no_answer: { policy: 'noAnswer', column: 'retry_no_answer' },
} as const satisfies Partial<Record<CallOutcome, { policy: 'busy' | 'noAnswer'; column: string }>>;

type RetriedOutcome = keyof typeof RETRIED;

export function isRetriedOutcome(outcome: CallOutcome): outcome is RetriedOutcome {
  return Object.hasOwn(RETRIED, outcome);
}

/**
 * After attempt number `attempt` (1 = the first call) ended with `outcome`: retry after delayS,
 * or null (the outcome is final).
 */
export function nextRetry(outcome: CallOutcome, attempt: number, policy: RetryPolicy): { delayS: number } | null {
  if (!isRetriedOutcome(outcome)) return null;
  return attempt <= policy[RETRIED[outcome].policy] ? { delayS: policy.delayS } : null;
}

/**
 * SQL: true exactly when nextRetry would retry, for a statement that decides in the database
 * without a round trip for the policy (call-state.ts, endActiveCall). The arguments are SQL
 * expressions for the outcome (a CallOutcome), the attempt and the business id; a business
 * without a dialer_settings row has NO_RETRY, as retryPolicy gives nextRetry. The policy is read
 * by uncorrelated subqueries when `businessId` is a parameter: evaluated once per statement.
 */
export function retryDueSql(e: { outcome: string; attempt: string; businessId: string }): string {
  const cases = Object.entries(RETRIED).map(
    ([outcome, r]) =>
      `WHEN ${sqlLiteral(outcome)} THEN ${e.attempt} <= coalesce((SELECT ${r.column} FROM dialer_settings WHERE business_id = ${e.businessId}), ${NO_RETRY[r.policy]})`,
  );
  return `(CASE ${e.outcome} ${cases.join(' ')} ELSE false END)`;
}
