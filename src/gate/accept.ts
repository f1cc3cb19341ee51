import { createHash } from 'node:crypto';
import type pg from 'pg';
import { withTx } from '../db/pool.js';
import { GateRefusal } from '../lib/errors.js';
import { msg } from '../lib/messages.js';
import { isActiveLockViolation } from '../jobs/admission.js';
import { activeJobByLockKey } from '../jobs/domain-api.js';
import { insertJob } from '../jobs/jobs.repo.js';
import type { JobRow } from '../jobs/types.js';
import { enterGate, passGate } from './gate.js';
import { canonicalJson, rememberResponse, replayIdempotent, type StoredResponse } from './idempotency.js';
import { OPERATIONS, type OperationType } from './operations.js';
import { recordAudit, type AuditEntry } from '../people/audit.repo.js';

/** Who asks: the business and user, and what the audit trail records of them. */
export interface Caller {
  businessId: number;
  userId: number;
  email?: string | null;
  tokenId?: number | null;
  ip?: string | null;
}

export interface Idempotency {
  key: string;
  requestHash: string;
}

export interface AcceptDeps {
  pool: pg.Pool;
  dedupWindowS: number;
  onRefuse?: (code: string, op: string) => void;
}

export interface AcceptRequest {
  caller: Caller;
  op: OperationType;
  /** Public params shown on the job. */
  params: Record<string, unknown>;
  /** Large id lists kept beside the job (not in params). */
  targets?: number[];
  /** For operations with a custom lock (one run per lead set, one download per recording). */
  lockKey?: string | null;
  /** What makes two requests "identical" for dedup; defaults to params + targets. */
  identity?: unknown;
  total: number;
  idempotency?: Idempotency | undefined;
  /**
   * Creates the job's domain rows in the same transaction; returns extra response fields. A
   * prepare that writes its rows in one statement may write the job's audit entry in it too
   * (`takeAudit`, then e.g. auditInsertSql), saving acceptJob's own INSERT and its round trip.
   */
  prepare?: (tx: pg.PoolClient, job: JobRow, takeAudit: () => AuditEntry | null) => Promise<Record<string, unknown>>;
}

export interface Accepted extends StoredResponse {
  replayed: boolean;
}

/**
 * Operations that are not a person's bulk action: fetching a recording into the cache is what a
 * play does, on anyone's click, and the play itself is not a change.
 */
const UNAUDITED: ReadonlySet<OperationType> = new Set<OperationType>(['recording_download']);

function paramsHash(identity: unknown): string {
  return createHash('sha256').update(canonicalJson(identity)).digest('hex');
}

/**
 * The one way bulk work enters the system: idempotency replay, the gate, the job and its domain
 * rows, and the stored idempotent answer, all in ONE transaction. A refusal rolls everything back.
 */
export async function acceptJob(deps: AcceptDeps, req: AcceptRequest): Promise<Accepted> {
  const spec = OPERATIONS[req.op];
  const { businessId, userId } = req.caller;
  const hash = paramsHash(req.identity ?? { params: req.params, targets: req.targets ?? null });
  const lockKey = spec.lock === 'operation' ? req.op : spec.lock === 'custom' ? (req.lockKey ?? null) : null;
  try {
    return await withTx(deps.pool, async (tx) => {
      const gate = { businessId, type: req.op, lockKey, paramsHash: hash, limits: { ratePerMinute: spec.ratePerMinute, dedupWindowS: deps.dedupWindowS } };
      const observed = await enterGate(tx, gate, req.idempotency?.key ?? null);
      if (req.idempotency) {
        const stored = await replayIdempotent(tx, businessId, req.idempotency.key, req.idempotency.requestHash);
        if (stored) return { ...stored, replayed: true };
      }
      passGate(gate, observed, (code) => deps.onRefuse?.(code, req.op));
      const job = await insertJob(tx, {
        businessId,
        type: req.op,
        queue: spec.queue,
        priority: spec.priority,
        params: req.params,
        targets: req.targets ?? null,
        paramsHash: hash,
        lockKey,
        total: req.total,
        createdBy: userId,
      });
      // Whoever takes the entry writes it in this transaction: an accepted job without its audit
      // entry cannot exist.
      let pendingAudit: AuditEntry | null = UNAUDITED.has(req.op)
        ? null
        : {
          businessId,
          actor: { userId, email: req.caller.email ?? null, tokenId: req.caller.tokenId ?? null, ip: req.caller.ip ?? null },
          action: 'job.accepted',
          targetType: 'job',
          targetId: job.id,
          details: { operation: req.op, count: req.total },
        };
      const takeAudit = (): AuditEntry | null => {
        const taken = pendingAudit;
        pendingAudit = null;
        return taken;
      };
      const extra = req.prepare ? await req.prepare(tx, job, takeAudit) : {};
      const response: StoredResponse = { statusCode: 202, body: { job_id: job.id, status: job.status, type: job.type, ...extra } };
      if (req.idempotency) await rememberResponse(tx, businessId, req.idempotency.key, req.idempotency.requestHash, response, takeAudit());
      else if (pendingAudit) await recordAudit(tx, pendingAudit);
      return { ...response, replayed: false };
    });
  } catch (err) {
    // Two requests with different operations but one custom lock key can still meet at the
    // unique index; the loser is told which job holds the lock, never a 500.
    if (isActiveLockViolation(err) && lockKey) {
      const holder = await activeJobByLockKey(deps.pool, businessId, lockKey);
      deps.onRefuse?.('operation_in_progress', req.op);
      throw new GateRefusal('operation_in_progress', msg('gate.operation_locked'), 5, {
        job_id: holder,
      });
    }
    throw err;
  }
}
