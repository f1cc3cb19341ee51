import type { Queryable } from '../db/pool.js';
import { observeJobsForGate } from '../jobs/admission.js';
import { GateRefusal } from '../lib/errors.js';
import { gateVerdict, type GateLimits } from './verdict.js';

export interface GateRequest {
  businessId: number;
  type: string;
  lockKey: string | null;
  paramsHash: string;
  /** The operation's default rate; a per-business override in businesses.rate_limits wins. */
  limits: GateLimits;
}

/**
 * Decides inside the job-insert transaction, serialized per (business, operation) by a
 * transaction-scoped advisory lock: two identical requests cannot both observe "no active job".
 * The lock ends with the transaction, so there is nothing to release and nothing to leak; if the
 * database is unreachable the request fails — there is no fail-open path.
 */
export async function passGate(tx: Queryable, req: GateRequest, onRefuse?: (code: string) => void): Promise<void> {
  // The business's rate override rides on the lock's statement (it needs no serialization); the
  // jobs are observed in the next statement, whose snapshot sees the previous holder's commit.
  const { rows } = await tx.query<{ rate_override: number | null }>(
    `SELECT pg_advisory_xact_lock(hashtextextended('gate:' || $1::bigint::text || ':' || $2::text, 0)),
            (SELECT (rate_limits->>$2)::int FROM businesses WHERE id = $1) AS rate_override`,
    [req.businessId, req.type],
  );
  const rateOverride = rows[0]?.rate_override ?? null;
  const o = await observeJobsForGate(tx, {
    businessId: req.businessId,
    type: req.type,
    lockKey: req.lockKey,
    paramsHash: req.paramsHash,
    dedupWindowS: req.limits.dedupWindowS,
  });
  const verdict = gateVerdict(o, { ...req.limits, ratePerMinute: rateOverride ?? req.limits.ratePerMinute }, o.now);
  if (!verdict.allow) {
    onRefuse?.(verdict.code);
    throw new GateRefusal(verdict.code, verdict.message, verdict.retryAfterS, verdict.jobId === null ? {} : { job_id: verdict.jobId });
  }
}
