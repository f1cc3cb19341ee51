import type { QueryConfig } from 'pg';

export const JOB_COLUMNS = `id, business_id, type, queue, priority, status, params, params_hash, lock_key, total,
  processed, succeeded, failed, checkpoint, result, last_error, attempts, consecutive_failures,
  cancel_requested, pause_requested, run_at, locked_by, locked_at, created_by, created_at, started_at, heartbeat_at,
  finished_at, updated_at`;

/**
 * The businesses that have queued jobs, by a loose index scan of jobs_queued_by_business
 * (migration 007): one index probe per business, however many jobs each has queued. The ORDER BY
 * is that index's whole key so no other index on business_id (jobs_gate …) can serve it without a
 * sort: a plan walking jobs_gate would step through every finished job of a business. A trailing
 * NULL row ends the recursion; readers drop it.
 */
const QUEUED_BUSINESSES = `queued_businesses(business_id) AS (
             (SELECT business_id FROM jobs WHERE status = 'queued'
               ORDER BY business_id, priority DESC, run_at, id LIMIT 1)
             UNION ALL
             SELECT (SELECT j.business_id FROM jobs j
                      WHERE j.status = 'queued' AND j.business_id > b.business_id
                      ORDER BY j.business_id, j.priority DESC, j.run_at, j.id LIMIT 1)
               FROM queued_businesses b WHERE b.business_id IS NOT NULL)`;

/** A business's next due jobs of the worker's queues (always parameter $2), in claim order, at most `limit`. */
function nextDueOf(business: string, limit: string): string {
  return `SELECT j.id, j.priority, j.run_at FROM jobs j
            WHERE j.business_id = ${business} AND j.status = 'queued'
              AND j.queue = ANY($2::text[]) AND j.run_at <= now()
            ORDER BY j.priority DESC, j.run_at, j.id
            LIMIT ${limit}`;
}

/** What the claim needs to share a worker fairly between businesses. */
export interface FairClaim {
  /** The business of every job this worker holds now (one entry per job). */
  heldBusinesses: number[];
  /** The most slots of this worker one business takes while another business has due jobs. */
  shareSlots: number;
}

const RETURNED_COLUMNS = `${JOB_COLUMNS.split(',').map((c) => `j.${c.trim()}`).join(', ')}, j.targets`;

/**
 * What both claims return: one row per claimed job, in the order the claim chose them (the
 * worker starts them in that order, also those it claimed ahead), or a single row of NULL job
 * columns when nothing was claimed; and on every row `queued_businesses`: how many businesses
 * have queued jobs (claimJobsOfOneBusiness counts only up to 2). The worker picks its next claim
 * by it. RETURNING alone comes back in no particular order.
 */
function claimResult(order: { join: string; by: string }): string {
  return `SELECT q.queued_businesses, c.* FROM queued q LEFT JOIN claimed c ON true ${order.join} ORDER BY ${order.by}`;
}

/**
 * The picked jobs become running. `id = ANY(ARRAY(…))` rather than a join: for a claim of a few
 * hundred jobs (WORKER_CLAIM_AHEAD) the planner joined `next` by hashing the whole job table, a
 * sequential scan per claim (4 of 9.6 ms for 500 of 20 000 queued); an id array is looked up in
 * the primary key whatever its length.
 */
const CLAIMED = `claimed AS (
             UPDATE jobs j
                SET status = 'running', locked_by = $1, locked_at = now(), heartbeat_at = now(),
                    attempts = j.attempts + 1, started_at = coalesce(j.started_at, now()), updated_at = now()
              WHERE j.id = ANY(ARRAY(SELECT id FROM next))
          RETURNING ${RETURNED_COLUMNS})`;

