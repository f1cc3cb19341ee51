import type { Queryable } from '../db/pool.js';
import type { CallOutcome } from '../contract/outbound.js';
import { ACTIVE_CALL_STATUSES, FINAL_CALL_STATUSES, finalOutcomeSql, sqlList, type CallStatus } from './call-status.js';

export interface CallRow {
  id: number;
  business_id: number;
  lead_id: number | null;
  run_id: number | null;
  run_item_id: number | null;
  attempt: number;
  direction: string;
  from_number: string;
  to_number: string;
  status: CallStatus;
  call_sid: string | null;
  duration_s: number | null;
  error: string | null;
  recording_sid: string | null;
  recording_status: string | null;
  recording_duration_s: number | null;
  /** The opaque secret in this call's callback URLs (006_webhook_binding.sql); null for calls placed before it. */
  callback_token: string | null;
  /** The business's own Twilio account the call was placed through (011_channels.sql); null: the deployment's. */
  account_sid: string | null;
  /** Answering-machine detection's verdict, what came of the call, who took it, what was pressed (013_call_flows.sql). */
  answered_by: 'human' | 'machine' | 'unknown' | null;
  outcome: CallOutcome | null;
  agent: string | null;
  digits: string | null;
  created_at: Date;
  answered_at: Date | null;
  ended_at: Date | null;
  updated_at: Date;
}

export const CALL_COLUMNS = `id, business_id, lead_id, run_id, run_item_id, attempt, direction, from_number, to_number, status,
  call_sid, duration_s, error, recording_sid, recording_status, recording_duration_s, callback_token, account_sid, answered_by, outcome, agent, digits, created_at, answered_at, ended_at, updated_at`;

/** The statuses that hold a call slot, as a SQL list for `status IN …`. */
export const ACTIVE_SQL = sqlList(ACTIVE_CALL_STATUSES);
const FINAL_SQL = sqlList(FINAL_CALL_STATUSES);

export async function getCallBySid(db: Queryable, businessId: number, sid: string): Promise<CallRow | null> {
  const { rows } = await db.query<CallRow>(`SELECT ${CALL_COLUMNS} FROM calls WHERE business_id = $1 AND call_sid = $2`, [businessId, sid]);
  return rows[0] ?? null;
}

export async function getCall(db: Queryable, businessId: number, id: number): Promise<CallRow | null> {
  const { rows } = await db.query<CallRow>(`SELECT ${CALL_COLUMNS} FROM calls WHERE business_id = $1 AND id = $2`, [businessId, id]);
  return rows[0] ?? null;
}

/** The business's calls among `ids`, by id. */
export async function getCalls(db: Queryable, businessId: number, ids: readonly number[]): Promise<CallRow[]> {
  const { rows } = await db.query<CallRow>(`SELECT ${CALL_COLUMNS} FROM calls WHERE business_id = $1 AND id = ANY($2::bigint[]) ORDER BY id`, [businessId, ids]);
  return rows;
}

export interface CallFilter {
  leadId?: number | undefined;
  status?: string | undefined;
  beforeId?: number | undefined;
  limit: number;
}

/** Newest first, keyset-paginated by id. */
export async function listCalls(db: Queryable, businessId: number, f: CallFilter): Promise<CallRow[]> {
  const { rows } = await db.query<CallRow>(
    `SELECT ${CALL_COLUMNS} FROM calls
      WHERE business_id = $1
        AND ($2::bigint IS NULL OR lead_id = $2)
        AND ($3::text IS NULL OR status = $3)
        AND ($4::bigint IS NULL OR id < $4)
      ORDER BY id DESC LIMIT $5`,
    [businessId, f.leadId ?? null, f.status ?? null, f.beforeId ?? null, f.limit],
  );
  return rows;
}

export async function listActiveCalls(db: Queryable, businessId: number): Promise<CallRow[]> {
  const { rows } = await db.query<CallRow>(
    `SELECT ${CALL_COLUMNS} FROM calls WHERE business_id = $1 AND status IN ${ACTIVE_SQL} ORDER BY id`,
    [businessId],
  );
  return rows;
}

export interface NewCall {
  leadId: number | null;
  runId: number | null;
  runItemId: number | null;
  attempt: number;
  from: string;
  to: string;
  /** The business's own Twilio account (null or absent: the deployment's). */
  accountSid?: string | null;
}

/**
 * Inserts claimed calls (status 'dialing') in one statement; returns them in input order. A call
 * without a run remembers the business's flow as it is now (a run's calls read their run's).
 */
export async function insertCalls(db: Queryable, businessId: number, calls: NewCall[]): Promise<CallRow[]> {
  if (calls.length === 0) return [];
  const { rows } = await db.query<CallRow & { ord: number }>(
    `INSERT INTO calls (business_id, lead_id, run_id, run_item_id, attempt, from_number, to_number, account_sid, call_flow)
     SELECT $1, c.lead_id, c.run_id, c.run_item_id, c.attempt, c.from_number, c.to_number, c.account_sid,
            CASE WHEN c.run_id IS NULL THEN (SELECT s.call_flow FROM dialer_settings s WHERE s.business_id = $1) END
       FROM unnest($2::bigint[], $3::bigint[], $4::bigint[], $5::int[], $6::text[], $7::text[], $8::text[])
            WITH ORDINALITY AS c(lead_id, run_id, run_item_id, attempt, from_number, to_number, account_sid, ord)
      ORDER BY c.ord
     RETURNING ${CALL_COLUMNS}`,
    [
      businessId,
      calls.map((c) => c.leadId),
      calls.map((c) => c.runId),
      calls.map((c) => c.runItemId),
      calls.map((c) => c.attempt),
      calls.map((c) => c.from),
      calls.map((c) => c.to),
      calls.map((c) => c.accountSid ?? null),
    ],
  );
  return rows;
}

