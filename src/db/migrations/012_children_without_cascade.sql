-- A lead's notes, activities and reminders are deleted by the one statement that moves the lead
-- to the trash (src/leads/trash.repo.ts moveLeadsToTrash), not by ON DELETE CASCADE: the three
-- cascade triggers fired once per deleted lead and were ~90% of a bulk delete's time (3.8 vs
-- 30 µs per lead measured without them), so filing leads and children into the trash with the
-- cascades cost 1.6-1.9x a plain delete; deleting the children by lead_id = ANY(batch) in the
-- same statement brings it back to today's speed (docs/BENCHMARKS.md, bulk-delete).
-- Integrity without the foreign keys: every lead deletion goes through moveLeadsToTrash, which
-- locks the leads FOR UPDATE first; every child insert takes FOR KEY SHARE on its lead
-- (leads.repo.ts), so it waits for that lock and then finds the lead gone (404), never an orphan.
ALTER TABLE lead_notes DROP CONSTRAINT lead_notes_lead_id_fkey;
ALTER TABLE lead_activities DROP CONSTRAINT lead_activities_lead_id_fkey;
ALTER TABLE lead_reminders DROP CONSTRAINT lead_reminders_lead_id_fkey;
