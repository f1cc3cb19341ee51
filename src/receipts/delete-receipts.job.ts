import { z } from 'zod';
import { defineJob } from '../jobs/types.js';
import { keysetBatch } from '../jobs/batches.js';
import { deleteReceiptsAfter } from './receipts.repo.js';

/**
 * `delete_receipts_all`: the next batch of receipts after the last id deleted (checkpoint =
 * last id). Receipts created after the job started are deleted too: the user asked for none to
 * remain. When done, the total becomes what was really processed.
 */
export const deleteReceiptsJob = defineJob({
  type: 'delete_receipts_all',
  params: z.looseObject({}),
  batch: (ctx) => keysetBatch(ctx, (afterId, limit) => deleteReceiptsAfter(ctx.tx, ctx.job.business_id, afterId, limit)),
});
