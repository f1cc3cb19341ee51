import type { Queryable } from '../db/pool.js';
import { ACTIVE_STATUS_SQL } from './sql/fragments.js';

/**
 * What the gate (src/gate) reads of the jobs table to admit a new job: the gate keeps its rules
 * (gateVerdict) and its serialization; the engine owns the statement over its table.
 */
export interface JobsObservation {
  /** The active job holding `lockKey` (null when there is no lock key or no such job). */
  activeJobId: number | null;
  /** The newest job with identical params inside the dedup window, if any. */
  duplicate: { jobId: number; createdAt: Date } | null;
  /** Jobs of this type created in the last 60 s, and when the oldest of them was. */
  recentCount: number;
  oldestRecentAt: Date | null;
  /** The database's clock, for the verdict: every process judges the window by one clock. */
  now: Date;
}

/**
 * Lock, duplicate and rate observations in ONE statement. Must run after the gate's lock is
 * taken, in a statement of its own, so its snapshot sees the previous holder's committed job.
 */
export async function observeJobsForGate(
  tx: Queryable,
  q: { businessId: number; type: string; lockKey: string | null; paramsHash: string; dedupWindowS: number },
): Promise<JobsObservation> {
  const { rows } = await tx.query<{ active_id: number | null; dup_id: number | null; dup_at: Date | null; recent: number; oldest: Date | null; now: Date }>(
    `SELECT
       (SELECT id FROM jobs WHERE business_id = $1 AND lock_key = $3
           AND status IN ${ACTIVE_STATUS_SQL} LIMIT 1) AS active_id,
       d.id AS dup_id, d.created_at AS dup_at,
       r.recent::int AS recent, r.oldest,
       now() AS now
     FROM (SELECT count(*) AS recent, min(created_at) AS oldest FROM jobs
            WHERE business_id = $1 AND type = $2 AND created_at > now() - interval '60 seconds') r
     LEFT JOIN LATERAL (
       SELECT id, created_at FROM jobs
        WHERE business_id = $1 AND type = $2 AND params_hash = $4
          AND created_at > now() - make_interval(secs => $5)
        ORDER BY id DESC LIMIT 1) d ON true`,
    [q.businessId, q.type, q.lockKey, q.paramsHash, q.dedupWindowS],
  );
  const o = rows[0];
  if (!o) throw new Error('gate observation query returned no row');
  return {
    activeJobId: q.lockKey === null ? null : o.active_id,
    duplicate: o.dup_id !== null && o.dup_at ? { jobId: o.dup_id, createdAt: o.dup_at } : null,
    recentCount: o.recent,
    oldestRecentAt: o.oldest,
    now: o.now,
  };
}

/**
 * The insert met another active job with the same lock key at the unique index over the active
 * statuses (jobs_active_lock), e.g. two operations sharing one custom lock key.
 */
export function isActiveLockViolation(err: unknown): boolean {
  return (
    typeof err === 'object' && err !== null &&
    (err as { code?: unknown }).code === '23505' &&
    (err as { constraint?: unknown }).constraint === 'jobs_active_lock'
  );
}
