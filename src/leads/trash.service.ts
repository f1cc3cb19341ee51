import type { Queryable } from '../db/pool.js';
import { acceptJob, type AcceptDeps, type Accepted, type Caller, type Idempotency } from '../gate/accept.js';
import { distinctSorted } from '../jobs/batches.js';
import { getJob } from '../jobs/jobs.repo.js';
import { ACTIVE_STATUSES, type JobParams } from '../jobs/types.js';
import { ConflictError, NotFoundError } from '../lib/errors.js';
import { msg } from '../lib/messages.js';
import { deleteImportedJob } from './delete-imported.job.js';
import { deleteLeadsJob } from './delete-leads.job.js';
import type { restoreLeadsJob } from './restore-leads.job.js';
import { countTrashOfJob } from './trash.repo.js';

/** The jobs that fill the trash. */
const DELETE_JOB_TYPES: readonly string[] = [deleteLeadsJob.type, deleteImportedJob.type];

export type RestoreScope = { jobId: number } | { leadIds: number[] };

/**
 * Accepts a `restore_leads` job.
 *
 * By delete job: the job must be a delete job of the caller's business (404 otherwise, the same
 * answer as for a job that does not exist), or, once the engine pruned that job, still have leads
 * in the trash. A delete job still queued, running or paused answers 409 `delete_in_progress`:
 * restoring behind a delete that goes on would race it lead by lead, so it is cancelled (or left
 * to finish) first. Nothing of it in the trash is not an error: the restore completes at once with
 * total 0, as a second restore of the same job does. The lock `restore:<job id>` keeps one
 * restore per delete job at a time; the total is the job's trash count now, corrected by the job
 * when it ends.
 *
 * By lead ids: no lock. Restores that overlap are safe with each other (each trash row is taken
 * under a row lock and emptied in the transaction that restores it, so the second finds it gone:
 * `not_in_trash`), and the gate's dedup window already refuses the same request twice. Ids not in
 * the business's trash count as failed.
 */
export async function acceptRestore(deps: AcceptDeps, db: Queryable, who: Caller, scope: RestoreScope, idempotency: Idempotency | undefined): Promise<Accepted> {
  if ('leadIds' in scope) {
    const targets = distinctSorted(scope.leadIds);
    return acceptJob(deps, {
      caller: who,
      op: 'restore_leads',
      params: { mode: 'lead_ids', lead_count: targets.length } satisfies JobParams<typeof restoreLeadsJob>,
      targets,
      total: targets.length,
      lockKey: null,
      idempotency,
    });
  }
  const { jobId } = scope;
  const [job, inTrash] = await Promise.all([getJob(db, who.businessId, jobId), countTrashOfJob(db, who.businessId, jobId)]);
  const isDeleteJob = job ? DELETE_JOB_TYPES.includes(job.type) : inTrash > 0;
  if (!isDeleteJob) throw new NotFoundError(msg('trash.delete_job_not_found', { jobId }));
  if (job && ACTIVE_STATUSES.includes(job.status)) {
    throw new ConflictError('delete_in_progress', msg('trash.delete_in_progress', { jobId, status: job.status }), { job_id: jobId });
  }
  return acceptJob(deps, {
    caller: who,
    op: 'restore_leads',
    params: { mode: 'job', delete_job_id: jobId } satisfies JobParams<typeof restoreLeadsJob>,
    lockKey: `restore:${jobId}`,
    total: inTrash,
    idempotency,
  });
}
