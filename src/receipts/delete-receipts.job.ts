import { z } from 'zod';
import { defineJob } from '../jobs/types.js';
import { PermanentError } from '../lib/errors.js';
import { deleteReceiptsAfter } from './receipts.repo.js';

function lastId(checkpoint: unknown): number {
  if (checkpoint === null || checkpoint === undefined) return 0;
  const v = typeof checkpoint === 'object' ? (checkpoint as { last_id?: unknown }).last_id : undefined;
  if (typeof v === 'number' && Number.isSafeInteger(v) && v >= 0) return v;
  throw new PermanentError(`unreadable checkpoint ${JSON.stringify(checkpoint)}: expected {"last_id": n}`);
}

/**
 * `delete_receipts_all`: the next batch of receipts after the last id deleted (checkpoint =
 * last id). Receipts created after the job started are deleted too: the user asked for none to
 * remain. When done, the total becomes what was really processed.
 */
export const deleteReceiptsJob = defineJob({
  type: 'delete_receipts_all',
  params: z.looseObject({}),
  batch: async ({ tx, job, checkpoint, batchSize }) => {
    const afterId = lastId(checkpoint);
    const b = await deleteReceiptsAfter(tx, job.business_id, afterId, batchSize);
    const done = b.picked < batchSize;
    return {
      processed: b.picked,
      succeeded: b.deleted,
      failed: b.picked - b.deleted,
      checkpoint: { last_id: b.lastId ?? afterId },
      done,
      ...(done ? { total: job.processed + b.picked } : {}),
    };
  },
});
