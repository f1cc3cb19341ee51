import type { JobRow } from './types.js';

/** The public shape of a job (API.md "Jobs"). */
export interface JobView {
  id: number;
  type: string;
  status: JobRow['status'];
  queue: string;
  total: number;
  processed: number;
  succeeded: number;
  failed: number;
  progress: number;
  params: Record<string, unknown>;
  created_by: number | null;
  created_at: string;
  started_at: string | null;
  heartbeat_at: string | null;
  finished_at: string | null;
  last_error: string | null;
  result: Record<string, unknown> | null;
  cancel_requested: boolean;
  attempts: number;
  run_at: string;
}

const iso = (d: Date | null): string | null => (d ? d.toISOString() : null);

export function toJobView(j: JobRow): JobView {
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
    attempts: j.attempts,
    run_at: j.run_at.toISOString(),
  };
}