/**
 * The claim while ONE business has queued jobs, the common case (a business's import, bulk
 * delete or broadcast; a worker of a single-tenant install): with nobody to share with, the fair
 * order below reduces to `priority DESC, run_at, id` within that business, so this is the claim
 * from before fair share (one walk of one index, FOR UPDATE SKIP LOCKED, one UPDATE) plus two
 * index probes that prove nobody else queued: the first and the last entry of
 * jobs_queued_by_business (each ORDER BY is that index's whole key, forwards and backwards, so
 * no other index on business_id can serve it; `min()`/`max()` took jobs_gate and filtered its way
 * past every finished job). If the two businesses differ it claims nothing and says so
 * (queued_businesses = 2): the worker sends claimJobs at once, and keeps sending it while more
 * than one business waits. Nothing is written besides the claimed jobs.
 *
 * Why a second statement rather than a branch of claimJobs (EXPLAIN ANALYZE of the prepared
 * statements, the median of runs 7–12, 100 000 queued jobs, 10 running; embedded PostgreSQL 17 on
 * 2 cores at load average 6–8, so ±30 %): the plan cache never settles on claimJobs' generic
 * plan, and planning it costs 0.9–1.6 ms on every call; one statement holding both, each branch
 * behind a one-time filter, ran the fast branch in 0.7–1.1 ms but still planned for 1.6–1.9 ms.
 * Measured, planning + execution, for 1 business / 1 business + 1 job of another / 200 businesses:
 * this claim 1.4 / 0.53 (claims nothing) / 0.59 ms (claims nothing); claimJobs 2.4 / 1.5 /
 * 7.3 ms; the claim before fair share (a986f6c~1, with its jobs_claim index) 0.9 / 0.8 / 0.6 ms.
 */
export function claimJobsOfOneBusiness(workerId: string, queues: string[], limit: number): QueryConfig {
  return {
    name: 'bulkhead_claim_jobs_one_business',
    text: `WITH span AS (
             SELECT (SELECT business_id FROM jobs WHERE status = 'queued'
                      ORDER BY business_id, priority DESC, run_at, id LIMIT 1) AS first,
                    (SELECT business_id FROM jobs WHERE status = 'queued'
                      ORDER BY business_id DESC, priority, run_at DESC, id DESC LIMIT 1) AS last),
           queued AS (
             SELECT CASE WHEN first IS NULL THEN 0 WHEN first = last THEN 1 ELSE 2 END AS queued_businesses FROM span),
           next AS (
             SELECT id FROM jobs
              WHERE business_id = (SELECT first FROM span WHERE first = last)
                AND status = 'queued' AND queue = ANY($2::text[]) AND run_at <= now()
              ORDER BY priority DESC, run_at, id
              LIMIT $3
              FOR UPDATE SKIP LOCKED),
           ${CLAIMED}
           ${claimResult({ join: '', by: 'c.priority DESC, c.run_at, c.id' })}`,
    values: [workerId, queues, limit],
  };
}

/**
 * Claims up to `limit` due jobs of the given queues in ONE statement, fairly between businesses,
 * and marks them running with `attempts` bumped: the fencing token every later write of this
 * claim must present. The worker sends it while more than one business has queued jobs
 * (claimJobsOfOneBusiness otherwise).
 *
 * Order: highest priority first (a recording download still overtakes every bulk job). Within a
 * priority, jobs of a business still under its share of this worker's slots (`shareSlots`,
 * WORKER_BUSINESS_SHARE × WORKER_CONCURRENCY) before those of a business at its share; then the
 * business with the fewest running jobs (all workers, status 'running'), counting the jobs this
 * claim gives it, so one claim deals A, B, C, A, B … and levels the businesses' running counts;
 * between equals, the business served longest ago (job_business_turns) — round robin across
 * claims too; then `run_at`, `id`. The share is work-conserving: a business past its share
 * still gets a slot nobody else has a due job for (the engine takes a slot back at a batch
 * boundary when another business waits: worker.ts, fair-share.ts).
 *
 * job_business_turns is written only when the candidates came from more than one business, i.e.
 * when this claim chose between businesses; in business order, so two claims never wait on each
 * other in a cycle. A business that was served alone keeps an older served_at, which can win it
 * one tie more when another business arrives: the running counts decide before served_at does.
 *
 * Candidates: the businesses with queued jobs (loose index scan), each one's next `limit` due
 * jobs, and the business's running count — index probes per business, never a pass over every
 * queued job. The top `limit` by the order above are locked FOR UPDATE SKIP LOCKED (a row another
 * worker took meanwhile is skipped: this claim returns fewer and the producer claims again) and
 * updated in the same statement.
 *
 * Alternatives measured (EXPLAIN ANALYZE, 100 000 queued jobs of one business + 1 of another;
 * bench/engine.ts for throughput, README "Fair share between businesses"):
 * - the old claim, `ORDER BY priority DESC, run_at, id LIMIT n FOR UPDATE SKIP LOCKED`, walks
 *   one index in order and is cheapest, but serves whoever queued first: one business's four
 *   slow bulk jobs held every slot (issue 12). It lives on as claimJobsOfOneBusiness, for the
 *   case where that order is the fair one.
 * - `row_number() OVER (PARTITION BY business_id …)` over every due queued job interleaves
 *   businesses in one pass, but sorts all of them on every claim (57–95 ms at 100 000 against
 *   0.4–0.8 ms here, 2.2 ms with 200 businesses waiting; the old claim 0.6–1.1 ms); window
 *   functions also cannot take FOR UPDATE, so the lock needs a second step anyway.
 * - skipping busy businesses in the global order (`business_id <> ALL(busy)`) keeps one index
 *   but walks past every queued job of the busy business to find another's.
 * - SKIP LOCKED inside each business's LATERAL would lock `limit` rows per business for the
 *   statement and make concurrent claims skip rows they would not have taken.
 */
