import type pg from 'pg';
import { withTx, type Queryable } from '../db/pool.js';
import { recordAudit } from '../people/audit.repo.js';
import { ACTIVE_SQL } from './calls.repo.js';

/**
 * What the call flow's webhooks record on a call (twilio.webhooks.ts, voice.webhooks.ts). Every
 * statement names the business and our call id, applies only while the call has the callback's
 * sid (or none yet: it takes it, as a status callback would), and is idempotent: Twilio retries
 * a webhook that did not answer in time, and a retry changes nothing more.
 *
 * Outcomes only get more definite: `opted_out` is never overwritten; a machine's hang-up or
 * voicemail overrides what the flow set while the machine was listening (message_played);
 * `connected` never overrides a voicemail; the final status fills in only an empty outcome
 * (call-status.ts finalOutcomeSql).
 */

/** A call as its voice webhooks see it: binding fields, the flow it was placed with, its business's name and locale. */
export interface VoiceCall {
  id: number;
  business_id: number;
  from_number: string;
  to_number: string;
  status: string;
  call_sid: string | null;
  callback_token: string | null;
  account_sid: string | null;
  outcome: string | null;
  answered_by: string | null;
  /**
   * The flow the call was placed with: its run's (the run's override, or the business's flow when
   * the run was accepted), or, for a direct call, the business's at claim time; null: the default.
   */
  flow: unknown;
  name: string;
  locale: string;
  active: boolean;
}

export async function getVoiceCall(db: Queryable, businessId: number, callId: number): Promise<VoiceCall | null> {
  const { rows } = await db.query<VoiceCall>({
    name: 'bulkhead_voice_call',
    text: `SELECT c.id, c.business_id, c.from_number, c.to_number, c.status, c.call_sid, c.callback_token, c.account_sid,
                  c.outcome, c.answered_by, coalesce(c.call_flow, r.call_flow) AS flow, b.name, b.locale,
                  c.status IN ${ACTIVE_SQL} AS active
             FROM calls c
             JOIN businesses b ON b.id = c.business_id
             LEFT JOIN outbound_runs r ON r.business_id = c.business_id AND r.id = c.run_id
            WHERE c.business_id = $1 AND c.id = $2`,
    values: [businessId, callId],
  });
  return rows[0] ?? null;
}

const SID_MATCHES = `(call_sid IS NULL OR call_sid = $3)`;

/** The flow was fetched: the call takes its sid, and the outcome the flow gives on answering (if any). */
export async function markAnswered(db: Queryable, businessId: number, callId: number, sid: string, outcome: string | null): Promise<void> {
  await db.query(
    `UPDATE calls SET call_sid = coalesce(call_sid, $3), outcome = coalesce(outcome, $4), updated_at = now()
      WHERE business_id = $1 AND id = $2 AND ${SID_MATCHES}`,
    [businessId, callId, sid, outcome],
  );
}

/** Keys pressed that change nothing else. */
export async function recordDigits(db: Queryable, businessId: number, callId: number, sid: string, digits: string): Promise<void> {
  await db.query(`UPDATE calls SET digits = $4, updated_at = now() WHERE business_id = $1 AND id = $2 AND ${SID_MATCHES}`, [businessId, callId, sid, digits]);
}

/**
 * Press 9: the number goes on the do-not-call list and the call's outcome becomes opted_out in
 * ONE transaction, on the audit trail as the lead's own act (no user). Every later claim checks
 * the list (claim.ts), and new runs start its leads as skipped (runs.repo.ts).
 */
export async function optOut(pool: pg.Pool, businessId: number, callId: number, sid: string, phone: string, digits: string): Promise<void> {
  await withTx(pool, async (tx) => {
    const { rowCount } = await tx.query(
      `UPDATE calls SET outcome = 'opted_out', digits = $4, call_sid = coalesce(call_sid, $3), updated_at = now()
        WHERE business_id = $1 AND id = $2 AND ${SID_MATCHES} AND outcome IS DISTINCT FROM 'opted_out'`,
      [businessId, callId, sid, digits],
    );
    await tx.query(
      `INSERT INTO dnc_numbers (business_id, phone, reason) VALUES ($1, $2, 'opted_out_by_phone')
       ON CONFLICT (business_id, phone) DO NOTHING`,
      [businessId, phone],
    );
    if ((rowCount ?? 0) > 0) {
      await recordAudit(tx, { businessId, actor: null, action: 'dnc.opt_out', targetType: 'phone', targetId: phone, details: { call_id: callId, digits } });
    }
  });
}

/**
 * The first AMD verdict of an active call; false for a retry or a call already ended (then the
 * webhook does nothing else). Twilio's AnsweredBy values map to human / machine / unknown.
 */
export async function recordAnsweredBy(db: Queryable, businessId: number, callId: number, sid: string, answeredBy: 'human' | 'machine' | 'unknown'): Promise<boolean> {
  const { rowCount } = await db.query(
    `UPDATE calls SET answered_by = $4, call_sid = coalesce(call_sid, $3), updated_at = now()
      WHERE business_id = $1 AND id = $2 AND ${SID_MATCHES} AND answered_by IS NULL AND status IN ${ACTIVE_SQL}`,
    [businessId, callId, sid, answeredBy],
  );
  return (rowCount ?? 0) > 0;
}

/** A machine answered: hung up, or a voicemail left (unless the number opted out meanwhile). */
export async function setMachineOutcome(db: Queryable, businessId: number, callId: number, outcome: 'hung_up' | 'voicemail_left'): Promise<void> {
  await db.query(
    `UPDATE calls SET outcome = $3, updated_at = now() WHERE business_id = $1 AND id = $2 AND outcome IS DISTINCT FROM 'opted_out'`,
    [businessId, callId, outcome],
  );
}

/**
 * The lead talked to an agent (`agent`: the number that took it, when known). Not when the
 * answering-machine detection said machine and the call was hung up: with asynchronous AMD the
 * flow may already be dialling agents when the verdict comes, and an agent leg's "answered"
 * handled after our hang-up met a machine, not the lead (the dialer bench saw 1,114 of 1,122
 * such machines recorded `connected`). A `hung_up` of a call no machine answered is the final
 * status's default and gives way.
 */
export async function markConnected(db: Queryable, businessId: number, callId: number, sid: string, agent: string | null): Promise<void> {
  await db.query(
    `UPDATE calls SET outcome = CASE WHEN outcome IN ('opted_out', 'voicemail_left') OR (outcome = 'hung_up' AND answered_by = 'machine') THEN outcome
                                     ELSE 'connected' END,
                      agent = coalesce(agent, $4), updated_at = now()
      WHERE business_id = $1 AND id = $2 AND ${SID_MATCHES}`,
    [businessId, callId, sid, agent],
  );
}
