import { createHash } from 'node:crypto';
import { acceptJob, type AcceptDeps, type Accepted, type Caller, type Idempotency } from '../gate/accept.js';
import { distinctSorted } from '../jobs/batches.js';
import { setJobTotal } from '../jobs/domain-api.js';
import { ValidationError } from '../lib/errors.js';
import { msg } from '../lib/messages.js';
import { DIALER_CHANNEL } from './call-state.js';
import type { CallFlow } from './call-flow.js';
import { insertRun, insertRunItems } from './runs.repo.js';

/** Runs over the same set of leads share a lock: one active run per lead set. */
function leadSetLockKey(sortedIds: number[]): string {
  return `outbound:${createHash('sha256').update(sortedIds.join(',')).digest('hex').slice(0, 32)}`;
}

/**
 * Accepts a run: the job, the run row and one item per lead of the business are created in the
 * gate's transaction (all or nothing). Ids that are not the business's leads are left out and
 * reported; a run with no lead at all is a 400 (and creates nothing).
 */
export async function acceptRun(
  deps: AcceptDeps,
  who: Caller,
  leadIds: number[],
  concurrency: number | undefined,
  maxOutboundCalls: number,
  idempotency: Idempotency | undefined,
  callFlow: CallFlow | null = null,
): Promise<Accepted> {
  const targets = distinctSorted(leadIds);
  const conc = concurrency ?? maxOutboundCalls;
  return acceptJob(deps, {
    caller: who,
    op: 'enqueue_outbound_calls',
    params: { lead_count: targets.length, concurrency: conc },
    // The ids are the run's items; kept out of the job's targets, which every claim would reload.
    identity: { leads: targets, concurrency: conc, ...(callFlow ? { call_flow: callFlow } : {}) },
    lockKey: leadSetLockKey(targets),
    total: targets.length,
    idempotency,
    prepare: async (tx, job) => {
      const runId = await insertRun(tx, who.businessId, job.id, conc, who.userId, callFlow);
      const items = await insertRunItems(tx, who.businessId, runId, targets);
      if (items === 0) {
        throw new ValidationError(msg('outbound.no_leads'), [{ path: 'body.lead_ids', message: msg('issue.no_lead_of_business') }]);
      }
      if (items !== targets.length) {
        await setJobTotal(tx, who.businessId, job.id, items);
      }
      // Dialers start filling at commit, without waiting for a worker to claim the job.
      await tx.query(`SELECT pg_notify($1, $2::text)`, [DIALER_CHANNEL, who.businessId]);
      return { run_id: runId, leads: items, not_found: targets.length - items };
    },
  });
}