export function claimJobs(workerId: string, queues: string[], limit: number, fair: FairClaim = { heldBusinesses: [], shareSlots: limit }): QueryConfig {
  return {
    name: 'bulkhead_claim_jobs',
    text: `WITH RECURSIVE ${QUEUED_BUSINESSES},
           businesses AS (
             SELECT b.business_id, t.served_at,
                    (SELECT count(*) FROM jobs r WHERE r.business_id = b.business_id AND r.status = 'running') AS running,
                    cardinality(array_positions($4::bigint[], b.business_id)) AS held
               FROM queued_businesses b
               LEFT JOIN job_business_turns t ON t.business_id = b.business_id
              WHERE b.business_id IS NOT NULL),
           queued AS (SELECT count(*)::int AS queued_businesses FROM businesses),
           candidates AS (
             SELECT c.id, c.priority, c.run_at, b.business_id, b.running, b.held, b.served_at,
                    row_number() OVER (PARTITION BY b.business_id ORDER BY c.priority DESC, c.run_at, c.id) AS nth
               FROM businesses b CROSS JOIN LATERAL (${nextDueOf('b.business_id', '$3')}) c),
           picked AS (
             SELECT id, row_number() OVER (ORDER BY priority DESC, held + nth > $5, running + nth, served_at NULLS FIRST, run_at, id) AS turn
               FROM candidates
              ORDER BY turn
              LIMIT $3),
           next AS (
             SELECT j.id FROM jobs j JOIN picked p ON p.id = j.id
              WHERE j.status = 'queued'
              FOR UPDATE OF j SKIP LOCKED),
           ${CLAIMED},
           served AS (
             INSERT INTO job_business_turns (business_id, served_at)
             SELECT DISTINCT business_id, now() FROM claimed
              WHERE (SELECT count(DISTINCT business_id) FROM candidates) > 1
              ORDER BY business_id
             ON CONFLICT (business_id) DO UPDATE SET served_at = excluded.served_at)
           ${claimResult({ join: 'LEFT JOIN picked p ON p.id = c.id', by: 'p.turn' })}`,
    values: [workerId, queues, limit, fair.heldBusinesses, fair.shareSlots],
  };
}

/**
 * The highest priority among due jobs (of these queues) of businesses other than `excluded`
 * (null: none waits). The worker asks this at a batch boundary while it is full and a business
 * holds more than its share: a slot is handed over only to a business that would get it.
 */
export function waitingPriority(queues: string[], excluded: number[]): QueryConfig {
  return {
    name: 'bulkhead_waiting_priority',
    text: `WITH RECURSIVE ${QUEUED_BUSINESSES}
           SELECT max(d.priority)::int AS priority
             FROM queued_businesses b
             CROSS JOIN LATERAL (${nextDueOf('b.business_id', '1')}) d
            WHERE b.business_id IS NOT NULL AND b.business_id <> ALL($1::bigint[])`,
    values: [excluded, queues],
  };
}

/** Milliseconds until the next queued job of these queues is due (null: none queued). */
export function nextDueIn(queues: string[]): QueryConfig {
  return {
    name: 'bulkhead_next_due',
    text: `SELECT (extract(epoch FROM min(run_at) - now()) * 1000)::float8 AS ms
             FROM jobs WHERE status = 'queued' AND queue = ANY($1::text[])`,
    values: [queues],
  };
}
