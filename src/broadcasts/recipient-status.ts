/**
 * A recipient's status. queued → sending → sent → delivered → read is the happy path;
 * failed and skipped are terminal (one exception, see status-order.ts).
 */
export const RECIPIENT_STATUSES = ['queued', 'sending', 'sent', 'delivered', 'read', 'failed', 'skipped'] as const;
export type RecipientStatus = (typeof RECIPIENT_STATUSES)[number];

export type RecipientCounts = Record<RecipientStatus, number>;

export function emptyCounts(): RecipientCounts {
  return { queued: 0, sending: 0, sent: 0, delivered: 0, read: 0, failed: 0, skipped: 0 };
}

/** Our own uncertainty (a crash or a timeout after the request left), not the provider's verdict. */
export const UNKNOWN_OUTCOME = 'unknown_outcome';
