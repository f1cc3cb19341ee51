import { WA_ERRORS, type SendResult } from './types.js';

/**
 * What a failed send means for the broadcast. Pure: tested in test/broadcasts/classify.test.ts.
 *
 * - `retry`: the message was NOT accepted and sending it again later is safe (throughput,
 *   pair rate, a 5xx carrying the API's own error object, 503, connection refused).
 * - `fail`: this recipient cannot get this message (not on WhatsApp, 24-hour window closed,
 *   invalid parameters …); other recipients are unaffected. Never retried.
 * - `unknown`: the request may have been accepted (timeout or reset after sending, a bare
 *   500/502/504 from something between us and the API). At most once
 *   beats at least once for a broadcast, so it is accounted as failed-unknown, never resent; a
 *   later status webhook for the message can still settle it.
 * - `stop`: the sender itself is blocked (spam restriction, bad token, locked account): every
 *   further send would fail the same way, so the broadcast stops with a clear error.
 */
export type SendVerdict =
  | { kind: 'retry'; reason: RetryReason; code: number | null }
  | { kind: 'fail'; reason: FailReason; code: number | null }
  | { kind: 'unknown'; reason: 'unknown_outcome'; code: null }
  | { kind: 'stop'; reason: StopReason; code: number | null; message: string };

export type RetryReason = 'rate_limited' | 'pair_rate_limited' | 'provider_unavailable';
export type FailReason = 'needs_template' | 'not_on_whatsapp' | 'rejected';
export type StopReason = 'spam_restricted' | 'sender_unauthorized';

export function classifySendFailure(result: Exclude<SendResult, { ok: true }>): SendVerdict {
  if (result.httpStatus === null) {
    return result.network === 'not_sent'
      ? { kind: 'retry', reason: 'provider_unavailable', code: null }
      : { kind: 'unknown', reason: 'unknown_outcome', code: null };
  }
  const code = result.error.code;
  switch (code) {
    case WA_ERRORS.throughput:
      return { kind: 'retry', reason: 'rate_limited', code };
    case WA_ERRORS.pairRate:
      return { kind: 'retry', reason: 'pair_rate_limited', code };
    case WA_ERRORS.windowClosed:
      return { kind: 'fail', reason: 'needs_template', code };
    case WA_ERRORS.notOnWhatsApp:
      return { kind: 'fail', reason: 'not_on_whatsapp', code };
    case WA_ERRORS.spamRestricted:
      return {
        kind: 'stop',
        reason: 'spam_restricted',
        code,
        message: `WhatsApp restricted this sender for spam (error ${code}: ${result.error.message}); the broadcast was stopped. ` +
          'Recipients not yet sent stay queued; review the message quality in WhatsApp Manager before sending again.',
      };
    case WA_ERRORS.accessToken:
    case WA_ERRORS.accountLocked:
    case WA_ERRORS.temporarilyBlocked:
      return {
        kind: 'stop',
        reason: 'sender_unauthorized',
        code,
        message: `WhatsApp refused the sender (error ${code}: ${result.error.message}); the broadcast was stopped. ` +
          'Check WHATSAPP_TOKEN, WHATSAPP_PHONE_NUMBER_ID and the account status.',
      };
    default:
      break;
  }
  if (result.httpStatus === 401) {
    return { kind: 'stop', reason: 'sender_unauthorized', code, message: `WhatsApp answered 401 (${result.error.message}); the broadcast was stopped. Check WHATSAPP_TOKEN.` };
  }
  // A Graph API error object with a 5xx (or the generic 131000 "something went wrong", which the
  // docs say to retry), a 429 or a 503: the API itself refused, a resend is safe. A 500/502/504
  // *without* the API's error object came from something in between (a gateway, a proxy) that
  // may have forwarded the request and lost the answer: the message may be out, so it is not
  // resent — the chaos suite's "answer lost after the provider acted" fault duplicated messages
  // while every 5xx counted as a refusal.
  const apiRefused = code !== 0;
  if (result.httpStatus === 429 || result.httpStatus === 503 || code === WA_ERRORS.genericUser || (result.httpStatus >= 500 && apiRefused)) {
    return { kind: 'retry', reason: 'provider_unavailable', code };
  }
  if (result.httpStatus >= 500) return { kind: 'unknown', reason: 'unknown_outcome', code: null };
  return { kind: 'fail', reason: 'rejected', code };
}

/** Failure codes carried by a `failed` status webhook, in the same vocabulary. */
export function failureReasonOf(code: number | null): string {
  switch (code) {
    case WA_ERRORS.windowClosed:
      return 'needs_template';
    case WA_ERRORS.notOnWhatsApp:
      return 'not_on_whatsapp';
    case null:
      return 'delivery_failed';
    default:
      return 'delivery_failed';
  }
}
