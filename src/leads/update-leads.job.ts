import { z } from 'zod';
import { defineJob } from '../jobs/types.js';
import { PermanentError } from '../lib/errors.js';
import { updateLeadsByIds } from './bulk.repo.js';
import { nextTargets, requireTargets } from './checkpoint.js';
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
  batch: async ({ tx, job, params: { set }, checkpoint, batchSize }) => {
    // Checked at request time too; the user may have been removed since, and assigning leads
    // to someone outside the business must never happen, so the job stops rather than guess.
    if (typeof set.owner_user_id === 'number' && !(await isUserOfBusiness(tx, job.business_id, set.owner_user_id))) {
      throw new PermanentError(`user ${set.owner_user_id} is no longer a user of this business`);
    }
    const slice = nextTargets(requireTargets(job.targets), checkpoint, batchSize);
    const updated = slice.ids.length > 0
      ? await updateLeadsByIds(tx, job.business_id, slice.ids, {
        status: set.status,
        ownerUserId: set.owner_user_id,
        tagsAdd: set.tags_add,
        tagsRemove: set.tags_remove,
      })
      : 0;
    return {
      processed: slice.ids.length,
      succeeded: updated,
      failed: slice.ids.length - updated,
      checkpoint: slice.next,
      done: slice.done,
    };
  },
});
