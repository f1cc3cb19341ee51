/**
 * Every bulk operation and its gate defaults (DESIGN.md "Operation types and defaults").
 * Per-business overrides of the rate limit live in businesses.rate_limits.
 */
export type LockMode = 'operation' | 'custom' | 'none';

export interface OperationSpec {
  queue: string;
  priority: number;
  ratePerMinute: number;
  /** operation: one active job per (business, operation); custom: the caller names the lock. */
  lock: LockMode;
}

export const OPERATIONS = {
  delete_leads_bulk: { queue: 'maintenance', priority: 0, ratePerMinute: 2, lock: 'operation' },
  update_leads_bulk: { queue: 'maintenance', priority: 0, ratePerMinute: 2, lock: 'operation' },
  delete_imported_leads: { queue: 'maintenance', priority: 0, ratePerMinute: 2, lock: 'operation' },
  import_leads: { queue: 'default', priority: 0, ratePerMinute: 5, lock: 'none' },
  enqueue_outbound_calls: { queue: 'default', priority: 0, ratePerMinute: 3, lock: 'custom' },
  broadcast_whatsapp: { queue: 'broadcasts', priority: 0, ratePerMinute: 3, lock: 'operation' },
  // Plays never pass the gate (recordings.service.ts ensureDownload): the rate is unused; the active job row is the dedup.
  recording_download: { queue: 'recordings', priority: 10, ratePerMinute: 0, lock: 'custom' },
  // Transcripts (issue 16): their own low-priority queue, run by the transcripts module's own worker,
  // so a backlog never takes a slot from a play, a bulk job or a call. transcribe_call is queued
  // by the recording webhook without the gate (one per recorded call; the lock key is the dedup).
  transcribe_call: { queue: 'transcripts', priority: -10, ratePerMinute: 0, lock: 'custom' },
  transcribe_calls_bulk: { queue: 'transcripts', priority: -5, ratePerMinute: 2, lock: 'operation' },
  delete_receipts_all: { queue: 'maintenance', priority: 0, ratePerMinute: 2, lock: 'operation' },
  // Gmail receipts (issue 17): the `low` queue, behind every other job of a worker.
  sync_gmail_receipts: { queue: 'low', priority: -10, ratePerMinute: 2, lock: 'operation' },
  // Locked per delete job (`restore:<job id>`); a restore by lead ids takes no lock (trash.service.ts).
  restore_leads: { queue: 'maintenance', priority: 0, ratePerMinute: 5, lock: 'custom' },
} as const satisfies Record<string, OperationSpec>;

export type OperationType = keyof typeof OPERATIONS;
export const OPERATION_TYPES = Object.keys(OPERATIONS) as OperationType[];
