import type { QueryConfig } from 'pg';

export function registerWorker(workerId: string, hostname: string, pid: number, queues: string[]): QueryConfig {
  return {
    text: `INSERT INTO workers (id, hostname, pid, queues) VALUES ($1, $2, $3, $4)
           ON CONFLICT (id) DO UPDATE SET heartbeat_at = now(), stopped_at = NULL`,
    values: [workerId, hostname, pid, queues],
  };
}

/** Liveness of the worker, and heartbeat_at of the jobs it holds (never waiting on a batch). */
export function heartbeat(workerId: string): QueryConfig {
  return {
    name: 'bulkhead_heartbeat',
    text: `WITH w AS (UPDATE workers SET heartbeat_at = now() WHERE id = $1 RETURNING id),
                j AS (UPDATE jobs SET heartbeat_at = now()
                       WHERE id IN (SELECT id FROM jobs WHERE locked_by = $1 FOR UPDATE SKIP LOCKED)
                       RETURNING id)
           SELECT (SELECT count(*) FROM w)::int AS alive, (SELECT count(*) FROM j)::int AS jobs`,
    values: [workerId],
  };
}

export function markWorkerStopped(workerId: string): QueryConfig {
  return { text: `UPDATE workers SET stopped_at = now() WHERE id = $1`, values: [workerId] };
}

/**
 * The rescuer: jobs held by a worker that has not heartbeated for `staleMs` (or that no longer
 * exists, or has stopped) go back to the queue with their checkpoint; a pending cancel completes
 * instead, and a pending pause becomes `paused` (the dead worker's last committed batch was the
 * boundary). SKIP LOCKED: a row locked by a batch in progress belongs to a live transaction; if its
 * worker dies the server ends that transaction and the next sweep takes the job.
 */
export function rescueStaleJobs(staleMs: number): QueryConfig {
  return {
    name: 'bulkhead_rescue_stale',
    text: `WITH stale AS (
             SELECT j.id FROM jobs j
               LEFT JOIN workers w ON w.id = j.locked_by
              WHERE j.locked_by IS NOT NULL
                AND j.status IN ('running', 'paused')
                AND (w.id IS NULL OR w.stopped_at IS NOT NULL
                     OR w.heartbeat_at < now() - make_interval(secs => $1::float8 / 1000))
              FOR UPDATE OF j SKIP LOCKED)
           UPDATE jobs j
              SET status = CASE WHEN j.cancel_requested THEN 'cancelled' WHEN j.pause_requested THEN 'paused'
                                WHEN j.status = 'running' THEN 'queued' ELSE j.status END,
                  finished_at = CASE WHEN j.cancel_requested THEN now() ELSE j.finished_at END,
                  locked_by = NULL, locked_at = NULL, pause_requested = false, run_at = now(), updated_at = now()
             FROM stale WHERE j.id = stale.id
        RETURNING j.id, j.type, j.business_id, j.status`,
    values: [staleMs],
  };
}

export function pruneWorkers(): QueryConfig {
  return {
    text: `DELETE FROM workers
            WHERE (stopped_at IS NOT NULL AND stopped_at < now() - interval '1 hour')
               OR heartbeat_at < now() - interval '1 day'`,
    values: [],
  };
}
