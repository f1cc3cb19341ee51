-- Fair share between businesses (README "Fair share between businesses", src/jobs/sql/claim.ts):
-- the claim no longer walks every queued job in (priority, run_at, id) order — one business with
-- 100 000 queued jobs would sit in front of everyone — but each business that has queued jobs,
-- its own next jobs, and its count of running jobs. Depends on 001 only.

-- A loose index scan finds the businesses with queued jobs (one probe each), and per business the
-- next due jobs in claim order. It replaces jobs_claim, which only the claim read in order.
CREATE INDEX jobs_queued_by_business ON jobs (business_id, priority DESC, run_at, id) WHERE status = 'queued';
DROP INDEX jobs_claim;
-- How many jobs each business runs now, all workers together: at most the slots of every worker.
CREATE INDEX jobs_running_by_business ON jobs (business_id) WHERE status = 'running';

-- When each business was last given a slot: between businesses that run equally many jobs, the
-- one served longest ago goes first (round robin), which running counts alone cannot tell when a
-- worker has one slot or jobs end as fast as they start. One row per business, written by the
-- claim itself; served_at is not indexed, so the update is HOT.
CREATE TABLE job_business_turns (
  business_id bigint      PRIMARY KEY REFERENCES businesses(id) ON DELETE CASCADE,
  served_at   timestamptz NOT NULL
) WITH (fillfactor = 50);
