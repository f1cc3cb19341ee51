import type { JobHandlerDefinition } from '../jobs/types.js';
import { PermanentError } from '../lib/errors.js';
import { cancelQueuedItems, getRunByJob, runProgress } from './runs.repo.js';

export interface RunJobDeps {
  requestFill(businessId: number): void;
  pollMs: number;
}

/**
 * `enqueue_outbound_calls`: the job is the run. A batch does not dial (the dialer does, outside
 * any transaction); it counts the run's ended items into the job's progress (processed = calls
 * ended, succeeded = completed), asks the dialer to fill the business's slots, and snoozes until
 * a call of the run ends (call-state.ts wakes it) or DIALER_RUN_POLL_MS passes. It completes when
 * every item has ended. A cancel requested while the job is held marks the queued items
 * cancelled in the batch that ends the job; calls in flight finish.
 */
export function runJob(deps: RunJobDeps): JobHandlerDefinition {
  return {
    type: 'enqueue_outbound_calls',
    batch: async ({ tx, job }) => {
      const run = await getRunByJob(tx, job.business_id, job.id);
      if (!run) throw new PermanentError(`run of job ${job.id} not found`);
      const { rows } = await tx.query<{ cancel_requested: boolean }>(
        `SELECT cancel_requested FROM jobs WHERE business_id = $1 AND id = $2`,
        [job.business_id, job.id],
      );
      const cancelling = rows[0]?.cancel_requested ?? false;
      if (cancelling) await cancelQueuedItems(tx, job.business_id, run.id);
      const p = await runProgress(tx, job.business_id, run.id);
      const done = p.ended >= p.total;
      if (!done && !cancelling) deps.requestFill(job.business_id);
      const succeeded = p.completed - job.succeeded;
      const ended = p.ended - job.processed;
      return {
        processed: ended,
        succeeded,
        failed: ended - succeeded,
        checkpoint: { ended: p.ended },
        total: p.total,
        done,
        ...(done || cancelling ? {} : { snoozeMs: deps.pollMs }),
      };
    },
  };
}
