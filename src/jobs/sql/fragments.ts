import { ACTIVE_STATUSES, JOB_STATUSES, type JobStatus } from '../types.js';

/**
 * SQL fragments for the few domain statements that must read or write job state inside ONE
 * statement (a hot path where a second round trip costs, or a bulk maintenance statement over
 * many tenants). Everything else goes through the functions of domain-api.ts. Only src/jobs
 * names the `jobs` table (test/jobs/ownership.test.ts); the status lists below come from the
 * TypeScript constants, so the SQL and the code cannot disagree about what "active" means.
 *
 * Arguments are SQL text written in code (an alias, `r.job_id`, `$1`), never values: a value
 * always travels as a `$n` parameter of the domain's statement.
 */

/** Active and not paused: a worker may be working on the job now or soon (unless a pause is requested). */
const RUNNABLE_STATUSES: readonly JobStatus[] = ['queued', 'running'];
/** Ended without completing. */
const ABANDONED_STATUSES: readonly JobStatus[] = ['failed', 'cancelled'];

/** `('queued', 'running', 'paused')`: a status list for `IN`, from the constants above. */
export function statusListSql(statuses: readonly JobStatus[]): string {
  if (statuses.length === 0 || statuses.some((s) => !JOB_STATUSES.includes(s))) {
    throw new Error(`not a list of job statuses: ${statuses.join(', ')}`);
  }
  return `(${statuses.map((s) => `'${s}'`).join(', ')})`;
}

/** The statuses that hold a job's lock (the partial unique index jobs_active_lock). */
export const ACTIVE_STATUS_SQL = statusListSql(ACTIVE_STATUSES);
export const RUNNABLE_STATUS_SQL = statusListSql(RUNNABLE_STATUSES);

function alias(a: string): string {
  if (!/^[a-z_][a-z0-9_]*$/.test(a)) throw new Error(`not an SQL alias: ${a}`);
  return a;
}

/**
 * `JOIN jobs <as> ON <as>.id = <jobId> [AND <as>.business_id = <businessId>]`: the job of a domain
 * row. Tenant statements pass the business (`'$1'`); cross-tenant maintenance sweeps do not.
 */
export function jobJoin(as: string, jobId: string, businessId?: string): string {
  const a = alias(as);
  return `JOIN jobs ${a} ON ${a}.id = ${jobId}${businessId === undefined ? '' : ` AND ${a}.business_id = ${businessId}`}`;
}

/**
 * The joined job may still do work: queued or running, and neither a cancel nor a pause
 * requested (a held job asked to pause starts nothing new: the dialer places no call for its run).
 */
export function runnableJobSql(as: string): string {
  const a = alias(as);
  return `${a}.status IN ${RUNNABLE_STATUS_SQL} AND NOT ${a}.cancel_requested AND NOT ${a}.pause_requested`;
}

/** The joined job will do no more work: it failed, was cancelled, or a cancel is pending. */
export function stoppedJobSql(as: string): string {
  const a = alias(as);
  return `(${a}.status IN ${statusListSql(ABANDONED_STATUSES)} OR ${a}.cancel_requested)`;
}

/** The joined job ended without completing (failed or cancelled). */
export function abandonedJobSql(as: string): string {
  return `${alias(as)}.status IN ${statusListSql(ABANDONED_STATUSES)}`;
}

/**
 * An UPDATE (usable as a data-modifying CTE) that brings a queued job's next claim forward to
 * within `withinMs`: a domain event (a call ended) tells the job there is progress to count. A job
 * already due that soon is left alone, so a burst of events shares one wake-up, and a running or
 * paused job is never touched. `withinMs` is a constant of the calling code: the statement's text
 * stays the same for its prepared name.
 */
export function wakeJobSql(w: { businessId: string; jobId: string; withinMs: number }): string {
  if (!Number.isInteger(w.withinMs) || w.withinMs < 0) throw new Error(`withinMs must be a whole number of ms: ${w.withinMs}`);
  const within = `interval '${w.withinMs} milliseconds'`;
  return `UPDATE jobs SET run_at = now() + ${within}
      WHERE business_id = ${w.businessId} AND id = ${w.jobId}
        AND status = 'queued' AND run_at > now() + ${within}`;
}

/**
 * True while this worker still holds this job: the claim's fence (locked_by and attempts, as in
 * sql/batch.ts) and the job still running with no pause requested (a pause takes effect at the
 * batch's end, but nothing new is started after the request). A handler that writes outside its
 * batch transaction (broadcast sends, which must be durable before the provider call) puts this
 * in the statement's WHERE so a worker that lost its claim, or whose job is pausing, claims
 * nothing more and ends its batch.
 */
export function jobHeldSql(h: { businessId: string; jobId: string; workerId: string; attempt: string }): string {
  return `EXISTS (SELECT 1 FROM jobs WHERE id = ${h.jobId} AND business_id = ${h.businessId}
                   AND locked_by = ${h.workerId} AND attempts = ${h.attempt} AND status = 'running'
                   AND NOT pause_requested)`;
}
