import { z } from 'zod';
import { keysetBatch, targetsBatch } from '../jobs/batches.js';
import { defineJob } from '../jobs/types.js';
import { deleteImportedAfter, deleteImportedByIds } from './bulk.repo.js';

const DeleteImportedParams = z.discriminatedUnion('mode', [
  z.looseObject({ mode: z.literal('import'), import_id: z.number().int().positive() }),
  z.looseObject({ mode: z.literal('all') }),
  z.looseObject({ mode: z.literal('lead_ids'), lead_count: z.number().int().nonnegative() }),
]);

/**
 * `delete_imported_leads`: by ids, a slice of the targets per batch; by import or all imported, a
 * keyset walk over the imported leads that match now. Either way into the trash, with children.
 */
export const deleteImportedJob = defineJob({
  type: 'delete_imported_leads',
  params: DeleteImportedParams,
  batch: (ctx) => {
    const { tx, job, params: p } = ctx;
    // By ids: leads that were not imported are kept (failed).
    if (p.mode === 'lead_ids') return targetsBatch(ctx, (ids) => deleteImportedByIds(tx, job.business_id, ids, job.id));
    // By import or all imported: leads imported after the job started are deleted too.
    const importId = p.mode === 'import' ? p.import_id : null;
    return keysetBatch(ctx, (afterId, limit) => deleteImportedAfter(tx, job.business_id, importId, afterId, limit, job.id));
  },
});
