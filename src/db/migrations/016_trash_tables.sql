-- The trash as four tables shaped like the ones it keeps rows of: trash_leads (LIKE leads, plus
-- the delete job and time) and trash_lead_notes, trash_lead_activities, trash_lead_reminders
-- (LIKE the child tables). It replaces 009's one row per lead holding the lead and arrays of its
-- children as composite values:
--
-- - Cheaper to fill: a delete batch moves rows with `DELETE … RETURNING *` into `INSERT … SELECT`,
--   with no grouping of children into arrays, and needs no separate locking pass over the leads
--   (src/leads/trash.repo.ts says why). Measured in one run, 100k leads with a note, an activity
--   and a reminder each, batches of 3,000: docs/BENCHMARKS.md bulk-delete.
-- - Nothing refers to the kept tables' row types any more, so ALTER TABLE on leads and its
--   children works again without restrictions. The rule instead: a column added to leads (or a
--   child table) is added to its trash table too, at the same position (last), nullable or with
--   a default. test/leads/trash.test.ts checks that each trash table has its table's columns, in
--   order, so a forgotten one fails the suite rather than losing data in a restore.
--
-- No foreign keys, as before: the delete job is pruned after JOB_RETENTION_DAYS, and the retention
-- purge removes rows of a business that no longer exists.
ALTER TABLE trash_leads RENAME TO trash_leads_v1;
ALTER INDEX trash_leads_job RENAME TO trash_leads_v1_job;
ALTER INDEX trash_leads_deleted_at RENAME TO trash_leads_v1_deleted_at;

CREATE TABLE trash_leads (
  deleted_by_job_id bigint      NOT NULL,
  deleted_at        timestamptz NOT NULL DEFAULT now(),
  LIKE leads
);
ALTER TABLE trash_leads ADD PRIMARY KEY (business_id, id);
-- Listing and restoring by delete job walk this in lead order (keyset on id).
CREATE INDEX trash_leads_job ON trash_leads (business_id, deleted_by_job_id, id);
-- The retention purge takes the oldest rows first.
CREATE INDEX trash_leads_deleted_at ON trash_leads (deleted_at);

-- Children are found by their lead's id, as they were by the foreign key.
CREATE TABLE trash_lead_notes (LIKE lead_notes);
CREATE INDEX trash_lead_notes_lead ON trash_lead_notes (lead_id);
CREATE TABLE trash_lead_activities (LIKE lead_activities);
CREATE INDEX trash_lead_activities_lead ON trash_lead_activities (lead_id);
CREATE TABLE trash_lead_reminders (LIKE lead_reminders);
CREATE INDEX trash_lead_reminders_lead ON trash_lead_reminders (lead_id);

INSERT INTO trash_leads SELECT t.deleted_by_job_id, t.deleted_at, (t.lead).* FROM trash_leads_v1 t;
INSERT INTO trash_lead_notes SELECT c.* FROM trash_leads_v1 t, unnest(t.notes) AS c;
INSERT INTO trash_lead_activities SELECT c.* FROM trash_leads_v1 t, unnest(t.activities) AS c;
INSERT INTO trash_lead_reminders SELECT c.* FROM trash_leads_v1 t, unnest(t.reminders) AS c;
DROP TABLE trash_leads_v1;
