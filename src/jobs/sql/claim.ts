import type { QueryConfig } from 'pg';

export const JOB_COLUMNS = `id, business_id, type, queue, priority, status, params, params_hash, lock_key, total,
  processed, succeeded, failed, checkpoint, result, last_error, attempts, consecutive_failures,
  cancel_requested, pause_requested, run_at, locked_by, locked_at, created_by, created_at, started_at, heartbeat_at,
  finished_at, updated_at`;

/**
 * Claims up to `limit` due jobs of the given queues in ONE statement: the CTE picks rows with
 * FOR UPDATE SKIP LOCKED (so concurrent workers never wait on each other or take the same row)
 * and the UPDATE marks them running and bumps `attempts`, the fencing token every later write
 * of this claim must present. Highest priority first, then the longest-waiting (`run_at`).
 *
 * Alternatives considered: a SELECT … FOR UPDATE SKIP LOCKED followed by a separate UPDATE costs
 * one more round trip per claim; an advisory-lock claim (pg_try_advisory_xact_lock in the WHERE)
 * scans rows it cannot take. One CTE, as graphile-worker does.
 */
export function claimJobs(workerId: string, queues: string[], limit: number): QueryConfig {
  return {
    name: 'bulkhead_claim_jobs',
    text: `WITH next AS (
             SELECT id FROM jobs
              WHERE status = 'queued' AND queue = ANY($2::text[]) AND run_at <= now()
              ORDER BY priority DESC, run_at, id
              LIMIT $3
              FOR UPDATE SKIP LOCKED)
           UPDATE jobs j
              SET status = 'running', locked_by = $1, locked_at = now(), heartbeat_at = now(),
                  attempts = j.attempts + 1, started_at = coalesce(j.started_at, now()), updated_at = now()
             FROM next
            WHERE j.id = next.id
        RETURNING ${JOB_COLUMNS.split(',').map((c) => `j.${c.trim()}`).join(', ')}, j.targets`,
    values: [workerId, queues, limit],
  };
}

/** Milliseconds until the next queued job of these queues is due (null: none queued). */
export function nextDueIn(queues: string[]): QueryConfig {
  return {
    name: 'bulkhead_next_due',
    text: `SELECT (extract(epoch FROM min(run_at) - now()) * 1000)::float8 AS ms
             FROM jobs WHERE status = 'queued' AND queue = ANY($1::text[])`,
    values: [queues],
  };
}
