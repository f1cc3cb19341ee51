import type { QueryConfig } from 'pg';

/**
 * Hands a held job back (runtime slice over, SIGTERM, snooze, paused at a boundary): a running
 * job becomes queued again and keeps its checkpoint; a paused one stays paused; a requested
 * cancel completes here, and a requested pause becomes `paused` (cancel wins over pause). Fenced
 * like every write of a claim.
 */
export function releaseJob(jobId: number, workerId: string, attempt: number, delayMs = 0): QueryConfig {
  return {
    name: 'bulkhead_release_job',
    text: `UPDATE jobs
              SET status = CASE WHEN cancel_requested THEN 'cancelled' WHEN pause_requested THEN 'paused'
                                WHEN status = 'running' THEN 'queued' ELSE status END,
                  finished_at = CASE WHEN cancel_requested THEN now() ELSE finished_at END,
                  locked_by = NULL, locked_at = NULL, pause_requested = false, updated_at = now(),
                  run_at = now() + make_interval(secs => $4::float8 / 1000)
            WHERE id = $1 AND locked_by = $2 AND attempts = $3
        RETURNING status`,
    values: [jobId, workerId, attempt, delayMs],
  };
}

/**
 * A batch failed and was rolled back. Retry later with backoff, or fail the job when the
 * failure is permanent or the consecutive-failure limit is reached. A requested cancel ends the
 * job here; a requested pause (unless the job fails) leaves it `paused`: the failed batch is the
 * boundary, and resume retries it.
 */
export function recordBatchFailure(
  jobId: number,
  workerId: string,
  attempt: number,
  error: string,
  permanent: boolean,
  maxConsecutive: number,
  retryInMs: number,
): QueryConfig {
  return {
    name: 'bulkhead_batch_failure',
    text: `UPDATE jobs
              SET consecutive_failures = consecutive_failures + 1,
                  last_error = $4,
                  status = CASE WHEN cancel_requested THEN 'cancelled'
                                WHEN $5 OR consecutive_failures + 1 >= $6 THEN 'failed'
                                WHEN pause_requested THEN 'paused'
                                WHEN status = 'running' THEN 'queued' ELSE status END,
                  finished_at = CASE WHEN cancel_requested OR $5 OR consecutive_failures + 1 >= $6
                                     THEN now() ELSE finished_at END,
                  run_at = now() + make_interval(secs => $7::float8 / 1000),
                  locked_by = NULL, locked_at = NULL, pause_requested = false, updated_at = now()
            WHERE id = $1 AND locked_by = $2 AND attempts = $3
        RETURNING status, consecutive_failures`,
    values: [jobId, workerId, attempt, error.slice(0, 2000), permanent, maxConsecutive, retryInMs],
  };
}
