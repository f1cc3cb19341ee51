-- The trash (DESIGN.md invariant 10): every lead a bulk delete removes, with its notes, activities
-- and reminders, kept for TRASH_RETENTION_DAYS so `restore_leads` can put it back with the same
-- ids. One row per lead, written in the delete batch's transaction (src/leads/trash.repo.ts).
--
-- The lead and its children are kept as the tables' own row types (`leads`, `lead_notes[]` …),
-- not as jsonb: building jsonb (timestamps and all) made the delete statement 2.1-2.5x as costly
-- in backend CPU as the plain DELETE, the row types 1.6x (trash.repo.ts has the numbers). A
-- restore reads them back with the same types, so ids, timestamps and tags come back bit for bit.
--
-- The price, for later migrations of leads, lead_notes, lead_activities and lead_reminders: while
-- this table uses their row types, PostgreSQL refuses ALTER COLUMN … TYPE and ADD COLUMN with a
-- default or NOT NULL on them ("… uses its row type"). Adding a nullable column without a default
-- works, and older trash rows read NULL in it. So a new required column is added in steps: ADD
-- COLUMN c (nullable), UPDATE the rows, SET DEFAULT, SET NOT NULL, and `UPDATE trash_leads SET
-- lead.c = …` (or notes = …) so a restore of an older row satisfies it. A type change converts
-- the trash column first (e.g. to jsonb) and the restore statement with it.
--
-- No foreign keys: the job that deleted a lead is pruned after JOB_RETENTION_DAYS, and a key to
-- businesses would add a per-row check to the bulk delete's hottest statement; rows of a business
-- that no longer exists go with the retention purge.
CREATE TABLE trash_leads (
  business_id       bigint           NOT NULL,
  lead_id           bigint           NOT NULL,
  deleted_by_job_id bigint           NOT NULL,
  deleted_at        timestamptz      NOT NULL DEFAULT now(),
  lead              leads            NOT NULL,
  notes             lead_notes[]     NOT NULL,
  activities        lead_activities[] NOT NULL,
  reminders         lead_reminders[] NOT NULL,
  PRIMARY KEY (business_id, lead_id)
);

-- Listing and restoring by delete job walk this in lead order (keyset on lead_id).
CREATE INDEX trash_leads_job ON trash_leads (business_id, deleted_by_job_id, lead_id);

-- The retention purge takes the oldest rows first.
CREATE INDEX trash_leads_deleted_at ON trash_leads (deleted_at);
