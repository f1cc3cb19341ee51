import { z } from 'zod';
import { defineJob } from '../jobs/types.js';
import { deleteLeadsByIds } from './bulk.repo.js';
import { nextTargets, requireTargets } from './checkpoint.js';

/**
 * `delete_leads_bulk`: one slice of the job's target ids per batch (checkpoint = offset). Ids
 * that are not (or no longer) the business's leads are counted as failed.
 */
export const deleteLeadsJob = defineJob({
  type: 'delete_leads_bulk',
  params: z.looseObject({ lead_count: z.number().int().nonnegative() }),
  batch: async ({ tx, job, checkpoint, batchSize }) => {
    const slice = nextTargets(requireTargets(job.targets), checkpoint, batchSize);
    const deleted = slice.ids.length > 0 ? await deleteLeadsByIds(tx, job.business_id, slice.ids) : 0;
    return {
      processed: slice.ids.length,
      succeeded: deleted,
      failed: slice.ids.length - deleted,
      checkpoint: slice.next,
      done: slice.done,
    };
  },
});
