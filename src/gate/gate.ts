import type { Queryable } from '../db/pool.js';
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
  await tx.query(`SELECT pg_advisory_xact_lock(hashtextextended('gate:' || $1::text || ':' || $2::text, 0))`, [
    req.businessId,
    req.type,
  ]);
  const { rows } = await tx.query<{
    active_id: number | null;
    dup_id: number | null;
    dup_at: Date | null;
    recent: number;
    oldest: Date | null;
    rate_override: number | null;
    now: Date;
  }>(
    `SELECT
       (SELECT id FROM jobs WHERE business_id = $1 AND lock_key = $3
           AND status IN ('queued', 'running', 'paused') LIMIT 1) AS active_id,
       d.id AS dup_id, d.created_at AS dup_at,
       r.recent::int AS recent, r.oldest,
       (SELECT (rate_limits->>$2)::int FROM businesses WHERE id = $1) AS rate_override,
       now() AS now
     FROM (SELECT count(*) AS recent, min(created_at) AS oldest FROM jobs
            WHERE business_id = $1 AND type = $2 AND created_at > now() - interval '60 seconds') r
     LEFT JOIN LATERAL (
       SELECT id, created_at FROM jobs
        WHERE business_id = $1 AND type = $2 AND params_hash = $4
          AND created_at > now() - make_interval(secs => $5)
        ORDER BY id DESC LIMIT 1) d ON true`,
    [req.businessId, req.type, req.lockKey, req.paramsHash, req.limits.dedupWindowS],
  );
  const o = rows[0];
  if (!o) throw new Error('gate observation query returned no row');
  const verdict = gateVerdict(
    {
      activeJobId: req.lockKey === null ? null : o.active_id,
      duplicate: o.dup_id !== null && o.dup_at ? { jobId: o.dup_id, createdAt: o.dup_at } : null,
      recentCount: o.recent,
      oldestRecentAt: o.oldest,
    },
    { ...req.limits, ratePerMinute: o.rate_override ?? req.limits.ratePerMinute },
    o.now,
  );
  if (!verdict.allow) {
    onRefuse?.(verdict.code);
    throw new GateRefusal(verdict.code, verdict.message, verdict.retryAfterS, verdict.jobId === null ? {} : { job_id: verdict.jobId });
  }
}
