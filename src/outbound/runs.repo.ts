import { sqlList } from './call-status.js';
import { ACTIVE_SQL } from './calls.repo.js';
import type { Queryable } from '../db/pool.js';
import { jobJoin, jobSummariesOf, jobSummaryOf } from '../jobs/domain-api.js';

export const ITEM_STATUSES = ['queued', 'dialing', 'calling', 'completed', 'busy', 'no_answer', 'failed', 'cancelled', 'skipped'] as const;
export type ItemStatus = (typeof ITEM_STATUSES)[number];
/** Item statuses that are final: the item counts as processed in the run's job. */
const ENDED_ITEM_SQL = `('completed', 'busy', 'no_answer', 'failed', 'cancelled', 'skipped')`;

export interface RunRow {
  id: number;
  business_id: number;
  job_id: number;
  concurrency: number;
  /** The flow the run was accepted with (null: the business's default message). */
  call_flow: unknown;
  created_at: Date;
  job_status: string;
}

export interface RunItemRow {
  id: number;
  lead_id: number;
  phone: string;
  status: ItemStatus;
  call_sid: string | null;
  attempts: number;
  error: string | null;
}

/**
 * A run remembers its flow: the override it was accepted with, else the business's flow at this
 * moment (NULL when the business has none: the default message, call-flow.ts).
 */
export async function insertRun(db: Queryable, businessId: number, jobId: number, concurrency: number, userId: number, callFlow: unknown = null): Promise<number> {
  const { rows } = await db.query<{ id: number }>(
    `INSERT INTO outbound_runs (business_id, job_id, concurrency, created_by, call_flow)
     VALUES ($1, $2, $3, $4, coalesce($5::jsonb, (SELECT call_flow FROM dialer_settings WHERE business_id = $1))) RETURNING id`,
    [businessId, jobId, concurrency, userId, callFlow === null ? null : JSON.stringify(callFlow)],
  );
  const id = rows[0]?.id;
  if (id === undefined) throw new Error('INSERT … RETURNING gave no row');
  return id;
}

/**
 * One item per lead of the business among `leadIds` (ids that are not its leads are left out),
 * in one statement; leads on the do-not-call list start as skipped. Returns the item count.
 */
export async function insertRunItems(db: Queryable, businessId: number, runId: number, leadIds: number[]): Promise<number> {
  const { rowCount } = await db.query(
    `INSERT INTO run_items (business_id, run_id, lead_id, phone, status, error)
     SELECT $1, $2, l.id, l.phone,
            CASE WHEN d.phone IS NULL THEN 'queued' ELSE 'skipped' END,
            CASE WHEN d.phone IS NULL THEN NULL ELSE 'do_not_call' END
       FROM leads l LEFT JOIN dnc_numbers d ON d.business_id = $1 AND d.phone = l.phone
      WHERE l.business_id = $1 AND l.id = ANY($3::bigint[])
      ORDER BY l.id`,
    [businessId, runId, leadIds],
  );
  return rowCount ?? 0;
}

type RunOnly = Omit<RunRow, 'job_status'>;
const RUN_COLUMNS = `r.id, r.business_id, r.job_id, r.concurrency, r.call_flow, r.created_at`;

/** A run and its job's status; a run whose job was pruned is gone with it. */
export async function getRun(db: Queryable, businessId: number, runId: number): Promise<RunRow | null> {
  const { rows } = await db.query<RunOnly>(
    `SELECT ${RUN_COLUMNS} FROM outbound_runs r WHERE r.business_id = $1 AND r.id = $2`,
    [businessId, runId],
  );
  const run = rows[0];
  const job = run ? await jobSummaryOf(db, businessId, run.job_id) : null;
  return run && job ? { ...run, job_status: job.status } : null;
}

/**
 * The business's runs, newest first, before `beforeId` (keyset), with their jobs' statuses (one
 * query by ids per page). Runs whose job was pruned are left out, as getRun leaves them out; the
 * page reads on past them so it stays full.
 */
export async function listRuns(db: Queryable, businessId: number, beforeId: number | undefined, limit: number): Promise<RunRow[]> {
  const out: RunRow[] = [];
  let before = beforeId ?? null;
  for (;;) {
    const { rows } = await db.query<RunOnly>(
      `SELECT ${RUN_COLUMNS} FROM outbound_runs r
        WHERE r.business_id = $1 AND ($2::bigint IS NULL OR r.id < $2)
        ORDER BY r.id DESC
        LIMIT $3`,
      [businessId, before, limit],
    );
    const jobs = await jobSummariesOf(db, businessId, rows.map((r) => r.job_id));
    for (const r of rows) {
      const job = jobs.get(r.job_id);
      if (job) out.push({ ...r, job_status: job.status });
    }
    const last = rows.at(-1);
    if (out.length >= limit || rows.length < limit || !last) return out.slice(0, limit);
    before = last.id;
  }
}

