import type { Queryable } from '../db/pool.js';
import { acceptJob, type AcceptDeps, type Accepted } from '../gate/accept.js';
import { countReceipts, type ReceiptRow } from './receipts.repo.js';
import type { deleteReceiptsJob } from './delete-receipts.job.js';
import type { JobParams } from '../jobs/types.js';

export function receiptView(r: ReceiptRow) {
  return {
    id: r.id,
    vendor: r.vendor,
    amount: r.amount,
    currency: r.currency,
    issued_at: r.issued_at.toISOString(),
    created_at: r.created_at.toISOString(),
    source: r.source,
    gmail_message_id: r.gmail_message_id,
    subject: r.subject,
    from: r.sender,
    has_attachment: r.has_attachment,
  };
}

/** Wipes the business's receipts in batches (delete_receipts_all); total = how many there are now. */
export async function acceptDeleteAllReceipts(
  deps: AcceptDeps,
  db: Queryable,
  who: { businessId: number; userId: number },
  idempotency: { key: string; requestHash: string } | undefined,
): Promise<Accepted> {
  return acceptJob(deps, {
    caller: who,
    op: 'delete_receipts_all',
    params: {} satisfies JobParams<typeof deleteReceiptsJob>,
    total: await countReceipts(db, who.businessId),
    idempotency,
  });
}
