import type { Queryable } from '../db/pool.js';

/*
 * The trash (migrations 009, 016): leads a bulk delete moved out, each with its notes, activities and
 * reminders, and the statements that fill it, list it, empty it back into leads, and purge it.
 */

/**
 * Moves the business's leads among `ids` to the trash with their notes, activities and reminders
 * (only imported ones with `importedOnly`), for the delete job `jobId`; returns how many. Two
 * statements inside the caller's (the batch's) transaction, so the move commits with the batch's
 * progress and checkpoint or not at all:
 *
 * 1. The leads are deleted into trash_leads. The DELETE takes each lead's row lock (waiting for a
 *    child insert that holds a key-share lock on it, see leads.repo.ts, until it commits), and no
 *    child can be added after: its key-share lock waits for this transaction, then finds the lead
 *    gone.
 * 2. Their children are deleted into the children's trash tables, by lead id (no cascade:
 *    012_children_without_cascade.sql). Being a second statement, it reads with a snapshot taken
 *    after statement 1 holds every lead's lock, so a note committed while statement 1 waited is
 *    seen and moved. (One statement for both would read the children with the snapshot taken
 *    before the wait and leave such a note behind; 009's design needed a locking pass first.)
 *
 * Measured against 009's (leads locked, then one statement filing each lead with arrays of its
 * children): docs/BENCHMARKS.md bulk-delete, and the comment of migration 016.
 */
export async function moveLeadsToTrash(
  db: Queryable,
  businessId: number,
  ids: number[],
  jobId: number,
  opts: { importedOnly?: boolean } = {},
): Promise<number> {
  const importedOnly = opts.importedOnly ?? false;
  const { rows } = await db.query<{ ids: number[] | null }>(
    `WITH gone AS (
       DELETE FROM leads l
        WHERE l.business_id = $1 AND l.id = ANY($2::bigint[]) AND (NOT $3::boolean OR l.source = 'import')
       RETURNING l.*),
     kept AS (INSERT INTO trash_leads SELECT $4::bigint, now(), g.* FROM gone g)
     SELECT array_agg(id) AS ids FROM gone`,
    [businessId, ids, importedOnly, jobId],
  );
  const gone = rows[0]?.ids ?? [];
  if (gone.length === 0) return 0;
  await db.query(
    `WITH n AS (DELETE FROM lead_notes c WHERE c.lead_id = ANY($1::bigint[]) RETURNING c.*),
     kn AS (INSERT INTO trash_lead_notes SELECT * FROM n),
     a AS (DELETE FROM lead_activities c WHERE c.lead_id = ANY($1::bigint[]) RETURNING c.*),
     ka AS (INSERT INTO trash_lead_activities SELECT * FROM a),
     r AS (DELETE FROM lead_reminders c WHERE c.lead_id = ANY($1::bigint[]) RETURNING c.*),
     kr AS (INSERT INTO trash_lead_reminders SELECT * FROM r)
     SELECT 1`,
    [gone],
  );
  return gone.length;
}

export interface TrashRow {
  lead_id: number;
  phone: string;
  name: string | null;
  deleted_at: Date;
  deleted_by_job_id: number;
  notes: number;
  activities: number;
  reminders: number;
}

export interface TrashFilter {
  /** Only what this delete job moved to the trash. */
  jobId?: number | undefined;
  afterLeadId?: number | undefined;
  limit: number;
}

/** The business's trash in lead id order (keyset), optionally of one delete job. */
export async function listTrash(db: Queryable, businessId: number, f: TrashFilter): Promise<TrashRow[]> {
  const { rows } = await db.query<TrashRow>(
    `SELECT t.id AS lead_id, t.phone, t.name, t.deleted_at, t.deleted_by_job_id,
            (SELECT count(*) FROM trash_lead_notes c WHERE c.lead_id = t.id)::int AS notes,
            (SELECT count(*) FROM trash_lead_activities c WHERE c.lead_id = t.id)::int AS activities,
            (SELECT count(*) FROM trash_lead_reminders c WHERE c.lead_id = t.id)::int AS reminders
       FROM trash_leads t
      WHERE t.business_id = $1 AND ($2::bigint IS NULL OR t.deleted_by_job_id = $2) AND t.id > $3
      ORDER BY t.id
      LIMIT $4`,
    [businessId, f.jobId ?? null, f.afterLeadId ?? 0, f.limit],
  );
  return rows;
}

/** How many leads a delete job has in the trash now. */
export async function countTrashOfJob(db: Queryable, businessId: number, jobId: number): Promise<number> {
  const { rows } = await db.query<{ n: number }>(
    `SELECT count(*)::int AS n FROM trash_leads WHERE business_id = $1 AND deleted_by_job_id = $2`,
    [businessId, jobId],
  );
  return rows[0]?.n ?? 0;
}

/**
 * The next `limit` lead ids a delete job has in the trash after `afterId`. No row locks: the
 * restore that follows takes them, and the count says whether more may follow even when a
 * concurrent restore took some of them meanwhile (a locking read would return fewer and end
 * the walk early).
 */
