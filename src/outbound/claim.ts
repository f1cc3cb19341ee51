import type pg from 'pg';
import { withTx } from '../db/pool.js';
import { jobJoin, runnableJobSql } from '../jobs/domain-api.js';
import { AppError, ConflictError } from '../lib/errors.js';
import { msg } from '../lib/messages.js';
import { ACCOUNT_SID_SQL, CALLER_IDS_SQL, countCallerIdUses, pickCallerIds, voiceRouteOf, type CallerId } from './caller-ids.js';
import { callingWindowState } from './calling-hours.js';
import { DIALER_CHANNEL } from './call-state.js';
import { ACTIVE_SQL, CALL_COLUMNS, insertCalls, type CallRow } from './calls.repo.js';
import { cpsAllowance, cpsBacklogSql, MAIN_ACCOUNT } from './cps.js';
import { settingsFromRow, SETTINGS_SELECT, type SettingsDefaults, type SettingsRow } from './settings.repo.js';
import { freeSlots, pickRoundRobin, type RunCandidates } from './slots.js';

/**
 * Every claim of a call slot — the next run items, or a direct call — happens in a transaction
 * holding this business's slot lock, and counts the business's active calls in the calls table
 * inside it. So at most max_outbound_calls calls are ever active, whatever the number of runs,
 * workers, API processes and direct calls. A transaction-scoped advisory lock rather than
 * SELECT … FOR UPDATE on the businesses row: FOR UPDATE would also block every insert that
 * references the business (leads, jobs: their foreign keys take FOR KEY SHARE on it).
 */
async function lockBusinessSlots(tx: pg.PoolClient, businessId: number): Promise<void> {
  await tx.query({ name: 'bulkhead_slot_lock', text: `SELECT pg_advisory_xact_lock(hashtextextended('outbound:slots:' || $1::text, 0))`, values: [businessId] });
}

/**
 * The same lock, without waiting: every fill of run items takes it this way. With blocking locks
 * the claims of one business queued behind each other, each holding a pooled connection while it
 * waited — with 3 worker processes calls/s *fell* to a fifth (docs/SCALING.md). A fill that finds
 * the lock taken returns 'locked' and the dialer tries again a few ms later, or drops it when it
 * was only a NOTIFY heard while the peers are unknown (fill-scheduler.ts, retryLocked). Direct calls
 * still wait (claimDirectCalls): a person is waiting for that answer, and they are rare.
 */
async function tryLockBusinessSlots(tx: pg.PoolClient, businessId: number): Promise<boolean> {
  const { rows } = await tx.query<{ locked: boolean }>({
    name: 'bulkhead_slot_try_lock',
    text: `SELECT pg_try_advisory_xact_lock(hashtextextended('outbound:slots:' || $1::text, 0)) AS locked`,
    values: [businessId],
  });
  return rows[0]?.locked === true;
}

class ConcurrencyLimitError extends AppError {
  constructor(active: number, limit: number, wanted: number) {
    super(429, 'concurrency_limit', msg('outbound.concurrency_limit', { free: limit - active, limit, wanted }),
      { active, limit, requested: wanted, retry_after: 5 }, { 'retry-after': '5' });
  }
}

export type ClaimOutcome =
  | { kind: 'claimed'; calls: CallRow[]; more: boolean; maxCallS: number }
  | { kind: 'no_slots' | 'idle' | 'gone' | 'locked' }
  | { kind: 'closed' | 'cps_busy'; retryInMs: number };

interface Observation extends SettingsRow {
  active: number;
  /** The business's own Twilio account (null: the deployment's), whose CPS budget applies. */
  account_sid: string | null;
  caller_ids: CallerId[];
  cps_backlog_ms: number;
  runs: Array<{ id: number; concurrency: number; active: number; items: Candidate[] }>;
}

interface Candidate {
  id: number;
  run_id: number;
  lead_id: number;
  phone: string;
  attempts: number;
  dnc: boolean;
}

export interface ClaimOptions {
  /** The deployment's number (TWILIO_FROM), for a business without caller ids of its own. */
  from: string;
  defaults: SettingsDefaults;
  cps: number;
  cpsLookaheadMs: number;
  /** The CPS key of the deployment's account (cps.ts MAIN_ACCOUNT unless the dialer names it). */
  mainAccount?: string;
  now?: Date;
}

/** Extra candidates per run, so do-not-call leads found among them do not waste the pass. */
const DNC_LOOKAHEAD = 5;

/**
 * Claims the next run items of a business for its free slots, round-robin across its running
 * runs within each run's concurrency, inside the calling hours and the CPS budget: each becomes a
 * call row in status 'dialing' (with our own id, before the provider hears of it) and the item
 * 'dialing'. The caller reserves their CPS turns and dials them after commit.
 */
