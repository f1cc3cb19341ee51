import type { Queryable } from '../db/pool.js';
import { acceptJob, type AcceptDeps, type Accepted } from '../gate/accept.js';
import type { JobParams } from '../jobs/types.js';
import { NotFoundError, ValidationError } from '../lib/errors.js';
import { msg } from '../lib/messages.js';
import { countImported } from './bulk.repo.js';
import type { deleteImportedJob } from './delete-imported.job.js';
import type { deleteLeadsJob } from './delete-leads.job.js';
import { distinctSorted } from '../jobs/batches.js';
import { importExists } from './imports.repo.js';
import { isUserOfBusiness } from './leads.repo.js';
import { uniqueTags } from './leads.schemas.js';
import type { LeadCaller } from './leads.service.js';
import type { updateLeadsJob } from './update-leads.job.js';

type Idempotency = { key: string; requestHash: string } | undefined;

/** Ids go in the job's targets (sorted, distinct), not in params, so job listings stay small. */
export async function acceptBulkDelete(deps: AcceptDeps, who: LeadCaller, leadIds: number[], idempotency: Idempotency): Promise<Accepted> {
  const targets = distinctSorted(leadIds);
  return acceptJob(deps, {
    caller: who,
    op: 'delete_leads_bulk',
    params: { lead_count: targets.length } satisfies JobParams<typeof deleteLeadsJob>,
    targets,
    total: targets.length,
    idempotency,
  });
}

/** The change set as stored in the job's params (and read back by update-leads.job.ts). */
export type LeadSet = JobParams<typeof updateLeadsJob>['set'];

export async function acceptBulkUpdate(
  deps: AcceptDeps,
  who: LeadCaller,
  leadIds: number[],
  set: LeadSet,
  idempotency: Idempotency,
): Promise<Accepted> {
  const owner = set.owner_user_id;
  if (typeof owner === 'number' && !(await isUserOfBusiness(deps.pool, who.businessId, owner))) {
    throw new ValidationError(msg('leads.owner_not_user', { userId: owner }), [
      { path: 'body.set.owner_user_id', message: msg('issue.not_user_of_business') },
    ]);
  }
  const targets = distinctSorted(leadIds);
  const cleanSet: LeadSet = {
    ...set,
    tags_add: set.tags_add && uniqueTags(set.tags_add),
    tags_remove: set.tags_remove && uniqueTags(set.tags_remove),
  };
  return acceptJob(deps, {
    caller: who,
    op: 'update_leads_bulk',
    params: { lead_count: targets.length, set: cleanSet } satisfies JobParams<typeof updateLeadsJob>,
    targets,
    total: targets.length,
    idempotency,
  });
}

export type DeleteImportedScope = { importId: number } | { leadIds: number[] } | { all: true };

/**
 * By import or all imported: batches walk the matching leads by id, and the total is their
 * count now. By ids: like bulk delete, but leads that were not imported are kept (failed).
 */
export async function acceptDeleteImported(
  deps: AcceptDeps,
  db: Queryable,
  who: LeadCaller,
  scope: DeleteImportedScope,
  idempotency: Idempotency,
): Promise<Accepted> {
  if ('leadIds' in scope) {
    const targets = distinctSorted(scope.leadIds);
    return acceptJob(deps, {
      caller: who,
      op: 'delete_imported_leads',
      params: { mode: 'lead_ids', lead_count: targets.length } satisfies JobParams<typeof deleteImportedJob>,
      targets,
      total: targets.length,
      idempotency,
    });
  }
  const importId = 'importId' in scope ? scope.importId : null;
  if (importId !== null && !(await importExists(db, who.businessId, importId))) throw new NotFoundError('Import');
  return acceptJob(deps, {
    caller: who,
    op: 'delete_imported_leads',
    params: (importId === null ? { mode: 'all' } : { mode: 'import', import_id: importId }) satisfies JobParams<typeof deleteImportedJob>,
    total: await countImported(db, who.businessId, importId),
    idempotency,
  });
}