export async function trashIdsOfJob(db: Queryable, businessId: number, jobId: number, afterId: number, limit: number): Promise<number[]> {
  const { rows } = await db.query<{ lead_id: number }>(
    `SELECT id AS lead_id FROM trash_leads
      WHERE business_id = $1 AND deleted_by_job_id = $2 AND id > $3
      ORDER BY id LIMIT $4`,
    [businessId, jobId, afterId, limit],
  );
  return rows.map((r) => r.lead_id);
}

/** What one restore statement did with one trash row it was asked for (or found missing). */
export interface RestoreOutcome {
  lead_id: number;
  /** null: not (or no longer) in the business's trash. */
  phone: string | null;
  restored: boolean;
  /** The lead that has this phone now, as the statement's snapshot saw it (null for one restored in this same batch). */
  phone_holder: number | null;
}

/**
 * Puts the business's trashed leads among `ids` back, with their children and their own ids,
 * and removes their trash rows: one statement, inside the batch transaction.
 *
 * - The trash rows are locked first, so two restores that overlap wait for each other and the
 *   second finds the rows gone: a lead is restored once.
 * - A lead whose phone belongs to another lead now (`UNIQUE (business_id, phone)`) is skipped by
 *   ON CONFLICT DO NOTHING and stays in the trash; of two trashed leads with one phone, the lower
 *   id comes back. Its children are only inserted for leads that were.
 * - An import that no longer exists becomes import_id NULL, a user who no longer exists
 *   owner_user_id NULL (the same ON DELETE SET NULL the lead would have had in place);
 *   jsonb_populate_record over the stored row replaces just those two fields.
 * - The children's foreign keys are checked at the end of the statement, when the leads of the
 *   same statement are there.
 */
export async function restoreFromTrash(db: Queryable, businessId: number, ids: number[]): Promise<RestoreOutcome[]> {
  const { rows } = await db.query<RestoreOutcome>(
    `WITH asked AS (SELECT DISTINCT unnest($2::bigint[]) AS lead_id),
     t AS (
       SELECT tl.*
         FROM trash_leads tl
        WHERE tl.business_id = $1 AND tl.id = ANY($2::bigint[])
        FOR UPDATE),
     ins AS (
       INSERT INTO leads
       SELECT r.*
         FROM t
        CROSS JOIN LATERAL jsonb_populate_record(NULL::leads, to_jsonb(t) || jsonb_build_object(
                'import_id', (SELECT i.id FROM imports i WHERE i.business_id = $1 AND i.id = t.import_id),
                'owner_user_id', (SELECT u.id FROM users u WHERE u.business_id = $1 AND u.id = t.owner_user_id))) AS r
        ORDER BY t.id
       ON CONFLICT DO NOTHING
       RETURNING id),
     out_notes AS (DELETE FROM trash_lead_notes c USING ins WHERE c.lead_id = ins.id RETURNING c.*),
     put_notes AS (INSERT INTO lead_notes SELECT * FROM out_notes),
     out_activities AS (DELETE FROM trash_lead_activities c USING ins WHERE c.lead_id = ins.id RETURNING c.*),
     put_activities AS (INSERT INTO lead_activities SELECT * FROM out_activities),
     out_reminders AS (DELETE FROM trash_lead_reminders c USING ins WHERE c.lead_id = ins.id RETURNING c.*),
     put_reminders AS (INSERT INTO lead_reminders SELECT * FROM out_reminders),
     emptied AS (
       DELETE FROM trash_leads tl USING ins WHERE tl.business_id = $1 AND tl.id = ins.id RETURNING tl.id)
     SELECT a.lead_id, t.phone,
            EXISTS (SELECT 1 FROM emptied e WHERE e.id = a.lead_id) AS restored,
            (SELECT l.id FROM leads l WHERE l.business_id = $1 AND l.phone = t.phone) AS phone_holder
       FROM asked a LEFT JOIN t ON t.id = a.lead_id
      ORDER BY a.lead_id`,
    [businessId, ids],
  );
  return rows;
}

export const TRASH_PURGE_LIMIT = 1_000;

/**
 * Trash older than `retentionDays`, oldest first, at most `limit` rows per call (short locks and
 * WAL bursts, like the engine's own retention). Across businesses on purpose: retention is the
 * same for all of them, and the businesses table is not consulted, so rows of a business that no
 * longer exists go too.
 */
export async function purgeTrash(db: Queryable, retentionDays: number, limit = TRASH_PURGE_LIMIT): Promise<number> {
  const { rows } = await db.query<{ n: number }>(
    `WITH gone AS (
       DELETE FROM trash_leads WHERE (business_id, id) IN (
         SELECT business_id, id FROM trash_leads
          WHERE deleted_at < now() - make_interval(days => $1)
          ORDER BY deleted_at
          LIMIT $2)
       RETURNING id),
     n AS (DELETE FROM trash_lead_notes c USING gone WHERE c.lead_id = gone.id),
     a AS (DELETE FROM trash_lead_activities c USING gone WHERE c.lead_id = gone.id),
     r AS (DELETE FROM trash_lead_reminders c USING gone WHERE c.lead_id = gone.id)
     SELECT count(*)::int AS n FROM gone`,
    [retentionDays, limit],
  );
  return rows[0]?.n ?? 0;
}
