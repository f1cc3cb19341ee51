import type { Queryable } from '../db/pool.js';

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

/** What the gate reads before its verdict: the business's rate override, and the jobs. */
export interface AdmissionObservation extends JobsObservation {
  /** businesses.rate_limits[type]: this business's own limit per minute, if it has one. */
  rateOverride: number | null;
}

/**
 * Takes the advisory locks `locks` (in order, `hashtextextended(key, 0)`, held to the end of the
 * transaction), THEN observes the active lock holder, an identical recent job and the last
 * minute's jobs: one round trip, through the VOLATILE function of migration 020, whose second
 * statement takes its snapshot after the locks are held, so it sees the job the previous holder
 * committed while this request waited. One SQL statement could not (src/gate/gate.ts).
 */
export async function observeJobsForGate(
  tx: Queryable,
  q: { locks: string[]; businessId: number; type: string; lockKey: string | null; paramsHash: string; dedupWindowS: number },
): Promise<AdmissionObservation> {
  // Named: prepared once per connection, planned from then on without parsing (one per request).
  const { rows } = await tx.query<{
    o_rate_override: number | null; o_active_id: number | null; o_dup_id: number | null; o_dup_at: Date | null; o_recent: number; o_oldest: Date | null; o_now: Date;
  }>({
    name: 'bulkhead_gate_observation',
    text: `SELECT * FROM bulkhead_gate_observation($1::text[], $2, $3, $4, $5, $6)`,
    values: [q.locks, q.businessId, q.type, q.lockKey, q.paramsHash, q.dedupWindowS],
  });
  const o = rows[0];
  if (!o) throw new Error('gate observation returned no row');
  return {
    rateOverride: o.o_rate_override,
    activeJobId: q.lockKey === null ? null : o.o_active_id,
    duplicate: o.o_dup_id !== null && o.o_dup_at ? { jobId: o.o_dup_id, createdAt: o.o_dup_at } : null,
    recentCount: o.o_recent,
    oldestRecentAt: o.o_oldest,
    now: o.o_now,
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
