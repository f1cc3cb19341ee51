import type { Queryable } from '../db/pool.js';
import type { KeysetStep } from '../jobs/batches.js';
import { moveLeadsToTrash } from './trash.repo.js';

/*
 * Every bulk delete moves the leads to the trash with their notes, activities and reminders
 * (trash.repo.ts moveLeadsToTrash), remembering the delete job so the deletion can be listed and
 * undone (restore_leads).
 */

/** Moves the caller's leads among `ids` to the trash; returns how many. */
export async function deleteLeadsByIds(db: Queryable, businessId: number, ids: number[], jobId: number): Promise<number> {
  return moveLeadsToTrash(db, businessId, ids, jobId);
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
  return moveLeadsToTrash(db, businessId, ids, jobId, { importedOnly: true });
}

/**
 * The next `limit` imported leads after `afterId` (all of them, or those of one import), moved to
 * the trash. Keyset on id rather than OFFSET: each batch starts where the last stopped. The pick
 * takes no row locks: a lead deleted meanwhile is simply not deleted again, and the count picked
 * still says whether more may follow (a locking pick with LIMIT returns fewer rows when some
 * vanish, and would end the walk early). pg sends unnamed statements, which PostgreSQL plans with
 * the actual values, so `$2 IS NULL OR …` folds away and the import index is used.
 */
export async function deleteImportedAfter(
  db: Queryable,
  businessId: number,
  importId: number | null,
  afterId: number,
  limit: number,
  jobId: number,
): Promise<KeysetStep> {
  const { rows } = await db.query<{ id: number }>(
    `SELECT id FROM leads
      WHERE business_id = $1 AND source = 'import' AND ($2::bigint IS NULL OR import_id = $2) AND id > $3
      ORDER BY id LIMIT $4`,
    [businessId, importId, afterId, limit],
  );
  const picked = rows.map((r) => r.id);
  const moved = picked.length > 0 ? await moveLeadsToTrash(db, businessId, picked, jobId, { importedOnly: true }) : 0;
  return { picked: picked.length, changed: moved, lastId: picked.at(-1) ?? null };
}

export async function countImported(db: Queryable, businessId: number, importId: number | null): Promise<number> {
  const { rows } = await db.query<{ n: number }>(
    `SELECT count(*)::int AS n FROM leads WHERE business_id = $1 AND source = 'import' AND ($2::bigint IS NULL OR import_id = $2)`,
    [businessId, importId],
  );
  return rows[0]?.n ?? 0;
}
