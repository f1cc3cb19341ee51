import type { Queryable } from '../db/pool.js';
import { ACTIVE_STATUS_SQL } from './sql/fragments.js';
import type { JobStatus } from './types.js';

/**
 * What domains may read and write of a job besides enqueueing it (jobs.repo.ts insertJob) and
 * running it (a handler): the engine owns the `jobs` table and only src/jobs names it
 * (test/jobs/ownership.test.ts), as graphile-worker keeps its jobs table private and River's
 * domains write through its driver. Every function takes a Queryable, so a domain calls it inside
 * its own transaction. A hot statement that must see job state in the same statement uses the
 * fragments of sql/fragments.ts instead, re-exported here.
 */
export {
  abandonedJobSql,
  jobHeldSql,
  jobJoin,
  runnableJobSql,
  stoppedJobSql,
  wakeJobSql,
} from './sql/fragments.js';

/** What a domain's own views show of its job. */
export interface JobSummary {
  id: number;
  status: JobStatus;
  last_error: string | null;
}

/**
 * The jobs of a page of domain rows, in one query by ids (not one per row, and not a join in
 * every domain's list statement). A job missing from the map was pruned after it finished.
 */
export async function jobSummariesOf(db: Queryable, businessId: number, jobIds: readonly number[]): Promise<Map<number, JobSummary>> {
  if (jobIds.length === 0) return new Map();
  const { rows } = await db.query<JobSummary>(
    `SELECT id, status, last_error FROM jobs WHERE business_id = $1 AND id = ANY($2::bigint[])`,
    [businessId, [...new Set(jobIds)]],
  );
  return new Map(rows.map((j) => [j.id, j]));
}

export async function jobSummaryOf(db: Queryable, businessId: number, jobId: number): Promise<JobSummary | null> {
  return (await jobSummariesOf(db, businessId, [jobId])).get(jobId) ?? null;
}

/** The active job holding a lock key (queued, running or paused), if any. */
export async function activeJobByLockKey(db: Queryable, businessId: number, lockKey: string): Promise<number | null> {
  const { rows } = await db.query<{ id: number }>(
    `SELECT id FROM jobs WHERE business_id = $1 AND lock_key = $2 AND status IN ${ACTIVE_STATUS_SQL} LIMIT 1`,
    [businessId, lockKey],
  );
  return rows[0]?.id ?? null;
}

/**
 * Corrects a job's total while the job is being created (a domain learns the real size in the
 * enqueue transaction, e.g. ids that were not the business's leads). A running handler reports
 * its total through BatchResult.total instead, fenced by its claim.
 */
export async function setJobTotal(db: Queryable, businessId: number, jobId: number, total: number): Promise<void> {
  await db.query(`UPDATE jobs SET total = $3 WHERE business_id = $1 AND id = $2`, [businessId, jobId, total]);
}

/** Jobs by type and status, whole cluster (a metrics gauge read at scrape time). */
export async function jobCountsByTypeAndStatus(db: Queryable): Promise<{ type: string; status: JobStatus; n: number }[]> {
  const { rows } = await db.query<{ type: string; status: JobStatus; n: number }>(
    `SELECT type, status, count(*)::int AS n FROM jobs GROUP BY type, status`,
  );
  return rows;
}

/** Queued jobs that are due, by queue, whole cluster (the queue-depth gauge). */
export async function dueJobsByQueue(db: Queryable): Promise<{ queue: string; n: number }[]> {
  const { rows } = await db.query<{ queue: string; n: number }>(
    `SELECT queue, count(*)::int AS n FROM jobs WHERE status = 'queued' AND run_at <= now() GROUP BY queue`,
  );
  return rows;
}
