import type { GateCode } from '../lib/errors.js';
import { msg, type Message } from '../lib/messages.js';

export interface GateObservation {
  /** The active job holding this operation's lock, if any. */
  activeJobId: number | null;
  /** The newest job with identical params inside the dedup window, if any. */
  duplicate: { jobId: number; createdAt: Date } | null;
  /** Jobs of this operation created in the last 60 s, and when the oldest of them was. */
  recentCount: number;
  oldestRecentAt: Date | null;
}

export interface GateLimits {
  ratePerMinute: number;
  dedupWindowS: number;
}

export type GateVerdict =
  | { allow: true }
  | { allow: false; code: GateCode; retryAfterS: number; jobId: number | null; message: Message };

const WINDOW_MS = 60_000;

/**
 * The gate's decision, as a pure function of what the insert transaction observed. Order
 * matters: an identical request is first told which job already does it (in progress, or a
 * duplicate), and only then is the rate limit applied.
 */
export function gateVerdict(o: GateObservation, limits: GateLimits, now: Date): GateVerdict {
  if (o.activeJobId !== null) {
    return {
      allow: false,
      code: 'operation_in_progress',
      retryAfterS: 5,
      jobId: o.activeJobId,
      message: msg('gate.operation_in_progress', { jobId: o.activeJobId }),
    };
  }
  if (o.duplicate && limits.dedupWindowS > 0) {
    const age = now.getTime() - o.duplicate.createdAt.getTime();
    return {
      allow: false,
      code: 'duplicate_request',
      retryAfterS: Math.max(1, Math.ceil((limits.dedupWindowS * 1000 - age) / 1000)),
      jobId: o.duplicate.jobId,
      message: msg('gate.duplicate_request', { jobId: o.duplicate.jobId }),
    };
  }
  if (o.recentCount >= limits.ratePerMinute) {
    const oldest = o.oldestRecentAt?.getTime() ?? now.getTime();
    return {
      allow: false,
      code: 'rate_limited',
      retryAfterS: Math.max(1, Math.ceil((oldest + WINDOW_MS - now.getTime()) / 1000)),
      jobId: null,
      message: msg('gate.rate_limited', { perMinute: limits.ratePerMinute }),
    };
  }
  return { allow: true };
}
