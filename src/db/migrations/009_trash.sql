-- The trash (DESIGN.md invariant 10): every lead a bulk delete removes, with its notes, activities
-- and reminders, kept for TRASH_RETENTION_DAYS so `restore_leads` can put it back with the same
-- ids. One row per lead, written by the delete batch's own statement (src/leads/trash.repo.ts).
--
-- The lead and its children are kept as the tables' own row types (`leads`, `lead_notes[]` …),
-- not as jsonb: building jsonb (timestamps and all) made the delete batch 2.1-2.5x as costly in
-- backend CPU as the plain DELETE, the row types 1.4-1.5x (50 000 leads with one child of each
-- kind, batches of 5 000). A restore reads them back with the same types, so ids, timestamps and
-- tags come back bit for bit, and a column added to leads later is carried without a change here.
-- The price: a later migration that changes the TYPE of a column of leads, lead_notes,
-- lead_activities or lead_reminders (or rewrites one of them) is refused while this table uses
-- their row types ("... uses its row type"); such a migration converts these columns first.
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
