/*
 * Gmail's per-user quota, respected by pacing our own calls rather than by waiting for 429s.
 *
 * Gmail API usage limits (https://developers.google.com/workspace/gmail/api/reference/quota):
 * 250 quota units per user per second (a moving average that allows short bursts), 1.2 million
 * per project per minute; a call costs users.getProfile 1, users.history.list 2,
 * users.messages.list 5, users.messages.get 5, users.messages.attachments.get 5.
 *
 * A token bucket of 25 units refilled at 200 units/s sends at most 25 + 200 = 225 units in any
 * one second, so even the strict reading of the limit (any window of one second) holds where
 * Gmail counts, at arrival: the 25 units left over absorb calls that arrive bunched (a burst of 50
 * measured 255 units in one second at the simulator: the first calls wait for the access token,
 * later ones do not). The sustained 200 leaves 20 % for whatever else reads the mailbox.
 */

export const GMAIL_UNITS = {
  profile: 1,
  history: 2,
  list: 5,
  get: 5,
  attachment: 5,
} as const;

/** Gmail's own limit per user per second. */
export const GMAIL_USER_UNITS_PER_S = 250;

export interface QuotaPolicy {
  /** Units per second, sustained. */
  ratePerS: number;
  /** Units that may be spent at once (the bucket's size). */
  burst: number;
}

export const GMAIL_USER_PACE: QuotaPolicy = { ratePerS: 200, burst: 25 };

export interface Bucket {
  /** Units available at `atMs` (negative: reserved ahead by calls still waiting). */
  units: number;
  atMs: number;
}

/**
 * A call of `cost` units at `nowMs`: how long it must wait, and the bucket after it (its units
 * reserved, so calls asked meanwhile queue behind it in order). Pure: tested without a clock.
 */
export function quotaWait(bucket: Bucket, cost: number, nowMs: number, policy: QuotaPolicy): { waitMs: number; bucket: Bucket } {
  const elapsed = Math.max(0, nowMs - bucket.atMs);
  const available = Math.min(policy.burst, bucket.units + (elapsed * policy.ratePerS) / 1000);
  const after = available - cost;
  const waitMs = after >= 0 ? 0 : Math.ceil((-after * 1000) / policy.ratePerS);
  return { waitMs, bucket: { units: after, atMs: Math.max(nowMs, bucket.atMs) } };
}

/** One mailbox's pace (one per Mailbox client: a business has one sync at a time). */
export class QuotaPacer {
  #bucket: Bucket;

  constructor(
    private readonly policy: QuotaPolicy = GMAIL_USER_PACE,
    private readonly now: () => number = Date.now,
    private readonly sleep: (ms: number) => Promise<void> = (ms) => new Promise((resolve) => setTimeout(resolve, ms)),
  ) {
    this.#bucket = { units: policy.burst, atMs: now() };
  }

  /** Resolves when a call of `cost` units may be made. */
  async take(cost: number): Promise<void> {
    const { waitMs, bucket } = quotaWait(this.#bucket, cost, this.now(), this.policy);
    this.#bucket = bucket;
    if (waitMs > 0) await this.sleep(waitMs);
  }
}