export async function claimRunItems(pool: pg.Pool, businessId: number, o: ClaimOptions): Promise<ClaimOutcome> {
  return withTx(pool, async (tx) => {
    if (!(await tryLockBusinessSlots(tx, businessId))) return { kind: 'locked' };
    // One statement after the lock (its snapshot must see the previous holder's commits, so it
    // cannot ride on the lock's statement): limit and settings, active calls, the business's
    // account, caller ids and that account's CPS backlog, the running runs in round-robin order
    // and — when a slot is free — each run's next due items. Was three statements; each round
    // trip on this path is a scheduling hop on a busy machine.
    const { rows: obs } = await tx.query<Observation>({
      name: 'bulkhead_claim_observe',
      text: `SELECT s.*, a.active, vc.account_sid, ${CALLER_IDS_SQL} AS caller_ids,
                    ${cpsBacklogSql('coalesce(vc.account_sid, $2)')} AS cps_backlog_ms, coalesce(rr.list, '[]') AS runs
               FROM (${SETTINGS_SELECT}) s
               CROSS JOIN LATERAL (SELECT ${ACCOUNT_SID_SQL} AS account_sid) vc
               CROSS JOIN LATERAL (SELECT count(*)::int AS active FROM calls WHERE business_id = $1 AND status IN ${ACTIVE_SQL}) a
               CROSS JOIN LATERAL (
                 SELECT json_agg(json_build_object('id', r.id, 'concurrency', r.concurrency, 'active', r.active, 'items', r.items)
                                 ORDER BY r.last_dial_at, r.id) AS list
                   FROM (SELECT r.id, r.concurrency, r.last_dial_at,
                                (SELECT count(*)::int FROM calls c WHERE c.business_id = $1 AND c.run_id = r.id AND c.status IN ${ACTIVE_SQL}) AS active,
                                CASE WHEN a.active < s.max_outbound_calls THEN (
                                  SELECT coalesce(json_agg(json_build_object('id', i.id, 'run_id', i.run_id, 'lead_id', i.lead_id, 'phone', i.phone,
                                                    'attempts', i.attempts,
                                                    'dnc', EXISTS (SELECT 1 FROM dnc_numbers d WHERE d.business_id = $1 AND d.phone = i.phone))
                                                  ORDER BY i.next_attempt_at, i.id), '[]')
                                    FROM (SELECT id, run_id, lead_id, phone, attempts, next_attempt_at FROM run_items i
                                           WHERE i.business_id = $1 AND i.run_id = r.id AND i.status = 'queued' AND i.next_attempt_at <= now()
                                             AND NOT EXISTS (SELECT 1 FROM calls c WHERE c.business_id = $1 AND c.lead_id = i.lead_id AND c.status IN ${ACTIVE_SQL})
                                           ORDER BY i.next_attempt_at, i.id
                                           LIMIT least(r.concurrency, s.max_outbound_calls) + ${DNC_LOOKAHEAD}) i)
                                ELSE '[]'::json END AS items
                           FROM outbound_runs r ${jobJoin('j', 'r.job_id', '$1')}
                          WHERE r.business_id = $1 AND ${runnableJobSql('j')}) r) rr`,
      values: [businessId, o.mainAccount ?? MAIN_ACCOUNT],
    });
    const b = obs[0];
    if (!b) return { kind: 'gone' };
    const settings = settingsFromRow(b, o.defaults);
    let free = freeSlots(b.active, b.max_outbound_calls);
    if (free === 0) return { kind: 'no_slots' };
    const window = callingWindowState(o.now ?? new Date(), settings.timezone, settings.callingHours);
    if (!window.open) return { kind: 'closed', retryInMs: window.opensInMs };
    const allowance = cpsAllowance(b.cps_backlog_ms, o.cpsLookaheadMs, o.cps);
    if (allowance === 0) return { kind: 'cps_busy', retryInMs: Math.max(5, b.cps_backlog_ms - o.cpsLookaheadMs) };
    free = Math.min(free, allowance);
    const open = b.runs.map((r) => ({ ...r, free: freeSlots(b.active, b.max_outbound_calls, r) })).filter((r) => r.free > 0);
    if (open.length === 0) return { kind: 'idle' };
    const candidates = open.flatMap((r) => r.items);
    const skipped = candidates.filter((c) => c.dnc).map((c) => c.id);
    if (skipped.length > 0) {
      await tx.query(
        `UPDATE run_items SET status = 'skipped', error = 'do_not_call', updated_at = now()
          WHERE business_id = $1 AND id = ANY($2::bigint[]) AND status = 'queued'`,
        [businessId, skipped],
      );
    }
    const byRun: RunCandidates<Candidate>[] = open.map((r) => ({
      runId: r.id,
      free: r.free,
      items: candidates.filter((c) => c.run_id === r.id && !c.dnc),
    }));
    const picked = pickRoundRobin(byRun, free, (c) => c.lead_id);
    if (picked.length === 0) return skipped.length > 0 ? { kind: 'claimed', calls: [], more: true, maxCallS: settings.maxCallS } : { kind: 'idle' };
    const froms = pickCallerIds(b.caller_ids, picked.map((c) => c.phone), o.from);
    // The calls, their items, the runs' round-robin order and the caller ids' use counts in ONE
    // statement (was three round trips). The CPS turns are reserved by the caller after COMMIT, in autocommit: inside this
    // transaction the one shared CPS row stayed locked until COMMIT returned, serializing every
    // claim of every business on it (measured: this statement averaged 23 ms at ~75 claims/s
    // on 2 busy cores, four times a trivial one).
    const { rows: calls } = await tx.query<CallRow>({
      name: 'bulkhead_claim_write',
      text: `WITH ins AS (
               INSERT INTO calls (business_id, lead_id, run_id, run_item_id, attempt, from_number, to_number, account_sid)
               SELECT $1, c.lead_id, c.run_id, c.run_item_id, c.attempt, c.from_number, c.to_number, $8::text
                 FROM unnest($2::bigint[], $3::bigint[], $4::bigint[], $5::int[], $7::text[], $6::text[])
                      WITH ORDINALITY AS c(lead_id, run_id, run_item_id, attempt, to_number, from_number, ord)
                ORDER BY c.ord
               RETURNING ${CALL_COLUMNS}),
             items AS (
               UPDATE run_items i SET status = 'dialing', attempts = ins.attempt, call_id = ins.id, error = NULL, updated_at = now()
                 FROM ins WHERE i.business_id = $1 AND i.id = ins.run_item_id),
             runs AS (
               UPDATE outbound_runs SET last_dial_at = clock_timestamp() WHERE business_id = $1 AND id = ANY($3::bigint[])),
             callers AS (
               UPDATE voice_caller_ids v SET uses = v.uses + u.n
                 FROM (SELECT f, count(*) AS n FROM unnest($6::text[]) f GROUP BY f) u
                WHERE v.business_id = $1 AND v.caller_id = u.f)
           SELECT * FROM ins ORDER BY id`,
      values: [
        businessId,
        picked.map((c) => c.lead_id),
        picked.map((c) => c.run_id),
        picked.map((c) => c.id),
        picked.map((c) => c.attempts + 1),
        froms,
        picked.map((c) => c.phone),
        b.account_sid,
      ],
    });
    return { kind: 'claimed', calls, more: skipped.length > 0, maxCallS: settings.maxCallS };
  });
}

