import type { Queryable } from '../db/pool.js';
import type { KeysetStep } from '../jobs/batches.js';
import { intoTrashFromGone } from './trash.repo.js';

/*
 * Every bulk delete moves the leads to the trash (trash.repo.ts) in the statement that deletes
 * them: notes, activities and reminders are copied there and then go by ON DELETE CASCADE.
 * `jobId` is the delete job, which the trash remembers so the deletion can be listed and undone.
 */

/** Moves the caller's leads among `ids` to the trash; returns how many. */
export async function deleteLeadsByIds(db: Queryable, businessId: number, ids: number[], jobId: number): Promise<number> {
  const { rowCount } = await db.query(
    `WITH gone AS (
       DELETE FROM leads l WHERE l.business_id = $1 AND l.id = ANY($2::bigint[]) RETURNING l.id, l.business_id, l AS lead)
     ${intoTrashFromGone('$3')}`,
    [businessId, ids, jobId],
  );
  return rowCount ?? 0;
}

export interface LeadChanges {
  status?: string | undefined;
  /** undefined: keep; null: unassign. */
  ownerUserId?: number | null | undefined;
  tagsAdd?: string[] | undefined;
  tagsRemove?: string[] | undefined;
}

/**
 * Applies one change set to the caller's leads among `ids`. Tags keep their order; added tags
 * that a lead already has are not repeated, and a tag both added and removed ends up removed.
 */
export async function updateLeadsByIds(db: Queryable, businessId: number, ids: number[], c: LeadChanges): Promise<number> {
  const { rowCount } = await db.query(
    `UPDATE leads
        SET status = coalesce($3, status),
            owner_user_id = CASE WHEN $4::boolean THEN $5::bigint ELSE owner_user_id END,
            tags = ARRAY(SELECT u.t FROM unnest(tags || $6::text[]) WITH ORDINALITY AS u(t, ord)
                          WHERE u.t <> ALL ($7::text[])
                          GROUP BY u.t ORDER BY min(u.ord)),
            updated_at = now()
      WHERE business_id = $1 AND id = ANY($2::bigint[])`,
    [businessId, ids, c.status ?? null, c.ownerUserId !== undefined, c.ownerUserId ?? null, c.tagsAdd ?? [], c.tagsRemove ?? []],
  );
  return rowCount ?? 0;
}

/** Only imported leads among `ids` are moved to the trash; manual ones stay (and count as failed). */
export async function deleteImportedByIds(db: Queryable, businessId: number, ids: number[], jobId: number): Promise<number> {
  const { rowCount } = await db.query(
    `WITH gone AS (
       DELETE FROM leads l WHERE l.business_id = $1 AND l.id = ANY($2::bigint[]) AND l.source = 'import'
       RETURNING l.id, l.business_id, l AS lead)
     ${intoTrashFromGone('$3')}`,
    [businessId, ids, jobId],
  );
  return rowCount ?? 0;
}


/**
 * The next `limit` imported leads after `afterId` (all of them, or those of one import), moved to
 * the trash in one statement. Keyset on id rather than OFFSET: each batch starts where the last
 * stopped. The SELECT takes no row locks: a lead deleted meanwhile is simply not deleted again,
 * and the count picked still says whether more may follow. pg sends unnamed statements, which
 * PostgreSQL plans with the actual values, so `$2 IS NULL OR …` folds away and the import index
 * is used.
 */
export async function deleteImportedAfter(
  db: Queryable,
  businessId: number,
  importId: number | null,
  afterId: number,
  limit: number,
  jobId: number,
): Promise<KeysetStep> {
  const { rows } = await db.query<{ picked: number; deleted: number; last_id: number | null }>(
    `WITH picked AS (
       SELECT id FROM leads
        WHERE business_id = $1 AND source = 'import' AND ($2::bigint IS NULL OR import_id = $2)
          AND id > $3
        ORDER BY id LIMIT $4),
     gone AS (
       DELETE FROM leads l USING picked p WHERE l.business_id = $1 AND l.id = p.id
       RETURNING l.id, l.business_id, l AS lead),
     moved AS (
       ${intoTrashFromGone('$5')}
       RETURNING 1)
     SELECT (SELECT count(*)::int FROM picked) AS picked,
            (SELECT count(*)::int FROM moved) AS deleted,
            (SELECT max(id) FROM picked) AS last_id`,
    [businessId, importId, afterId, limit, jobId],
  );
  const r = rows[0];
  return { picked: r?.picked ?? 0, changed: r?.deleted ?? 0, lastId: r?.last_id ?? null };
}

export async function countImported(db: Queryable, businessId: number, importId: number | null): Promise<number> {
  const { rows } = await db.query<{ n: number }>(
    `SELECT count(*)::int AS n FROM leads WHERE business_id = $1 AND source = 'import' AND ($2::bigint IS NULL OR import_id = $2)`,
    [businessId, importId],
  );
  return rows[0]?.n ?? 0;
}
