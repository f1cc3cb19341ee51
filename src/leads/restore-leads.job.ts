import { z } from 'zod';
import { RestoreFailure } from '../contract/trash.js';
import { keysetBatch, targetsBatch } from '../jobs/batches.js';
import type { BatchResult } from '../jobs/types.js';
import { defineJob } from '../jobs/types.js';
import { PermanentError } from '../lib/errors.js';
import { restoreFromTrash, trashIdsOfJob, type RestoreOutcome } from './trash.repo.js';

/** The job result keeps the first failures with their reasons; the counts stay exact. */
export const RESTORE_FAILURES_SHOWN = 100;

const RESTORE_FAILURE_REASONS = RestoreFailure.shape.reason.options;

/**
 * The failures so far. They travel in the checkpoint, which commits with each batch, so a batch
 * that rolls back (a crash, a lost claim) leaves no trace in them and a retried one adds its own
 * once; the result shows them (the engine merges a batch's result into the job's shallowly).
 */
const RestoreTally = z.object({
  failures: z.array(RestoreFailure).default([]),
  failed_by_reason: z.partialRecord(z.enum(RESTORE_FAILURE_REASONS), z.number().int().nonnegative()).default({}),
});
export type RestoreTally = z.infer<typeof RestoreTally>;

function readTally(checkpoint: unknown): RestoreTally {
  const parsed = RestoreTally.safeParse(checkpoint ?? {});
  if (!parsed.success) throw new PermanentError(`unreadable checkpoint ${JSON.stringify(checkpoint)}: ${parsed.error.message}`);
  return parsed.data;
}

/**
 * Why each lead of a restore statement's answer did not come back. A lead that lost its phone to
 * another trashed lead of the same batch (two deletes of one number) names that lead. Pure.
 */
export function restoreFailures(outcomes: readonly RestoreOutcome[]): RestoreFailure[] {
  const restoredByPhone = new Map<string, number>();
  for (const o of outcomes) if (o.restored && o.phone !== null) restoredByPhone.set(o.phone, o.lead_id);
  return outcomes
    .filter((o) => !o.restored)
    .map((o): RestoreFailure => {
      if (o.phone === null) {
        return { lead_id: o.lead_id, reason: 'not_in_trash', message: `Lead ${o.lead_id} is not in the trash (never deleted, already restored, or purged).`, conflicting_lead_id: null };
      }
      const holder = o.phone_holder ?? restoredByPhone.get(o.phone) ?? null;
      if (holder === null) {
        return { lead_id: o.lead_id, reason: 'conflict', message: `Lead ${o.lead_id} could not be put back: another lead took its place meanwhile. Try again.`, conflicting_lead_id: null };
      }
      return { lead_id: o.lead_id, reason: 'phone_taken', message: `The phone ${o.phone} now belongs to lead ${holder}; lead ${o.lead_id} stays in the trash.`, conflicting_lead_id: holder };
    });
}

/** The tally with one batch's failures added: counts always, details up to the cap. Pure. */
export function addFailures(tally: RestoreTally, failures: readonly RestoreFailure[]): RestoreTally {
  const byReason = { ...tally.failed_by_reason };
  for (const f of failures) byReason[f.reason] = (byReason[f.reason] ?? 0) + 1;
  const room = Math.max(0, RESTORE_FAILURES_SHOWN - tally.failures.length);
  return { failures: [...tally.failures, ...failures.slice(0, room)], failed_by_reason: byReason };
}

const RestoreParams = z.discriminatedUnion('mode', [
  z.looseObject({ mode: z.literal('job'), delete_job_id: z.number().int().positive() }),
  z.looseObject({ mode: z.literal('lead_ids'), lead_count: z.number().int().nonnegative() }),
]);

/**
 * `restore_leads`: trashed leads back into leads, with their children and their ids. By delete
 * job, a keyset walk over that job's rows in the trash (those that fail stay there and are walked
 * past); by ids, a slice of the job's targets per batch. Each batch restores and empties its trash
 * rows in the batch transaction, so a lead comes back exactly once whatever crashes.
 */
export const restoreLeadsJob = defineJob({
  type: 'restore_leads',
  params: RestoreParams,
  batch: async (ctx): Promise<BatchResult> => {
    const { tx, job, params: p } = ctx;
    const tally = readTally(ctx.checkpoint);
    let outcomes: RestoreOutcome[] = [];
    const restore = async (ids: number[]): Promise<number> => {
      outcomes = await restoreFromTrash(tx, job.business_id, ids);
      return outcomes.filter((o) => o.restored).length;
    };
    const step = p.mode === 'lead_ids'
      ? await targetsBatch(ctx, restore)
      : await keysetBatch(ctx, async (afterId, limit) => {
        const ids = await trashIdsOfJob(tx, job.business_id, p.delete_job_id, afterId, limit);
        const changed = ids.length > 0 ? await restore(ids) : 0;
        return { picked: ids.length, changed, lastId: ids.at(-1) ?? null };
      });
    const next = addFailures(tally, restoreFailures(outcomes));
    // Both batch shapes checkpoint a plain object ({offset} or {last_id}).
    const position = step.checkpoint as Record<string, unknown>;
    return { ...step, checkpoint: { ...position, ...next }, result: next };
  },
});
