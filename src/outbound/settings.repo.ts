import type { Queryable } from '../db/pool.js';
import { defaultCallFlow, storedFlow, type CallFlow } from './call-flow.js';
import type { CallingWindow } from './calling-hours.js';
import { parseHours, timeToMinutes } from './calling-hours.js';
import { DEFAULT_RETRY_DELAY_S, perOutcome, RETRY_OUTCOMES, type RetryOutcome, type RetryPolicy } from './retry.js';

/** A business's dialer rules with the defaults applied (no dialer_settings row = all defaults). */
export interface DialerSettings {
  timezone: string;
  maxOutboundCalls: number;
  callingHours: CallingWindow;
  /** True when the business set its own hours (else the DIALER_CALLING_HOURS default applies). */
  customHours: boolean;
  retry: RetryPolicy;
  /** The delay of every outcome without one of its own (`retry.delay_s`, as before 017). */
  commonRetryDelayS: number;
  maxCallS: number;
}

export interface SettingsDefaults {
  callingHours: string;
  maxCallS: number;
}

/** Per retried outcome: extra attempts, its own delay (null: retry_delay_s), next day or not (017_retry_per_outcome.sql). */
type RetryColumns = { [O in RetryOutcome as `retry_${O}`]: number | null }
  & { [O in RetryOutcome as `retry_${O}_delay_s`]: number | null }
  & { [O in RetryOutcome as `retry_${O}_next_day`]: boolean | null };

export interface SettingsRow extends RetryColumns {
  timezone: string;
  max_outbound_calls: number;
  calling_start: string | null;
  calling_end: string | null;
  retry_delay_s: number | null;
  max_call_s: number | null;
}

/** The policy a row gives (a business without a dialer_settings row: all nulls, i.e. no retries). */
export function retryPolicyFromRow(r: RetryColumns & { retry_delay_s: number | null }): RetryPolicy {
  return perOutcome((o) => ({
    attempts: r[`retry_${o}`] ?? 0,
    delay: r[`retry_${o}_next_day`] ? { nextDay: true } : { delayS: r[`retry_${o}_delay_s`] ?? r.retry_delay_s ?? DEFAULT_RETRY_DELAY_S },
  }));
}

export function settingsFromRow(r: SettingsRow, d: SettingsDefaults): DialerSettings {
  const custom = r.calling_start !== null && r.calling_end !== null;
  return {
    timezone: r.timezone,
    maxOutboundCalls: r.max_outbound_calls,
    callingHours: custom ? { startMin: timeToMinutes(r.calling_start ?? ''), endMin: timeToMinutes(r.calling_end ?? '') } : parseHours(d.callingHours),
    customHours: custom,
    retry: retryPolicyFromRow(r),
    commonRetryDelayS: r.retry_delay_s ?? DEFAULT_RETRY_DELAY_S,
    maxCallS: r.max_call_s ?? d.maxCallS,
  };
}

const RETRY_COLUMNS = RETRY_OUTCOMES.flatMap((o) => [`s.retry_${o}`, `s.retry_${o}_delay_s`, `s.retry_${o}_next_day`]).join(', ');

export const SETTINGS_SELECT = `SELECT b.timezone, b.max_outbound_calls, s.calling_start::text AS calling_start, s.calling_end::text AS calling_end,
          s.retry_delay_s, ${RETRY_COLUMNS}, s.max_call_s
     FROM businesses b LEFT JOIN dialer_settings s ON s.business_id = b.id
    WHERE b.id = $1`;

export async function getSettings(db: Queryable, businessId: number, d: SettingsDefaults): Promise<DialerSettings | null> {
  const { rows } = await db.query<SettingsRow>(SETTINGS_SELECT, [businessId]);
  const row = rows[0];
  return row ? settingsFromRow(row, d) : null;
}

/** What a call's end needs to schedule a retry: the policy, and where "next day" starts (retry.ts retryDelayS). */
export interface RetryContext {
  policy: RetryPolicy;
  timeZone: string;
  /** The business's own calling hours' start; 0 (local midnight) on the deployment's default hours. */
  dayStartMin: number;
}

/** Needs no deployment defaults (a call's end has none at hand): see dayStartMin. */
export async function getRetryContext(db: Queryable, businessId: number): Promise<RetryContext | null> {
  const { rows } = await db.query<SettingsRow>(SETTINGS_SELECT, [businessId]);
  const r = rows[0];
  if (!r) return null;
  const custom = r.calling_start !== null && r.calling_end !== null;
  return { policy: retryPolicyFromRow(r), timeZone: r.timezone, dayStartMin: custom ? timeToMinutes(r.calling_start ?? '') : 0 };
}