/** Locks one call for a state change (callbacks, dial results and the sweeper serialize on it). */
export async function lockCall(db: Queryable, businessId: number, id: number): Promise<CallRow | null> {
  const { rows } = await db.query<CallRow>(`SELECT ${CALL_COLUMNS} FROM calls WHERE business_id = $1 AND id = $2 FOR UPDATE`, [businessId, id]);
  return rows[0] ?? null;
}

export interface CallChange {
  status: CallStatus;
  sid: string | null;
  durationS: number | null;
  error: string | null;
}

/** `notify`: a channel to NOTIFY with the business id in the same statement (delivered at commit). */
export async function updateCall(db: Queryable, businessId: number, id: number, c: CallChange, notify: string | null = null): Promise<void> {
  await db.query(
    `WITH u AS (UPDATE calls
        SET status = $3,
            call_sid = coalesce(call_sid, $4),
            duration_s = coalesce($5, duration_s),
            error = coalesce($6, error),
            answered_at = CASE WHEN $3 = 'in-progress' AND answered_at IS NULL THEN now() ELSE answered_at END,
            ended_at = CASE WHEN $3 IN ${FINAL_SQL} AND ended_at IS NULL THEN now() ELSE ended_at END,
            outcome = CASE WHEN $3 IN ${FINAL_SQL} THEN coalesce(outcome, ${finalOutcomeSql('$3::text')}) ELSE outcome END,
            updated_at = now(), checked_at = now()
      WHERE business_id = $1 AND id = $2
      RETURNING id)
     SELECT pg_notify($7, $1::text) FROM u WHERE $7::text IS NOT NULL`,
    [businessId, id, c.status, c.sid, c.durationS, c.error, notify],
  );
}

/** A dial whose outcome is unknown: the reason, on a call still 'dialing' (the sweeper reconciles it). */
export async function noteUnconfirmedDial(db: Queryable, businessId: number, id: number, error: string): Promise<void> {
  await db.query(`UPDATE calls SET error = $3, updated_at = now() WHERE business_id = $1 AND id = $2 AND status = 'dialing'`, [businessId, id, error]);
}

/**
 * A run item's dial the provider refused with 429 (certainly not placed): the call ends failed
 * and the item is queued again, due in 2 s, to be claimed anew. One statement, so atomic.
 */
export async function requeueThrottledDial(db: Queryable, businessId: number, id: number, runItemId: number): Promise<void> {
  await db.query(
    `WITH c AS (
       UPDATE calls SET status = 'failed', outcome = 'failed', error = 'throttled by the provider; not placed', ended_at = now(), updated_at = now()
        WHERE business_id = $1 AND id = $2 AND status = 'dialing')
     UPDATE run_items SET status = 'queued', next_attempt_at = now() + interval '2 seconds', updated_at = now()
      WHERE business_id = $1 AND id = $3 AND call_id = $2`,
    [businessId, id, runItemId],
  );
}

export async function setRecording(
  db: Queryable,
  businessId: number,
  id: number,
  r: { sid: string | null; status: string; durationS: number | null },
): Promise<void> {
  await db.query(
    `UPDATE calls SET recording_sid = coalesce($3, recording_sid), recording_status = $4,
                      recording_duration_s = coalesce($5, recording_duration_s), updated_at = now()
      WHERE business_id = $1 AND id = $2 AND (recording_status IS DISTINCT FROM 'completed' OR $4 = 'completed')`,
    [businessId, id, r.sid, r.status, r.durationS],
  );
}

/**
 * setRecording for a recording callback of the provider call `callSid`: applied only when the
 * call has that sid, or none yet (then it takes it, as a status callback would). The webhook has
 * bound the callback to this call (twilio.webhooks.ts); the sid condition closes the race with a
 * create-call answer that records another sid meanwhile.
 */
export async function setRecordingOfCall(
  db: Queryable,
  businessId: number,
  id: number,
  r: { callSid: string; sid: string | null; status: string; durationS: number | null },
): Promise<void> {
  await db.query(
    `UPDATE calls SET call_sid = coalesce(call_sid, $6), recording_sid = coalesce($3, recording_sid), recording_status = $4,
                      recording_duration_s = coalesce($5, recording_duration_s), updated_at = now()
      WHERE business_id = $1 AND id = $2 AND (call_sid IS NULL OR call_sid = $6)
        AND (recording_status IS DISTINCT FROM 'completed' OR $4 = 'completed')`,
    [businessId, id, r.sid, r.status, r.durationS, r.callSid],
  );
}
