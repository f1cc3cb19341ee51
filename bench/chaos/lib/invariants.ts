/**
 * The invariants of DESIGN.md as SQL over the live database: a monitor samples the ones that
 * must hold at every instant (call caps, one active job per lock), and `finalChecks` proves the
 * ones about outcomes once the load has drained (no job lost, exact counts, no duplicate effect).
 */
import type pg from 'pg';

const ACTIVE_CALL = `('dialing', 'queued', 'initiated', 'ringing', 'in-progress')`;

export interface Check {
  check: string;
  target: string;
  measured: string;
  pass: boolean;
}

export function check(name: string, target: string, measured: string | number, pass: boolean): Check {
  return { check: name, target, measured: String(measured), pass };
}

/** Samples every `everyMs` until stopped; a failed sample (database restarting) is counted, not fatal. */
export class InvariantMonitor {
  samples = 0;
  failedSamples = 0;
  /** Highest number of active calls seen for one business, and its limit then. */
  peakActive = 0;
  peakActiveTotal = 0;
  capViolations: Array<{ businessId: number; active: number; limit: number }> = [];
  lockViolations: Array<{ businessId: number; lockKey: string; n: number }> = [];
  #timer: NodeJS.Timeout | null = null;
  #running: Promise<void> | null = null;

  constructor(private readonly pool: pg.Pool, private readonly everyMs = 200) {}

  start(): this {
    this.#timer = setInterval(() => {
      if (this.#running) return;
      this.#running = this.#sample().finally(() => (this.#running = null));
    }, this.everyMs);
    return this;
  }

  async stop(): Promise<void> {
    if (this.#timer) clearInterval(this.#timer);
    await this.#running;
  }

  async #sample(): Promise<void> {
    try {
      // One statement, one snapshot: the counts are of one instant.
      const { rows } = await this.pool.query<{ business_id: number; active: number; lim: number; total: number }>(
        `SELECT c.business_id, count(*)::int AS active, b.max_outbound_calls AS lim, sum(count(*)) OVER ()::int AS total
           FROM calls c JOIN businesses b ON b.id = c.business_id
          WHERE c.status IN ${ACTIVE_CALL}
          GROUP BY c.business_id, b.max_outbound_calls`,
      );
      for (const r of rows) {
        this.peakActive = Math.max(this.peakActive, r.active);
        if (r.active > r.lim && this.capViolations.length < 100) this.capViolations.push({ businessId: r.business_id, active: r.active, limit: r.lim });
      }
      this.peakActiveTotal = Math.max(this.peakActiveTotal, rows[0]?.total ?? 0);
      const locks = await this.pool.query<{ business_id: number; lock_key: string; n: number }>(
        `SELECT business_id, lock_key, count(*)::int AS n FROM jobs
          WHERE status IN ('queued', 'running', 'paused') AND lock_key IS NOT NULL
          GROUP BY 1, 2 HAVING count(*) > 1`,
      );
      for (const r of locks.rows) if (this.lockViolations.length < 100) this.lockViolations.push({ businessId: r.business_id, lockKey: r.lock_key, n: r.n });
      this.samples += 1;
    } catch {
      this.failedSamples += 1;
    }
  }

  checks(): Check[] {
    return [
      check('per-business active calls ≤ its limit (sampled)', '0 violations', `${this.capViolations.length} violations in ${this.samples} samples (peak ${this.peakActive} for one business, ${this.peakActiveTotal} in all)`, this.capViolations.length === 0),
      check('one active job per (business, lock) (sampled)', '0 violations', `${this.lockViolations.length} in ${this.samples} samples`, this.lockViolations.length === 0),
    ];
  }
}

export interface JobSummary {
  accepted: number;
  byStatus: Record<string, number>;
  missing: number[];
  notTerminal: number[];
  /** type/status of a few jobs that are not terminal, for the report. */
  stuck: string[];
  failed: Array<{ id: number; type: string; last_error: string | null }>;
}

