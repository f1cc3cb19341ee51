import type { ProviderCallStatus } from '../providers/telephony/types.js';

/**
 * A call's status: 'dialing' is ours (claimed, the provider has not confirmed it); the rest are
 * the provider's. Callbacks arrive duplicated and out of order, so a status only ever moves
 * forward by rank; a terminal status never changes again.
 */
export type CallStatus = 'dialing' | ProviderCallStatus;

export const ACTIVE_CALL_STATUSES: readonly CallStatus[] = ['dialing', 'queued', 'initiated', 'ringing', 'in-progress'];
export const FINAL_CALL_STATUSES: readonly CallStatus[] = ['completed', 'busy', 'no-answer', 'failed', 'canceled'];

const RANK: Record<CallStatus, number> = {
  dialing: 0,
  queued: 1,
  initiated: 2,
  ringing: 3,
  'in-progress': 4,
  completed: 5,
  busy: 5,
  'no-answer': 5,
  failed: 5,
  canceled: 5,
};

/**
 * SQL: constant words as string literals. Only our own constants come here (statuses, outcomes),
 * never input; anything but lowercase words with - or _ is refused rather than escaped.
 */
export function sqlLiteral(word: string): string {
  if (!/^[a-z][a-z_-]*$/.test(word)) throw new Error(`not a safe SQL constant: ${JSON.stringify(word)}`);
  return `'${word}'`;
}

/**
 * SQL: `('a', 'b', …)` for `status IN …`. Literals rather than `= ANY($n)`: the partial indexes on
 * active calls (002_outbound.sql) serve a query only when the planner can prove their
 * `status IN (…)` from the query's own constants, which a parameter hides from generic plans of
 * the named statements on the claim path.
 */
export function sqlList(words: readonly string[]): string {
  return `(${words.map(sqlLiteral).join(', ')})`;
}

/** SQL: the rank of a status expression (the same table as RANK), for statements that advance a call in one round trip. */
export function rankSql(expr: string): string {
  return `(CASE ${expr} ${Object.entries(RANK).map(([s, r]) => `WHEN ${sqlLiteral(s)} THEN ${r}`).join(' ')} END)`;
}

export function isActiveCall(s: CallStatus): boolean {
  return RANK[s] < 5;
}

export function isFinalCall(s: CallStatus): boolean {
  return RANK[s] === 5;
}

/** The status after `incoming` is reported, or null when it changes nothing (late, duplicate). */
export function advance(current: CallStatus, incoming: CallStatus): CallStatus | null {
  if (isFinalCall(current)) return null;
  return RANK[incoming] > RANK[current] ? incoming : null;
}

/** What a run item records when its call ends. */
export type CallOutcome = 'completed' | 'busy' | 'no_answer' | 'failed';

export function outcomeOf(final: CallStatus): CallOutcome {
  switch (final) {
    case 'completed':
      return 'completed';
    case 'busy':
      return 'busy';
    case 'no-answer':
      return 'no_answer';
    default:
      return 'failed';
  }
}

/**
 * SQL: the call outcome (contract CALL_OUTCOMES) a final status gives a call the flow did not
 * settle otherwise: answered and ended with nothing else recorded is `hung_up`. The flow's own
 * outcomes (connected, message_played, voicemail_left, opted_out) are set by its webhooks first
 * and kept: callers write `coalesce(outcome, …)`.
 */
export function finalOutcomeSql(statusExpr: string): string {
  return `(CASE ${statusExpr} WHEN 'completed' THEN 'hung_up' WHEN 'busy' THEN 'busy' WHEN 'no-answer' THEN 'no_answer' ELSE 'failed' END)`;
}
