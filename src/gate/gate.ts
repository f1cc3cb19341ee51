import type { Queryable } from '../db/pool.js';
import { observeJobsForGate, type AdmissionObservation } from '../jobs/admission.js';
import { GateRefusal } from '../lib/errors.js';
import { idempotencyLock } from './idempotency.js';
import { gateVerdict, type GateLimits } from './verdict.js';

export interface GateRequest {
  businessId: number;
  type: string;
  lockKey: string | null;
  paramsHash: string;
  /** The operation's default rate; a per-business override in businesses.rate_limits wins. */
  limits: GateLimits;
}

/** The advisory lock that serializes one (business, operation) at the gate. */
function gateLock(businessId: number, type: string): string {
  return `gate:${businessId}:${type}`;
}

/**
 * Enters the gate inside the job-insert transaction: serialized per (business, operation) by a
 * transaction-scoped advisory lock, so two identical requests cannot both observe "no active
 * job", then observes the jobs (src/jobs/admission.ts). The lock ends with the transaction, so
 * there is nothing to release and nothing to leak; if the database is unreachable the request
 * fails — there is no fail-open path.
 *
 * With an Idempotency-Key, the key's own lock is taken first, in every request that has a key:
 * its lookup (replayIdempotent) comes after, in a statement of its own (a statement's snapshot is
 * taken when it starts, before any lock it waits for). The two locks are always taken in this
 * order, so no two requests wait on each other's.
 *
 * Lock and observation are one round trip: a VOLATILE function (migration 020) whose read takes
 * its snapshot after the locks. As one SQL statement they could not be (measured on PostgreSQL
 * 17: a lock and a count in one SELECT, as a target list, a subquery gated on the lock or a
 * LATERAL after it, all saw 0 rows committed while they waited; the next statement saw 1).
 * test/gate/gate-http.test.ts sends 20 identical requests at once: exactly one job.
 */
export function enterGate(tx: Queryable, req: GateRequest, idempotencyKey: string | null): Promise<AdmissionObservation> {
  return observeJobsForGate(tx, {
    locks: idempotencyKey === null
      ? [gateLock(req.businessId, req.type)]
      : [idempotencyLock(req.businessId, idempotencyKey), gateLock(req.businessId, req.type)],
    businessId: req.businessId,
    type: req.type,
    lockKey: req.lockKey,
    paramsHash: req.paramsHash,
    dedupWindowS: req.limits.dedupWindowS,
  });
}

/** The gate's verdict on what `enterGate` observed: returns, or throws the refusal. */
export function passGate(req: GateRequest, o: AdmissionObservation, onRefuse?: (code: string) => void): void {
  const verdict = gateVerdict(o, { ...req.limits, ratePerMinute: o.rateOverride ?? req.limits.ratePerMinute }, o.now);
  if (!verdict.allow) {
    onRefuse?.(verdict.code);
    throw new GateRefusal(verdict.code, verdict.message, verdict.retryAfterS, verdict.jobId === null ? {} : { job_id: verdict.jobId });
  }
}
