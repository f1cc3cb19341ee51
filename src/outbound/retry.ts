import type { CallOutcome } from './call-status.js';

/** Extra attempts after a busy / no-answer outcome, and the delay before each (dialer_settings). */
export interface RetryPolicy {
  busy: number;
  noAnswer: number;
  delayS: number;
}

export const NO_RETRY: RetryPolicy = { busy: 0, noAnswer: 0, delayS: 900 };

/**
 * After attempt number `attempt` (1 = the first call) ended with `outcome`: retry after delayS,
 * or null (the outcome is final). Only busy and no-answer are retried: a completed call is done,
 * a failed one (bad number, provider refusal, unconfirmed dial) must not be redialled blindly.
 */
export function nextRetry(outcome: CallOutcome, attempt: number, policy: RetryPolicy): { delayS: number } | null {
  const retries = outcome === 'busy' ? policy.busy : outcome === 'no_answer' ? policy.noAnswer : 0;
  return attempt <= retries ? { delayS: policy.delayS } : null;
}
