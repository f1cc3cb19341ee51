import type { Broadcast, OptOut, Recipient } from '../contract/broadcasts.js';
import type { BroadcastRow, RecipientRow } from './broadcasts.repo.js';
import type { OptOutRow } from './opt-outs.repo.js';
import type { RecipientCounts } from './recipient-status.js';

const iso = (d: Date | null) => (d ? d.toISOString() : null);

export function broadcastView(b: BroadcastRow, counts: RecipientCounts): Broadcast {
  return {
    id: b.id,
    job_id: b.job_id,
    // A pruned finished job leaves no status; its recipients still tell the story.
    status: b.job_status ?? 'completed',
    counts,
    total: Object.values(counts).reduce((a, n) => a + n, 0),
    duplicates: b.duplicates,
    message: b.message,
    phone_number_id: b.phone_number_id,
    error: b.last_error,
    created_at: b.created_at.toISOString(),
  };
}

export function recipientView(r: RecipientRow): Recipient {
  return {
    id: r.id,
    phone: r.phone,
    lead_id: r.lead_id,
    status: r.status,
    reason: r.reason,
    error_code: r.error_code,
    attempts: r.attempts,
    next_attempt_at: iso(r.next_attempt_at),
    message_id: r.message_id,
    sent_at: iso(r.sent_at),
    delivered_at: iso(r.delivered_at),
    read_at: iso(r.read_at),
    updated_at: r.updated_at.toISOString(),
  };
}

export function optOutView(o: OptOutRow): OptOut {
  return { id: o.id, phone: o.phone, source: o.source, created_at: o.created_at.toISOString() };
}
