import type { Job } from '../contract/jobs.js';
import type { JobRow } from './types.js';

const iso = (d: Date | null): string | null => (d ? d.toISOString() : null);

/** The public shape of a job (API.md "Jobs"), as the contract's `Job` describes it. */
export function toJobView(j: JobRow): Job {
  const progress = j.total > 0 ? Math.min(1, j.processed / j.total) : j.status === 'completed' ? 1 : 0;
  return {
    id: j.id,
    type: j.type,
    status: j.status,
    queue: j.queue,
    total: j.total,
    processed: j.processed,
    succeeded: j.succeeded,
    failed: j.failed,
    progress,
    params: j.params,
    created_by: j.created_by,
    created_at: j.created_at.toISOString(),
    started_at: iso(j.started_at),
    heartbeat_at: iso(j.heartbeat_at),
    finished_at: iso(j.finished_at),
    last_error: j.last_error,
    result: j.result,
    cancel_requested: j.cancel_requested,
    pause_requested: j.pause_requested,
    attempts: j.attempts,
    run_at: j.run_at.toISOString(),
  };
}
