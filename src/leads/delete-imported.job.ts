import { z } from 'zod';
import { defineJob, type BatchContext, type BatchResult } from '../jobs/types.js';
import { deleteImportedAfter, deleteImportedByIds } from './bulk.repo.js';
import { checkpointNumber, nextTargets, requireTargets } from './checkpoint.js';

const DeleteImportedParams = z.discriminatedUnion('mode', [
  z.looseObject({ mode: z.literal('import'), import_id: z.number().int().positive() }),
  z.looseObject({ mode: z.literal('all') }),
  z.looseObject({ mode: z.literal('lead_ids'), lead_count: z.number().int().nonnegative() }),
]);

/** By ids: one slice of the targets per batch; leads that were not imported are kept (failed). */
async function byIds({ tx, job, checkpoint, batchSize }: BatchContext): Promise<BatchResult> {
  const slice = nextTargets(requireTargets(job.targets), checkpoint, batchSize);
  const deleted = slice.ids.length > 0 ? await deleteImportedByIds(tx, job.business_id, slice.ids) : 0;
  return { processed: slice.ids.length, succeeded: deleted, failed: slice.ids.length - deleted, checkpoint: slice.next, done: slice.done };
}

/**
 * By import or all imported: the batch is whatever matches after the last id deleted
 * (checkpoint = last id), so leads imported after the job started are deleted too. When done,
 * the total becomes what was really processed, since the count taken at enqueue time is only
 * an estimate once other writers are involved.
 */
async function byQuery({ tx, job, checkpoint, batchSize }: BatchContext, importId: number | null): Promise<BatchResult> {
  const afterId = checkpointNumber(checkpoint, 'last_id');
  const b = await deleteImportedAfter(tx, job.business_id, importId, afterId, batchSize);
  const done = b.picked < batchSize;
  return {
    processed: b.picked,
    succeeded: b.deleted,
    failed: b.picked - b.deleted,
    checkpoint: { last_id: b.lastId ?? afterId },
    done,
    ...(done ? { total: job.processed + b.picked } : {}),
  };
}

export const deleteImportedJob = defineJob({
  type: 'delete_imported_leads',
  params: DeleteImportedParams,
  batch: async (ctx) => {
    const p = ctx.params;
    if (p.mode === 'lead_ids') return byIds(ctx);
    return byQuery(ctx, p.mode === 'import' ? p.import_id : null);
  },
});
