import { backoffMs } from '../lib/backoff.js';
import { classifySendFailure, type RetryReason } from '../providers/whatsapp/classify.js';
import type { SendResult } from '../providers/whatsapp/types.js';
import { UNKNOWN_OUTCOME } from './recipient-status.js';

/** What one send did to its recipient row (written by send.repo.ts recordOutcomes). */
export interface RecipientOutcome {
  id: number;
  status: 'sent' | 'queued' | 'failed';
  reason: string | null;
  errorCode: number | null;
  messageId: string | null;
  /** Queued again: not before this many ms. */
  retryAfterMs: number | null;
  /** The provider was never called (shutdown, broadcast stopped): the attempt does not count. */
  notSent: boolean;
}

/** After this many refused attempts a recipient fails with reason retries_exhausted. */
export const MAX_SEND_ATTEMPTS = 15;

/**
 * First retry delay by reason. The pair rate is per recipient (about one message per 6 s to one
 * number), so its retry starts there; throughput clears within a second.
 */
const RETRY_BASE_MS: Record<RetryReason, number> = {
  rate_limited: 1_000,
  pair_rate_limited: 6_000,
  provider_unavailable: 2_000,
};

export type SendDecision = { outcome: RecipientOutcome; stop: string | null; throughput: boolean };

/** A provider answer (or its absence) → the recipient's next state. Pure; `attempt` counts from 1. */
export function decideOutcome(id: number, attempt: number, result: SendResult, random: () => number = Math.random): SendDecision {
  const base = { id, errorCode: null, messageId: null, retryAfterMs: null, notSent: false };
  if (result.ok) return { outcome: { ...base, status: 'sent', reason: null, messageId: result.messageId }, stop: null, throughput: false };
  const verdict = classifySendFailure(result);
  switch (verdict.kind) {
    case 'retry': {
      const exhausted = attempt >= MAX_SEND_ATTEMPTS;
      return {
        outcome: exhausted
          ? { ...base, status: 'failed', reason: 'retries_exhausted', errorCode: verdict.code }
          : { ...base, status: 'queued', reason: verdict.reason, errorCode: verdict.code, retryAfterMs: backoffMs(attempt, RETRY_BASE_MS[verdict.reason], 60_000, random) },
        stop: null,
        throughput: verdict.reason === 'rate_limited',
      };
    }
    case 'fail':
      return { outcome: { ...base, status: 'failed', reason: verdict.reason, errorCode: verdict.code }, stop: null, throughput: false };
    case 'unknown':
      return { outcome: { ...base, status: 'failed', reason: UNKNOWN_OUTCOME }, stop: null, throughput: false };
    case 'stop':
      // Refused, so not sent: it waits with the others that were never sent.
      return { outcome: { ...base, status: 'queued', reason: verdict.reason, errorCode: verdict.code }, stop: verdict.message, throughput: false };
  }
}

/** The recipient was claimed but its send never started. */
export function notSentOutcome(id: number): RecipientOutcome {
  return { id, status: 'queued', reason: null, errorCode: null, messageId: null, retryAfterMs: null, notSent: true };
}