/** The call outcomes a run counts besides its items' statuses (leads connected, voicemails left, opt-outs). */
export const COUNTED_OUTCOMES = ['connected', 'voicemail_left', 'opted_out'] as const;
export type RunCountsRow = Record<ItemStatus | (typeof COUNTED_OUTCOMES)[number], number>;

/**
 * Item counts per status of several runs, and their leads per counted call outcome, in one
 * statement (a list page, not one query per run). An outcome counts a lead once, whatever its attempts.
 */
export async function runCountsOf(db: Queryable, businessId: number, runIds: number[]): Promise<Map<number, RunCountsRow>> {
  const { rows } = await db.query<{ run_id: number; status: keyof RunCountsRow; n: number }>(
    `SELECT run_id, status, count(*)::int AS n FROM run_items
      WHERE business_id = $1 AND run_id = ANY($2::bigint[]) GROUP BY run_id, status
     UNION ALL
     SELECT run_id, outcome, count(DISTINCT run_item_id)::int FROM calls
      WHERE business_id = $1 AND run_id = ANY($2::bigint[]) AND outcome IN ${sqlList(COUNTED_OUTCOMES)} GROUP BY run_id, outcome`,
    [businessId, runIds],
  );
  const out = new Map(runIds.map((id) => [id, emptyCounts()]));
  for (const r of rows) {
    const counts = out.get(Number(r.run_id));
    if (counts) counts[r.status] = r.n;
  }
  return out;
}

export function emptyCounts(): RunCountsRow {
  return Object.fromEntries([...ITEM_STATUSES, ...COUNTED_OUTCOMES].map((s) => [s, 0])) as RunCountsRow;
}

export async function runCounts(db: Queryable, businessId: number, runId: number): Promise<RunCountsRow> {
  return (await runCountsOf(db, businessId, [runId])).get(runId) ?? emptyCounts();
}

export async function listRunItems(db: Queryable, businessId: number, runId: number, afterId: number | undefined, limit: number): Promise<RunItemRow[]> {
  const { rows } = await db.query<RunItemRow>(
    `SELECT i.id, i.lead_id, i.phone, i.status, c.call_sid, i.attempts, i.error
       FROM run_items i LEFT JOIN calls c ON c.business_id = $1 AND c.id = i.call_id
      WHERE i.business_id = $1 AND i.run_id = $2 AND ($3::bigint IS NULL OR i.id > $3)
      ORDER BY i.id LIMIT $4`,
    [businessId, runId, afterId ?? null, limit],
  );
  return rows;
}

/** Queued items of a run that will not be dialled any more (cancelled or failed run). */
export async function cancelQueuedItems(db: Queryable, businessId: number, runId: number): Promise<number> {
  const { rowCount } = await db.query(
    `UPDATE run_items SET status = 'cancelled', updated_at = now() WHERE business_id = $1 AND run_id = $2 AND status = 'queued'`,
    [businessId, runId],
  );
  return rowCount ?? 0;
}

export interface RunBatchState {
  runId: number;
  cancelRequested: boolean;
  total: number;
  ended: number;
  completed: number;
  /** Queued items due now. */
  due: number;
  /** This run's calls holding a slot. */
  active: number;
  concurrency: number;
}

/**
 * Everything a batch of the run's job reads, in one statement (it runs once per call ended: at
 * 1000 businesses, three separate reads were a measurable share of the database's work), hence
 * the engine's join fragment for the job's cancel request rather than a call of its API.
 */
export async function runBatchState(db: Queryable, businessId: number, jobId: number): Promise<RunBatchState | null> {
  const { rows } = await db.query<RunBatchState>({
    name: 'bulkhead_run_batch_state',
    text: `SELECT r.id AS "runId", j.cancel_requested AS "cancelRequested", r.concurrency,
                  p.total, p.ended, p.completed, p.due,
                  (SELECT count(*)::int FROM calls c WHERE c.business_id = $1 AND c.run_id = r.id AND c.status IN ${ACTIVE_SQL}) AS active
             FROM outbound_runs r
             ${jobJoin('j', 'r.job_id', '$1')}
             CROSS JOIN LATERAL (
               SELECT count(*)::int AS total,
                      count(*) FILTER (WHERE status IN ${ENDED_ITEM_SQL})::int AS ended,
                      count(*) FILTER (WHERE status = 'completed')::int AS completed,
                      count(*) FILTER (WHERE status = 'queued' AND next_attempt_at <= now())::int AS due
                 FROM run_items WHERE business_id = $1 AND run_id = r.id) p
            WHERE r.business_id = $1 AND r.job_id = $2`,
    values: [businessId, jobId],
  });
  return rows[0] ?? null;
}
