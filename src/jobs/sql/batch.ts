import type { QueryConfig } from 'pg';
import type { BatchResult } from '../types.js';

/**
 * How a batch settles its job row, as SQL over the batch's values (`v.*`: the job's columns are
 * unqualified): progress, checkpoint, and the job's next state. Shared by commitBatch (one job,
 * in the batch's own transaction) and commitBatches (several statement-less batches at once), so
 * the two cannot disagree about a boundary.
 *
 * done → completed; cancel requested → cancelled; pause requested → paused (the job keeps its
 * active lock); a job already `paused` while held (a row paused before pause requests existed) is
 * let go as it is. Any of those clears locked_by, and a pause request is always settled here
 * (pause_requested = false): a job that reads `paused` changed for the last time in this UPDATE,
 * with this batch's progress in it.
 */
function settle(v: { processed: string; succeeded: string; failed: string; checkpoint: string; total: string; result: string; done: string }): string {
  const ends = `${v.done} OR cancel_requested OR pause_requested OR status = 'paused'`;
  return `processed = processed + ${v.processed}, succeeded = succeeded + ${v.succeeded}, failed = failed + ${v.failed},
                  checkpoint = ${v.checkpoint}, total = coalesce(${v.total}, total),
                  result = CASE WHEN ${v.result} IS NULL THEN result ELSE coalesce(result, '{}'::jsonb) || ${v.result} END,
                  consecutive_failures = 0, last_error = NULL, heartbeat_at = now(), updated_at = now(),
                  status = CASE WHEN ${v.done} THEN 'completed' WHEN cancel_requested THEN 'cancelled'
                                WHEN pause_requested THEN 'paused' ELSE status END,
                  finished_at = CASE WHEN ${v.done} OR cancel_requested THEN now() ELSE finished_at END,
                  locked_by = CASE WHEN ${ends} THEN NULL ELSE locked_by END,
                  locked_at = CASE WHEN ${ends} THEN NULL ELSE locked_at END,
                  pause_requested = false`;
}

const SETTLED = 'status, processed, total, succeeded, failed';

/**
 * The end of a batch, in the batch's own transaction: progress, checkpoint, and the job's next
 * state (settle above), fenced by the claim (same locked_by AND same attempts). A worker that
 * stalled and was rescued finds no row, so the caller rolls the whole batch back: its late batch
 * never commits.
 *
 * Checking the fence here rather than with a SELECT … FOR UPDATE before the batch saves one
 * round trip per batch (measured in bench/engine.ts) and leaves pause/cancel requests unblocked
 * while a batch runs; exactly-once holds either way because the data change and this UPDATE
 * commit or roll back together.
 */
export function commitBatch(jobId: number, workerId: string, attempt: number, r: BatchResult): QueryConfig {
  return {
    name: 'bulkhead_commit_batch',
    text: `UPDATE jobs
              SET ${settle({ processed: '$4', succeeded: '$5', failed: '$6', checkpoint: '$7::jsonb', total: '$8::int', result: '$9::jsonb', done: '$10::boolean' })}
            WHERE id = $1 AND locked_by = $2 AND attempts = $3
        RETURNING ${SETTLED}`,
    values: [jobId, workerId, attempt, ...batchValues(r)],
  };
}

function batchValues(r: BatchResult): [number, number, number, string, number | null, string | null, boolean] {
  return [r.processed, r.succeeded, r.failed, JSON.stringify(r.checkpoint ?? null), r.total ?? null, r.result ? JSON.stringify(r.result) : null, r.done];
}

/** A batch that wrote nothing in its transaction, waiting for its job row to be settled. */
export interface SettledBatch {
  jobId: number;
  attempt: number;
  result: BatchResult;
}

/**
 * Settles the job rows of several batches that made no statement of their own (a no-op, or work
 * done only at a provider) in ONE statement, each fenced by its own claim: graphile-worker's
 * batched completion, for the batches where it changes nothing about exactly-once (there is no
 * data change to commit together with the progress). A row whose claim moved on is not updated
 * and not returned; its caller treats it as a lost claim. A worker has one of these in flight at a
 * time (completions.ts), and the other writers of a held job touch one row (pause, cancel, a
 * dialer wake) or SKIP LOCKED (heartbeat, rescuer), so it never waits in a cycle.
 *
 * The fence's `locked_by IS NOT DISTINCT FROM $1` (the same test: $1 is never null) is not
 * indexable on purpose. With `=`, the planner hashed every row jobs_locked_by holds for this
 * worker, and that index keeps an entry for each claim until vacuum: in bench/engine.ts the
 * statement grew from 9 to 30 ms per 200 jobs over a 20 000-job run. The rows are found in the
 * primary key by the id array instead.
 */
export function commitBatches(workerId: string, batches: readonly SettledBatch[]): QueryConfig {
  const sorted = [...batches].sort((a, b) => a.jobId - b.jobId);
  const column = (i: number) => sorted.map((b) => batchValues(b.result)[i]);
  return {
    name: 'bulkhead_commit_batches',
    text: `UPDATE jobs
              SET ${settle({ processed: 'v.b_processed', succeeded: 'v.b_succeeded', failed: 'v.b_failed', checkpoint: 'v.b_checkpoint', total: 'v.b_total', result: 'v.b_result', done: 'v.b_done' })}
             FROM unnest($2::bigint[], $3::int[], $4::int[], $5::int[], $6::int[], $7::jsonb[], $8::int[], $9::jsonb[], $10::boolean[])
                     AS v(b_id, b_attempt, b_processed, b_succeeded, b_failed, b_checkpoint, b_total, b_result, b_done)
            WHERE jobs.id = ANY($2::bigint[]) AND jobs.id = v.b_id AND jobs.attempts = v.b_attempt AND jobs.locked_by IS NOT DISTINCT FROM $1
        RETURNING jobs.id, ${SETTLED.split(', ').map((c) => `jobs.${c}`).join(', ')}`,
    values: [workerId, sorted.map((b) => b.jobId), sorted.map((b) => b.attempt), column(0), column(1), column(2), column(3), column(4), column(5), column(6)],
  };
}
