import { z } from 'zod';
import { targetsBatch } from '../jobs/batches.js';
import { defineJob } from '../jobs/types.js';
import { deleteLeadsByIds } from './bulk.repo.js';

/**
 * `delete_leads_bulk`: one slice of the job's target ids per batch (checkpoint = offset), moved
 * to the trash with their children (restore_leads puts them back). Ids that are not (or no
 * longer) the business's leads are counted as failed.
 */
export const deleteLeadsJob = defineJob({
  type: 'delete_leads_bulk',
  params: z.looseObject({ lead_count: z.number().int().nonnegative() }),
  batch: (ctx) => targetsBatch(ctx, (ids) => deleteLeadsByIds(ctx.tx, ctx.job.business_id, ids, ctx.job.id)),
});
