import { z } from 'zod';
import { targetsBatch } from '../jobs/batches.js';
import { defineJob } from '../jobs/types.js';
import { PermanentError } from '../lib/errors.js';
import { updateLeadsByIds } from './bulk.repo.js';
import { isUserOfBusiness } from './leads.repo.js';

const UpdateParams = z.looseObject({
  lead_count: z.number().int().nonnegative(),
  set: z.object({
    status: z.string().optional(),
    owner_user_id: z.number().int().nullable().optional(),
    tags_add: z.array(z.string()).optional(),
    tags_remove: z.array(z.string()).optional(),
  }),
});

/**
 * `update_leads_bulk`: the change set from params applied to one slice of the targets per batch
 * (checkpoint = offset); ids that are not the business's leads count as failed.
 */
export const updateLeadsJob = defineJob({
  type: 'update_leads_bulk',
  params: UpdateParams,
  batch: async (ctx) => {
    const { tx, job, params: { set } } = ctx;
    // Checked at request time too; the user may have been removed since, and assigning leads
    // to someone outside the business must never happen, so the job stops rather than guess.
    if (typeof set.owner_user_id === 'number' && !(await isUserOfBusiness(tx, job.business_id, set.owner_user_id))) {
      throw new PermanentError(`user ${set.owner_user_id} is no longer a user of this business`);
    }
    return targetsBatch(ctx, (ids) => updateLeadsByIds(tx, job.business_id, ids, {
      status: set.status,
      ownerUserId: set.owner_user_id,
      tagsAdd: set.tags_add,
      tagsRemove: set.tags_remove,
    }));
  },
});
