import type pg from 'pg';
import { withTx, type Queryable } from '../db/pool.js';

/** Who did it: a signed-in user or a token (null for the platform admin and the system). */
export interface Actor {
  userId: number | null;
  email: string | null;
  tokenId?: number | null;
  ip?: string | null;
}

export interface AuditEntry {
  businessId: number;
  actor: Actor | null;
  action: string;
  targetType?: string | null;
  targetId?: string | number | null;
  details?: Record<string, unknown>;
}

/**
 * Appends one entry. Always called with the transaction of the action it records, so the two
 * commit or roll back together (DESIGN.md invariant 9).
 */
export async function recordAudit(db: Queryable, e: AuditEntry): Promise<void> {
  const insert = auditInsertSql(e, 2);
  await db.query({ name: 'bulkhead_audit_record', text: insert.text, values: [e.businessId, ...insert.values] });
}

/**
 * recordAudit's INSERT as text and values, for an action that writes its entry in its own
 * statement (a data-modifying CTE: `WITH …, audited AS (<text>) …`), one round trip fewer than a
 * statement of its own. The enclosing statement's `$1` is the business; the entry's other values
 * are numbered from `$<firstParam>` and are appended to the statement's values by the caller.
 */
export function auditInsertSql(e: AuditEntry, firstParam: number): { text: string; values: unknown[] } {
  const values = [
    e.actor?.userId ?? null,
    e.actor?.email ?? null,
    e.actor?.tokenId ?? null,
    e.action,
    e.targetType ?? null,
    e.targetId === undefined || e.targetId === null ? null : String(e.targetId),
    JSON.stringify(e.details ?? {}),
    e.actor?.ip ?? null,
  ];
  const params = values.map((_, i) => `$${firstParam + i}`).join(', ');
  return {
    text: `INSERT INTO audit_log (business_id, user_id, user_email, token_id, action, target_type, target_id, details, ip)
     VALUES ($1, ${params})`,
    values,
  };
}

export interface AuditRow {
  id: number;
  at: Date;
  user_id: number | null;
  user_email: string | null;
  token_id: number | null;
  action: string;
  target_type: string | null;
  target_id: string | null;
  details: Record<string, unknown>;
  ip: string | null;
}

export async function listAudit(
  db: Queryable,
  businessId: number,
  f: { action?: string | undefined; userId?: number | undefined; targetType?: string | undefined; targetId?: string | undefined; beforeId?: number | undefined; limit: number },
): Promise<AuditRow[]> {
  const { rows } = await db.query<AuditRow>(
    `SELECT id, at, user_id, user_email, token_id, action, target_type, target_id, details, ip
       FROM audit_log
      WHERE business_id = $1
        AND ($2::text IS NULL OR action = $2)
        AND ($3::bigint IS NULL OR user_id = $3)
        AND ($4::text IS NULL OR target_type = $4)
        AND ($5::text IS NULL OR target_id = $5)
        AND ($6::bigint IS NULL OR id < $6)
      ORDER BY id DESC
      LIMIT $7`,
    [businessId, f.action ?? null, f.userId ?? null, f.targetType ?? null, f.targetId ?? null, f.beforeId ?? null, f.limit],
  );
  return rows;
}

/**
 * The retention prune, the only deletion the table's trigger lets through (008_people.sql): the
 * setting is local to each slice's transaction and the trigger itself checks every row's age
 * against it. In slices, so a first prune of a large table holds no lock for long.
 */
export async function pruneAudit(pool: pg.Pool, retentionDays: number, slice = 10_000): Promise<number> {
  let total = 0;
  for (;;) {
    const n = await withTx(pool, async (tx) => {
      await tx.query(`SELECT set_config('bulkhead.audit_prune_days', $1::text, true)`, [retentionDays]);
      const { rowCount } = await tx.query(
        `DELETE FROM audit_log WHERE id IN (
           SELECT id FROM audit_log WHERE at < now() - make_interval(days => $1::int) ORDER BY id LIMIT $2)`,
        [retentionDays, slice],
      );
      return rowCount ?? 0;
    });
    total += n;
    if (n < slice) return total;
  }
}
