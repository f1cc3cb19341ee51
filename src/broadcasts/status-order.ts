import { failureReasonOf } from '../providers/whatsapp/classify.js';
import type { DeliveryStatus } from '../providers/whatsapp/webhook-payload.js';
import { UNKNOWN_OUTCOME, type RecipientStatus } from './recipient-status.js';

export interface DeliveryState {
  status: RecipientStatus;
  reason: string | null;
  /** Provider time of the newest event applied. */
  statusAt: Date | null;
}

export interface DeliveryEvent {
  status: DeliveryStatus;
  at: Date;
  errorCode: number | null;
}

const RANK: Partial<Record<RecipientStatus, number>> = { queued: 0, sending: 1, sent: 2, delivered: 3, read: 4 };

/**
 * The state after a status webhook, or null when the event changes nothing. Pure.
 *
 * - Forward only along sent < delivered < read: a late `sent` never undoes `read`; a duplicate
 *   changes nothing. Rank decides, not the event's timestamp: Cloud API timestamps have
 *   one-second resolution, so `sent` and `delivered` often share one; the timestamp is kept
 *   (statusAt only grows) to tell when the recipient last moved.
 * - `failed` is terminal: nothing moves a failed recipient again — except one we marked
 *   failed because WE did not know the outcome (a crash or a timeout after the request left):
 *   a provider event about that message is better knowledge than our guess.
 * - `failed` after `delivered` or `read` is ignored: delivery is proven, a contradicting
 *   failure report cannot unsend it. Before delivery (sent) it applies.
 * - `skipped` recipients were never sent; no event concerns them.
 */
export function applyDeliveryEvent(cur: DeliveryState, ev: DeliveryEvent): DeliveryState | null {
  if (cur.status === 'skipped') return null;
  const unknown = cur.status === 'failed' && cur.reason === UNKNOWN_OUTCOME;
  if (cur.status === 'failed' && !unknown) return null;
  const statusAt = cur.statusAt && cur.statusAt > ev.at ? cur.statusAt : ev.at;
  if (ev.status === 'failed') {
    if (cur.status === 'delivered' || cur.status === 'read') return null;
    return { status: 'failed', reason: failureReasonOf(ev.errorCode), statusAt };
  }
  const from = unknown ? (RANK.sending ?? 1) : (RANK[cur.status] ?? 0);
  const to = RANK[ev.status] ?? 0;
  if (to <= from) return null;
  return { status: ev.status, reason: null, statusAt };
}