export async function jobStates(pool: pg.Pool, ids: readonly number[]): Promise<JobSummary> {
  const { rows } = await pool.query<{ id: number; type: string; status: string; last_error: string | null; locked_by: string | null; processed: number; total: number }>(
    `SELECT id, type, status, last_error, locked_by, processed, total FROM jobs WHERE id = ANY($1::bigint[])`,
    [ids],
  );
  const found = new Set(rows.map((r) => r.id));
  const byStatus: Record<string, number> = {};
  for (const r of rows) byStatus[r.status] = (byStatus[r.status] ?? 0) + 1;
  return {
    accepted: ids.length,
    byStatus,
    missing: ids.filter((id) => !found.has(id)),
    notTerminal: rows.filter((r) => !['completed', 'failed', 'cancelled'].includes(r.status)).map((r) => r.id),
    stuck: rows.filter((r) => !['completed', 'failed', 'cancelled'].includes(r.status)).slice(0, 5)
      .map((r) => `#${r.id} ${r.type} ${r.status} ${r.processed}/${r.total}${r.last_error ? ` (${r.last_error})` : ''}`),
    failed: rows.filter((r) => r.status === 'failed').map((r) => ({ id: r.id, type: r.type, last_error: r.last_error })),
  };
}

/** Waits until every job of `ids` is terminal (or the deadline passes); paused ones are resumed by `resume`. */
export async function drainJobs(pool: pg.Pool, ids: readonly number[], timeoutMs: number, resume?: (jobId: number, businessId: number) => Promise<void>): Promise<JobSummary> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    if (resume) {
      const { rows } = await pool.query<{ id: number; business_id: number }>(
        `SELECT id, business_id FROM jobs WHERE id = ANY($1::bigint[]) AND status = 'paused'`, [ids],
      ).catch(() => ({ rows: [] }));
      for (const r of rows) await resume(r.id, r.business_id);
    }
    const s = await jobStates(pool, ids).catch(() => null);
    if (s && s.notTerminal.length === 0) return s;
    if (Date.now() > deadline) return s ?? jobStates(pool, ids);
    await new Promise((r) => setTimeout(r, 500));
  }
}

export function jobChecks(s: JobSummary): Check[] {
  const statuses = Object.entries(s.byStatus).map(([k, v]) => `${k} ${v}`).join(', ');
  return [
    check('every accepted job exists (none lost)', '0 missing', `${s.missing.length} missing of ${s.accepted}`, s.missing.length === 0),
    check('every accepted job reaches a terminal status', '0 left', `${s.notTerminal.length} not terminal (${statuses || 'none'})${s.stuck.length > 0 ? `: ${s.stuck.join('; ')}` : ''}`, s.notTerminal.length === 0),
  ];
}

/** Exact counts of finished jobs: processed = total for completed, succeeded + failed = processed. */
export async function countChecks(pool: pg.Pool, ids: readonly number[]): Promise<Check[]> {
  const { rows } = await pool.query<{ bad_total: number; bad_sum: number; n: number }>(
    `SELECT count(*) FILTER (WHERE status = 'completed' AND processed <> total)::int AS bad_total,
            count(*) FILTER (WHERE succeeded + failed <> processed)::int AS bad_sum,
            count(*)::int AS n
       FROM jobs WHERE id = ANY($1::bigint[])`,
    [ids],
  );
  const r = rows[0] ?? { bad_total: 0, bad_sum: 0, n: 0 };
  const imports = await pool.query<{ bad: number; n: number }>(
    `SELECT count(*) FILTER (WHERE i.inserted + i.duplicates + i.invalid <> i.total)::int AS bad, count(*)::int AS n
       FROM imports i JOIN jobs j ON j.id = i.job_id WHERE j.id = ANY($1::bigint[]) AND j.status = 'completed'`,
    [ids],
  );
  const im = imports.rows[0] ?? { bad: 0, n: 0 };
  return [
    check('exact counts: completed jobs processed = total, succeeded + failed = processed', '0 off', `${r.bad_total + r.bad_sum} off of ${r.n}`, r.bad_total + r.bad_sum === 0),
    check('exact counts: imports inserted + duplicates + invalid = rows', '0 off', `${im.bad} off of ${im.n}`, im.bad === 0),
  ];
}

