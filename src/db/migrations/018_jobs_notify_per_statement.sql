-- Issue 11: NOTIFY once per statement instead of once per job row. The engine now writes many job
-- rows per statement (a claim of up to WORKER_CONCURRENCY + WORKER_CLAIM_AHEAD jobs, the settling
-- of statement-less batches: src/jobs/completions.ts), and each notification costs every
-- listening session a wake-up and a transaction to read it (bench/engine.ts: commits per job fell
-- from 2.2 to 1.3 with the old per-row trigger disabled).
--
-- Same channels, same meaning:
--   bulkhead_queue: payload = a queue that has a job newly queued or newly due; one per queue per
--     statement (the old trigger sent one per row; PostgreSQL folded equal payloads only within a
--     transaction).
--   bulkhead_job: payload = `business:job:status` entries of the updated jobs, comma-separated,
--     at most 200 per notification (8 000-byte payload limit); src/jobs/job-events.ts splits them.
-- Transition tables need one trigger per event.

DROP TRIGGER jobs_notify ON jobs;
DROP FUNCTION jobs_notify();

CREATE FUNCTION jobs_notify_inserted() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  PERFORM pg_notify('bulkhead_queue', q.queue)
     FROM (SELECT DISTINCT queue FROM inserted WHERE status = 'queued') q;
  RETURN NULL;
END $$;

CREATE FUNCTION jobs_notify_updated() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  PERFORM pg_notify('bulkhead_queue', q.queue)
     FROM (SELECT DISTINCT n.queue FROM updated n JOIN previous o ON o.id = n.id
            WHERE n.status = 'queued' AND (o.status <> 'queued' OR o.run_at <> n.run_at)) q;
  PERFORM pg_notify('bulkhead_job', p.entries)
     FROM (SELECT string_agg(c.business_id || ':' || c.id || ':' || c.status, ',') AS entries
             FROM (SELECT business_id, id, status, (row_number() OVER (ORDER BY id) - 1) / 200 AS part
                     FROM updated) c
            GROUP BY c.part) p;
  RETURN NULL;
END $$;

CREATE TRIGGER jobs_notify_insert AFTER INSERT ON jobs
  REFERENCING NEW TABLE AS inserted
  FOR EACH STATEMENT EXECUTE FUNCTION jobs_notify_inserted();
CREATE TRIGGER jobs_notify_update AFTER UPDATE ON jobs
  REFERENCING OLD TABLE AS previous NEW TABLE AS updated
  FOR EACH STATEMENT EXECUTE FUNCTION jobs_notify_updated();
