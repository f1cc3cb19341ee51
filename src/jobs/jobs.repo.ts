import type { Queryable } from '../db/pool.js';
import { JOB_COLUMNS } from './sql/claim.js';
import { ACTIVE_STATUS_SQL, RUNNABLE_STATUS_SQL } from './sql/fragments.js';
import type { JobRow, JobStatus } from './types.js';

export interface NewJob {
  businessId: number;
  type: string;
  queue: string;
  priority?: number;
  params: Record<string, unknown>;
  targets?: number[] | null;
  paramsHash: string;
  lockKey: string | null;
  total: number;
  createdBy: number | null;
  /** Inserted as paused: used by tests and operators that stage work. */
  status?: 'queued' | 'paused';
}

/** Enqueue inside the caller's transaction: a job and the data that defines it commit together. */
export async function insertJob(db: Queryable, j: NewJob): Promise<JobRow> {
  const { rows } = await db.query<JobRow>({
    name: 'bulkhead_insert_job',
    text: `INSERT INTO jobs (business_id, type, queue, priority, params, targets, params_hash, lock_key, total, created_by, status)
     VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)
     RETURNING ${JOB_COLUMNS}`,
    values: [
      j.businessId,
      j.type,
      j.queue,
      j.priority ?? 0,
      JSON.stringify(j.params),
      // As an array literal: node-postgres' own array encoding took 395 ms for 1,000,000 ids, on the event loop.
      j.targets ? `{${j.targets.join(',')}}` : null,
      j.paramsHash,
      j.lockKey,
      j.total,
      j.createdBy,
      j.status ?? 'queued',
    ],
  });
  const row = rows[0];
  if (!row) throw new Error('INSERT … RETURNING gave no row');
  return row;
}

export async function getJob(db: Queryable, businessId: number, jobId: number): Promise<JobRow | null> {
  const { rows } = await db.query<JobRow>(
    `SELECT ${JOB_COLUMNS} FROM jobs WHERE business_id = $1 AND id = $2`,
    [businessId, jobId],
  );
  return rows[0] ?? null;
}

export interface JobFilter {
  status?: JobStatus | undefined;
  type?: string | undefined;
  beforeId?: number | undefined;
  limit: number;
}

/** Newest first, keyset-paginated by id. */
export async function listJobs(db: Queryable, businessId: number, f: JobFilter): Promise<JobRow[]> {
  const { rows } = await db.query<JobRow>(
    `SELECT ${JOB_COLUMNS} FROM jobs
      WHERE business_id = $1
        AND ($2::text IS NULL OR status = $2)
        AND ($3::text IS NULL OR type = $3)
        AND ($4::bigint IS NULL OR id < $4)
      ORDER BY id DESC
      LIMIT $5`,
    [businessId, f.status ?? null, f.type ?? null, f.beforeId ?? null, f.limit],
  );
  return rows;
}

/**
 * Pause: a job no worker holds (queued, or snoozed) becomes paused at once; a job a worker holds
 * gets pause_requested and stays `running` until that worker's next batch boundary, where the
 * batch commit (or the release, or the failed batch, or the rescuer) makes it paused — so a job
 * that reads `paused` never moves again until it is resumed. Pausing a job whose pause is already
 * requested is answered the same (idempotent); one with a cancel requested cannot be paused.
 */
export async function pauseJob(db: Queryable, businessId: number, jobId: number): Promise<JobRow | null> {
  const { rows } = await db.query<JobRow>(
    `UPDATE jobs
        SET status = CASE WHEN status = 'running' AND locked_by IS NOT NULL THEN status ELSE 'paused' END,
            pause_requested = (status = 'running' AND locked_by IS NOT NULL),
            updated_at = now()
      WHERE business_id = $1 AND id = $2 AND status IN ${RUNNABLE_STATUS_SQL} AND NOT cancel_requested
      RETURNING ${JOB_COLUMNS}`,
    [businessId, jobId],
  );
  return rows[0] ?? null;
}

/**
 * Resume: paused → queued for any worker to claim (→ running when a worker still holds it: a row
 * paused while held before pause requests existed, which that worker lets go at its boundary).
 * A pause requested but not yet reached is withdrawn: the job simply goes on running.
 */
export async function resumeJob(db: Queryable, businessId: number, jobId: number): Promise<JobRow | null> {
  const { rows } = await db.query<JobRow>(
    `UPDATE jobs
        SET status = CASE WHEN status = 'paused' AND locked_by IS NULL THEN 'queued' ELSE 'running' END,
            run_at = CASE WHEN status = 'paused' THEN now() ELSE run_at END,
            pause_requested = false, updated_at = now()
      WHERE business_id = $1 AND id = $2
        AND (status = 'paused' OR (status = 'running' AND pause_requested AND NOT cancel_requested))
      RETURNING ${JOB_COLUMNS}`,
    [businessId, jobId],
  );
  return rows[0] ?? null;
}

/**
 * Cancel: a job nobody holds becomes cancelled at once (releasing its lock in the same UPDATE);
 * a job a worker holds gets cancel_requested and ends at that worker's next batch boundary, so
 * the batch in flight commits whole and is reported.
 */
export async function cancelJob(db: Queryable, businessId: number, jobId: number): Promise<JobRow | null> {
  const { rows } = await db.query<JobRow>(
    `UPDATE jobs
        SET status = CASE WHEN locked_by IS NULL THEN 'cancelled' ELSE status END,
            finished_at = CASE WHEN locked_by IS NULL THEN now() ELSE finished_at END,
            cancel_requested = true, updated_at = now()
      WHERE business_id = $1 AND id = $2 AND status IN ${ACTIVE_STATUS_SQL}
      RETURNING ${JOB_COLUMNS}`,
    [businessId, jobId],
  );
  return rows[0] ?? null;
}

/** Deletes finished jobs older than the retention period, a bounded number at a time. */
export async function pruneFinishedJobs(db: Queryable, retentionDays: number, limit = 1000): Promise<number> {
  const { rowCount } = await db.query(
    `DELETE FROM jobs WHERE id IN (
       SELECT id FROM jobs WHERE finished_at < now() - make_interval(days => $1) LIMIT $2)`,
    [retentionDays, limit],
  );
  return rowCount ?? 0;
}
