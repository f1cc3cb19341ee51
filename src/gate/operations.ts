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
  delete_receipts_all: { queue: 'maintenance', priority: 0, ratePerMinute: 2, lock: 'operation' },
  // Locked per delete job (`restore:<job id>`); a restore by lead ids takes no lock (trash.service.ts).
  restore_leads: { queue: 'maintenance', priority: 0, ratePerMinute: 5, lock: 'custom' },
} as const satisfies Record<string, OperationSpec>;

export type OperationType = keyof typeof OPERATIONS;
export const OPERATION_TYPES = Object.keys(OPERATIONS) as OperationType[];