export interface SettingsPatch {
  calling_hours?: { start: string; end: string } | null | undefined;
  retry_busy?: number | undefined;
  retry_no_answer?: number | undefined;
  retry_delay_s?: number | undefined;
  max_call_s?: number | null | undefined;
}

export async function upsertSettings(db: Queryable, businessId: number, p: SettingsPatch): Promise<void> {
  const hoursGiven = p.calling_hours !== undefined;
  await db.query(
    `INSERT INTO dialer_settings (business_id, calling_start, calling_end, retry_busy, retry_no_answer, retry_delay_s, max_call_s)
     VALUES ($1, $2::time, $3::time, coalesce($4, 0), coalesce($5, 0), coalesce($6, 900), $7)
     ON CONFLICT (business_id) DO UPDATE SET
       calling_start = CASE WHEN $8 THEN $2::time ELSE dialer_settings.calling_start END,
       calling_end = CASE WHEN $8 THEN $3::time ELSE dialer_settings.calling_end END,
       retry_busy = coalesce($4, dialer_settings.retry_busy),
       retry_no_answer = coalesce($5, dialer_settings.retry_no_answer),
       retry_delay_s = coalesce($6, dialer_settings.retry_delay_s),
       max_call_s = CASE WHEN $9 THEN $7 ELSE dialer_settings.max_call_s END,
       updated_at = now()`,
    [
      businessId,
      p.calling_hours?.start ?? null,
      p.calling_hours?.end ?? null,
      p.retry_busy ?? null,
      p.retry_no_answer ?? null,
      p.retry_delay_s ?? null,
      p.max_call_s ?? null,
      hoursGiven,
      p.max_call_s !== undefined,
    ],
  );
}

/** A change of one outcome's retry (`retry.per_outcome.<outcome>`); delay_s implies after "delay". */
export interface OutcomeRetryPatch {
  attempts?: number | undefined;
  delay_s?: number | undefined;
  after?: 'delay' | 'next_day' | undefined;
}

const RETRY_UPDATE = `UPDATE dialer_settings SET ${RETRY_OUTCOMES.map((o, i) => {
  const n = 2 + i * 3;
  return `retry_${o} = coalesce($${n}::int, retry_${o}), retry_${o}_delay_s = coalesce($${n + 1}::int, retry_${o}_delay_s),
         retry_${o}_next_day = coalesce($${n + 2}::boolean, retry_${o}_next_day)`;
}).join(',\n  ')}, updated_at = now()
  WHERE business_id = $1`;

/**
 * Changes the per-outcome policy; what a patch leaves out stays. Runs after upsertSettings in the
 * same transaction, which made sure the row exists.
 */
export async function setRetryPerOutcome(db: Queryable, businessId: number, p: Partial<Record<RetryOutcome, OutcomeRetryPatch>>): Promise<void> {
  const values = RETRY_OUTCOMES.flatMap((o) => {
    const c = p[o];
    const nextDay = c?.after === 'next_day' ? true : c?.after === 'delay' || c?.delay_s !== undefined ? false : null;
    return [c?.attempts ?? null, c?.delay_s ?? null, nextDay];
  });
  await db.query(RETRY_UPDATE, [businessId, ...values]);
}

/** The business's call flow, or the default one (call-flow.ts) when it set none. */
export interface BusinessFlow {
  callFlow: CallFlow;
  callFlowDefault: boolean;
}

/** Kept out of SETTINGS_SELECT: the claim reads that on every fill and never needs the flow. */
export async function getBusinessFlow(db: Queryable, businessId: number): Promise<BusinessFlow | null> {
  const { rows } = await db.query<{ name: string; locale: string; call_flow: unknown }>(
    `SELECT b.name, b.locale, s.call_flow FROM businesses b LEFT JOIN dialer_settings s ON s.business_id = b.id WHERE b.id = $1`,
    [businessId],
  );
  const r = rows[0];
  if (!r) return null;
  const own = storedFlow(r.call_flow);
  return own ? { callFlow: own, callFlowDefault: false } : { callFlow: defaultCallFlow(r), callFlowDefault: true };
}

/** Sets the business's flow (null: back to the default). */
export async function setCallFlow(db: Queryable, businessId: number, flow: CallFlow | null): Promise<void> {
  await db.query(
    `INSERT INTO dialer_settings (business_id, call_flow) VALUES ($1, $2::jsonb)
     ON CONFLICT (business_id) DO UPDATE SET call_flow = EXCLUDED.call_flow, updated_at = now()`,
    [businessId, flow === null ? null : JSON.stringify(flow)],
  );
}