/** At most one call per lead per run (runs here have no retry policy), and run items all settled. */
export async function callChecks(pool: pg.Pool, sim: { duplicateCalls: unknown[]; calls: number }): Promise<Check[]> {
  const dup = await pool.query<{ n: number }>(
    `SELECT count(*)::int AS n FROM (SELECT run_id, lead_id FROM calls WHERE run_id IS NOT NULL GROUP BY 1, 2 HAVING count(*) > 1) d`,
  );
  const stuck = await pool.query<{ n: number; total: number; calls: number }>(
    `SELECT (SELECT count(*) FROM run_items WHERE status IN ('dialing', 'calling'))::int AS n,
            (SELECT count(*) FROM run_items)::int AS total,
            (SELECT count(*) FROM calls)::int AS calls`,
  );
  const s = stuck.rows[0] ?? { n: 0, total: 0, calls: 0 };
  const dupes = dup.rows[0]?.n ?? 0;
  return [
    check('no duplicate call: calls per (run, lead) ≤ 1', '0', `${dupes} (of ${s.calls} calls)`, dupes === 0),
    check('no duplicate call at the provider: simulator calls per our call id ≤ 1', '0', `${sim.duplicateCalls.length} (simulator placed ${sim.calls})`, sim.duplicateCalls.length === 0),
    check('run items settled after drain (none left dialing/calling)', '0', `${s.n} of ${s.total}`, s.n === 0),
  ];
}

/** At most one accepted message per recipient; no recipient left `sending`. */
export async function messageChecks(pool: pg.Pool, sim: { duplicateMessages: unknown[]; accepted: number }): Promise<Check[]> {
  const { rows } = await pool.query<{ sending: number; total: number; sent: number; failed: number; queued: number }>(
    `SELECT count(*) FILTER (WHERE status = 'sending')::int AS sending,
            count(*) FILTER (WHERE status IN ('sent', 'delivered', 'read'))::int AS sent,
            count(*) FILTER (WHERE status = 'failed')::int AS failed,
            count(*) FILTER (WHERE status = 'queued')::int AS queued,
            count(*)::int AS total FROM whatsapp_recipients`,
  );
  const r = rows[0] ?? { sending: 0, total: 0, sent: 0, failed: 0, queued: 0 };
  const reasons = await pool.query<{ reason: string; n: number }>(
    `SELECT coalesce(reason, '?') AS reason, count(*)::int AS n FROM whatsapp_recipients WHERE status = 'failed' GROUP BY 1 ORDER BY 2 DESC`,
  );
  const why = reasons.rows.map((x) => `${x.reason} ${x.n}`).join(', ');
  return [
    check('no duplicate message: simulator accepted per recipient ≤ 1', '0', `${sim.duplicateMessages.length} (accepted ${sim.accepted}, recipients ${r.total}: sent ${r.sent}, failed ${r.failed}${why ? ` (${why})` : ''}, queued ${r.queued} (of cancelled broadcasts))`, sim.duplicateMessages.length === 0),
    check('no recipient left `sending` after drain', '0', `${r.sending}`, r.sending === 0),
  ];
}

/**
 * Gate exactness from the jobs table: for every (business, rate-limited operation) no 60 s
 * window holds more jobs than the limit. A small epsilon covers the transaction-start clock
 * (created_at = now() of the inserting transaction, taken before its advisory lock).
 */
export async function gateChecks(pool: pg.Pool, limits: Record<string, number>): Promise<Check[]> {
  const { rows } = await pool.query<{ type: string; n: number; worst: number }>(
    `SELECT type, count(*)::int AS n, max(w)::int AS worst FROM (
       SELECT j.type, (SELECT count(*) FROM jobs k WHERE k.business_id = j.business_id AND k.type = j.type
                         AND k.created_at > j.created_at - interval '59.9 seconds' AND k.created_at <= j.created_at) AS w
         FROM jobs j) x GROUP BY type`,
  );
  const over = rows.filter((r) => limits[r.type] !== undefined && r.worst > (limits[r.type] ?? 0));
  const measured = rows.map((r) => `${r.type} max ${r.worst}/${limits[r.type] ?? '?'} per min`).join('; ');
  return [check('gate: accepted jobs per (business, operation) per 60 s ≤ rate limit', '0 over', `${over.length} over (${measured})`, over.length === 0)];
}

export interface TableStat {
  relname: string;
  n_live_tup: number;
  n_dead_tup: number;
  size: string;
  autovacuums: number;
}

export async function tableStats(pool: pg.Pool, tables: string[]): Promise<TableStat[]> {
  const { rows } = await pool.query<TableStat>(
    `SELECT relname, n_live_tup::int, n_dead_tup::int, pg_size_pretty(pg_total_relation_size(relid)) AS size,
            (autovacuum_count + vacuum_count)::int AS autovacuums
       FROM pg_stat_user_tables WHERE relname = ANY($1) ORDER BY relname`,
    [tables],
  );
  return rows;
}
