import type { Call, DialerSettings as DialerSettingsView, DncNumber, OutcomeRetry as OutcomeRetryView, Run, RunItem } from '../contract/outbound.js';
import { storedFlow } from './call-flow.js';
import type { CallRow } from './calls.repo.js';
import type { DncRow } from './dnc.repo.js';
import { perOutcome, type OutcomeRetry } from './retry.js';
import type { RunCountsRow, RunItemRow, RunRow } from './runs.repo.js';
import type { BusinessFlow, DialerSettings } from './settings.repo.js';

/** The public shape of a call (API.md "Outbound calls"); `id` is our own id, set before the provider's sid exists. */
export function callView(c: CallRow): Call {
  return {
    call_sid: c.call_sid,
    id: c.id,
    lead_id: c.lead_id,
    run_id: c.run_id,
    direction: c.direction,
    from: c.from_number,
    to: c.to_number,
    status: c.status,
    duration_s: c.duration_s,
    has_recording: c.recording_status === 'completed',
    started_at: c.created_at.toISOString(),
    answered_at: c.answered_at?.toISOString() ?? null,
    ended_at: c.ended_at?.toISOString() ?? null,
    error: c.error,
    answered_by: c.answered_by,
    outcome: c.outcome,
    agent: c.agent,
    digits: c.digits,
  };
}

export function runView(r: RunRow, counts: RunCountsRow): Run {
  return {
    id: r.id,
    job_id: r.job_id,
    status: r.job_status,
    concurrency: r.concurrency,
    call_flow: storedFlow(r.call_flow),
    counts,
    created_at: r.created_at.toISOString(),
  };
}

export function itemView(i: RunItemRow): RunItem {
  return { id: i.id, lead_id: i.lead_id, phone: i.phone, status: i.status, call_sid: i.call_sid, attempts: i.attempts, error: i.error };
}

export function dncView(d: DncRow): DncNumber {
  return { phone: d.phone, reason: d.reason, created_at: d.created_at.toISOString() };
}

function hhmm(min: number): string {
  return `${String(Math.floor(min / 60)).padStart(2, '0')}:${String(min % 60).padStart(2, '0')}`;
}

function outcomeRetryView(r: OutcomeRetry): OutcomeRetryView {
  return 'delayS' in r.delay ? { attempts: r.attempts, after: 'delay', delay_s: r.delay.delayS } : { attempts: r.attempts, after: 'next_day', delay_s: null };
}

export function settingsView(s: DialerSettings & BusinessFlow): DialerSettingsView {
  return {
    timezone: s.timezone,
    max_outbound_calls: s.maxOutboundCalls,
    calling_hours: { start: hhmm(s.callingHours.startMin), end: hhmm(s.callingHours.endMin), default: !s.customHours },
    retry: {
      busy: s.retry.busy.attempts,
      no_answer: s.retry.no_answer.attempts,
      delay_s: s.commonRetryDelayS,
      per_outcome: perOutcome((o) => outcomeRetryView(s.retry[o])),
    },
    max_call_s: s.maxCallS,
    call_flow: s.callFlow,
    call_flow_default: s.callFlowDefault,
  };
}
