import { RETRY_OUTCOMES, type CallOutcome as FlowOutcome, type RetryOutcome } from '../contract/outbound.js';
import { untilLocalTimeMs } from './calling-hours.js';
import { sqlList, sqlLiteral, type CallOutcome } from './call-status.js';

export { RETRY_OUTCOMES, type RetryOutcome };

/** When a retry is due: a fixed delay after the call, or the next opening of the calling hours ("tomorrow"). */
export type RetryDelay = { delayS: number } | { nextDay: true };

/** Extra attempts after an outcome, and when each is due. */
export interface OutcomeRetry {
  attempts: number;
  delay: RetryDelay;
}

/** A business's retry policy (dialer_settings; settings.repo.ts builds it). */
export type RetryPolicy = Record<RetryOutcome, OutcomeRetry>;

/** The common delay when a business set none (dialer_settings.retry_delay_s's default). */
export const DEFAULT_RETRY_DELAY_S = 900;

/** One value per retried outcome, spelled out so that adding an outcome fails to compile until each use handles it. */
export function perOutcome<T>(f: (o: RetryOutcome) => T): Record<RetryOutcome, T> {
  return { busy: f('busy'), no_answer: f('no_answer'), machine: f('machine'), voicemail_left: f('voicemail_left') };
}

export const NO_RETRY: RetryPolicy = perOutcome(() => ({ attempts: 0, delay: { delayS: DEFAULT_RETRY_DELAY_S } }));

/** An ended call as the policy sees it: the run item's outcome (from the final status), AMD's verdict and the flow's outcome. */
export interface EndedCall {
  status: CallOutcome;
  answeredBy: 'human' | 'machine' | 'unknown' | null;
  /** The call's outcome as the flow's webhooks left it before the final status (null: none). */
  outcome: FlowOutcome | null;
}

interface Recognition {
  status: CallOutcome;
  /** Only when answering-machine detection said "machine". */
  machine: boolean;
  /** The flow outcomes that count (null: the flow recorded none); absent: any. */
  outcomes?: readonly (FlowOutcome | null)[];
  /** dialer_settings: the number of extra attempts. */
  column: string;
}

/**
 * The retried outcomes: how each is recognised on an ended call, and its column of extra
 * attempts. retryOutcomeOf and retryDueSql both read this table, so the TypeScript rule and the
 * SQL one cannot drift apart. A completed call is done and a failed one (bad number, provider
 * refusal, unconfirmed dial) must not be redialled blindly — except a completed call that only
 * a machine answered: `machine` when it was hung up on (on_machine "hangup"; also a message
 * played to the machine, or nothing recorded), `voicemail_left` when the flow left a voicemail.
 * They are two outcomes because a left voicemail has already said what the call had to say: it
 * is final by default (0 attempts), while a business may well want machines called again.
 * A machine that opted out or was connected to an agent is neither: those outcomes are final.
 */
const RETRIED: Record<RetryOutcome, Recognition> = {
  busy: { status: 'busy', machine: false, column: 'retry_busy' },
  no_answer: { status: 'no_answer', machine: false, column: 'retry_no_answer' },
  machine: { status: 'completed', machine: true, outcomes: [null, 'hung_up', 'message_played'], column: 'retry_machine' },
  voicemail_left: { status: 'completed', machine: true, outcomes: ['voicemail_left'], column: 'retry_voicemail_left' },
};

/** Which retried outcome an ended call has, or null (its outcome is final whatever the policy). */
export function retryOutcomeOf(c: EndedCall): RetryOutcome | null {
  for (const o of RETRY_OUTCOMES) {
    const r = RETRIED[o];
    if (c.status !== r.status) continue;
    if (r.machine && c.answeredBy !== 'machine') continue;
    if (r.outcomes && !r.outcomes.includes(c.outcome)) continue;
    return o;
  }
  return null;
}

/**
 * After attempt number `attempt` (1 = the first call) ended with `outcome`: when to retry, or
 * null (no retry left, or an outcome that is never retried).
 */
export function nextRetry(outcome: RetryOutcome | null, attempt: number, policy: RetryPolicy): RetryDelay | null {
  if (outcome === null) return null;
  const p = policy[outcome];
  return attempt <= p.attempts ? p.delay : null;
}

/**
 * Seconds from `now` until a retry is due. "Next day" is the next start of the business's
 * calling hours in its time zone (`dayStartMin`), strictly after now: a call at 14:00 with hours
 * 08:00–21:00 is retried at 08:00 tomorrow, one at 23:00 with hours 22:00–06:00 at 22:00
 * tomorrow. A business on the deployment's default hours has dayStartMin 0 (local midnight: the
 * state of a call knows no configuration), and the claim then holds the item until those hours
 * open — 08:00 with the default 08:00–21:00.
 */
export function retryDelayS(d: RetryDelay, now: Date, day: { timeZone: string; dayStartMin: number }): number {
  if ('delayS' in d) return d.delayS;
  return Math.max(1, Math.ceil(untilLocalTimeMs(now, day.timeZone, day.dayStartMin) / 1000));
}

/** SQL expressions for an ended call's parts (EndedCall's fields). */
export interface EndedCallSql {
  status: string;
  answeredBy: string;
  outcome: string;
}

function recognisedSql(r: Recognition, e: EndedCallSql): string {
  const parts = [`${e.status} = ${sqlLiteral(r.status)}`];
  if (r.machine) parts.push(`${e.answeredBy} = ${sqlLiteral('machine')}`);
  if (r.outcomes) {
    const named = r.outcomes.filter((o): o is FlowOutcome => o !== null);
    const alternatives = [...(r.outcomes.includes(null) ? [`${e.outcome} IS NULL`] : []), ...(named.length > 0 ? [`${e.outcome} IN ${sqlList(named)}`] : [])];
    parts.push(`(${alternatives.join(' OR ')})`);
  }
  return parts.join(' AND ');
}

/**
 * SQL: true exactly when nextRetry(retryOutcomeOf(call), attempt, policy) would retry, for a
 * statement that decides in the database without a round trip for the policy (call-state.ts,
 * endActiveCall). The arguments are SQL expressions for the ended call, the attempt and the
 * business id; a business without a dialer_settings row has NO_RETRY, as settings.repo.ts gives
 * nextRetry. The policy is read by uncorrelated subqueries when `businessId` is a parameter:
 * evaluated once per statement. Only the count matters here: when the retry is due, the
 * transactional path computes it.
 */
export function retryDueSql(e: EndedCallSql & { attempt: string; businessId: string }): string {
  const cases = RETRY_OUTCOMES.map((o) => {
    const r = RETRIED[o];
    return `WHEN ${recognisedSql(r, e)} THEN ${e.attempt} <= coalesce((SELECT ${r.column} FROM dialer_settings WHERE business_id = ${e.businessId}), ${NO_RETRY[o].attempts})`;
  });
  return `(CASE ${cases.join(' ')} ELSE false END)`;
}
