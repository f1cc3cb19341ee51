import type { QueryConfig } from 'pg';
import type { BatchResult } from '../types.js';

/**
 * The end of a batch, in the batch's own transaction: progress, checkpoint, and the job's next
 * state, fenced by the claim (same locked_by AND same attempts). A worker that stalled and was
 * rescued finds no row, so the caller rolls the whole batch back: its late batch never commits.
 *
 * The same UPDATE settles the batch boundary: done → completed; cancel requested → cancelled;
 * pause requested → paused (the job keeps its active lock); a job already `paused` while held (a
 * row paused before pause requests existed) is let go as it is. Any of those clears locked_by,
 * and a pause request is always settled here (pause_requested = false): a job that reads
 * `paused` changed for the last time in this UPDATE, with this batch's progress in it.
 * Checking the fence here rather than with a SELECT … FOR UPDATE before the batch saves one
 * round trip per batch (measured in bench/engine.ts) and leaves pause/cancel requests unblocked
 * while a batch runs; exactly-once holds either way because the data change and this UPDATE
 * commit or roll back together.
 */
export function commitBatch(jobId: number, workerId: string, attempt: number, r: BatchResult): QueryConfig {
  return {
    name: 'bulkhead_commit_batch',
    text: `UPDATE jobs
              SET processed = processed + $4, succeeded = succeeded + $5, failed = failed + $6,
                  checkpoint = $7::jsonb, total = coalesce($8, total),
                  result = CASE WHEN $9::jsonb IS NULL THEN result ELSE coalesce(result, '{}'::jsonb) || $9::jsonb END,
                  consecutive_failures = 0, last_error = NULL, heartbeat_at = now(), updated_at = now(),
                  status = CASE WHEN $10 THEN 'completed' WHEN cancel_requested THEN 'cancelled'
                                WHEN pause_requested THEN 'paused' ELSE status END,
                  finished_at = CASE WHEN $10 OR cancel_requested THEN now() ELSE finished_at END,
                  locked_by = CASE WHEN $10 OR cancel_requested OR pause_requested OR status = 'paused' THEN NULL ELSE locked_by END,
                  locked_at = CASE WHEN $10 OR cancel_requested OR pause_requested OR status = 'paused' THEN NULL ELSE locked_at END,
                  pause_requested = false
            WHERE id = $1 AND locked_by = $2 AND attempts = $3
        RETURNING status, processed, total, succeeded, failed`,
    values: [
      jobId,
      workerId,
      attempt,
      r.processed,
      r.succeeded,
      r.failed,
      JSON.stringify(r.checkpoint ?? null),
      r.total ?? null,
      r.result ? JSON.stringify(r.result) : null,
      r.done,
    ],
  };
}
