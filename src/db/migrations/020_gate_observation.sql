-- Issue 11: the gate's lock and its observation of the jobs in ONE round trip.
--
-- The gate serializes the requests of one (business, operation) with a transaction-scoped advisory
-- lock, then reads the jobs (the active lock holder, an identical recent job, the jobs of the last
-- minute) and decides (src/gate/verdict.ts). The read must see the job the previous lock holder
-- committed while this request waited, so it cannot share a plain SQL statement with the lock: a
-- statement reads with the snapshot taken when it started (src/gate/gate.ts). A VOLATILE PL/pgSQL
-- function takes a new snapshot for every statement it runs, so here the lock and the read are
-- two statements of one function, and the request saves a round trip (bench/gate-http.ts: the
-- request path's cost on 2 cores is its round trips to PostgreSQL).
--
-- p_locks: the advisory lock keys, taken in this order (hashtextextended(key, 0), as before this
-- function: processes of the previous version serialize with this one on the same locks).
-- The SELECT is the one src/jobs/admission.ts sent on its own before (engine-owned: it reads jobs),
-- plus the business's rate override for the operation, which the lock's statement used to carry.
-- The active statuses are jobs_active_lock's (001), as in src/jobs/types.ts ACTIVE_STATUSES.
CREATE FUNCTION bulkhead_gate_observation(
  p_locks text[], p_business_id bigint, p_type text, p_lock_key text, p_params_hash text, p_dedup_s float8)
RETURNS TABLE (o_rate_override int, o_active_id bigint, o_dup_id bigint, o_dup_at timestamptz, o_recent int, o_oldest timestamptz, o_now timestamptz)
LANGUAGE plpgsql VOLATILE AS $$
DECLARE
  k text;
BEGIN
  FOREACH k IN ARRAY p_locks LOOP
    PERFORM pg_advisory_xact_lock(hashtextextended(k, 0));
  END LOOP;
  RETURN QUERY
    SELECT
      (SELECT (b.rate_limits->>p_type)::int FROM businesses b WHERE b.id = p_business_id),
      (SELECT j.id FROM jobs j WHERE j.business_id = p_business_id AND j.lock_key = p_lock_key
          AND j.status IN ('queued', 'running', 'paused') LIMIT 1),
      d.id, d.created_at,
      r.recent::int, r.oldest,
      now()
    FROM (SELECT count(*) AS recent, min(j.created_at) AS oldest FROM jobs j
           WHERE j.business_id = p_business_id AND j.type = p_type AND j.created_at > now() - interval '60 seconds') r
    LEFT JOIN LATERAL (
      SELECT j.id, j.created_at FROM jobs j
       WHERE j.business_id = p_business_id AND j.type = p_type AND j.params_hash = p_params_hash
         AND j.created_at > now() - make_interval(secs => p_dedup_s)
       ORDER BY j.id DESC LIMIT 1) d ON true;
END
$$;