/**
 * Direct calls: all of them get a slot or none does (429 concurrency_limit); a lead already in
 * a call is a 409. They go out like a run's: from the business's caller ids, through its account.
 */
export async function claimDirectCalls(
  pool: pg.Pool,
  businessId: number,
  leads: Array<{ id: number; phone: string }>,
  from: string,
): Promise<CallRow[]> {
  return withTx(pool, async (tx) => {
    await lockBusinessSlots(tx, businessId);
    const { rows } = await tx.query<{ limit: number; active: number; busy: number[] }>(
      `SELECT b.max_outbound_calls AS limit,
              (SELECT count(*)::int FROM calls WHERE business_id = $1 AND status IN ${ACTIVE_SQL}) AS active,
              ARRAY(SELECT lead_id FROM calls WHERE business_id = $1 AND status IN ${ACTIVE_SQL} AND lead_id = ANY($2::bigint[])) AS busy
         FROM businesses b WHERE b.id = $1`,
      [businessId, leads.map((l) => l.id)],
    );
    const o = rows[0];
    if (!o) throw new Error(`business ${businessId} vanished`);
    if (o.busy.length > 0) {
      throw new ConflictError('lead_in_call', msg('outbound.lead_in_call', { ids: o.busy }), { lead_ids: o.busy });
    }
    if (freeSlots(o.active, o.limit) < leads.length) throw new ConcurrencyLimitError(o.active, o.limit, leads.length);
    const route = await voiceRouteOf(tx, businessId);
    const froms = pickCallerIds(route.callerIds, leads.map((l) => l.phone), from);
    const calls = await insertCalls(tx, businessId, leads.map((l, i) => ({
      leadId: l.id, runId: null, runItemId: null, attempt: 1, from: froms[i] ?? from, to: l.phone, accountSid: route.accountSid,
    })));
    await countCallerIdUses(tx, businessId, route.callerIds.length > 0 ? froms : []);
    // A fill that only tried this lock and found it taken gave up (a NOTIFY heard while its
    // dialer did not know its peers, dialer-peers.ts): the dialers fill again once this commits.
    await tx.query(`SELECT pg_notify($1, $2::text)`, [DIALER_CHANNEL, businessId]);
    return calls;
  });
}
