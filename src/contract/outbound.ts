import { z } from 'zod';
import { countsBy, Int, JobBacked, Timestamp } from './common.js';

/** Ours ('dialing': claimed, not yet confirmed by the provider), then the provider's. */
export const CALL_STATUSES = ['dialing', 'queued', 'initiated', 'ringing', 'in-progress', 'completed', 'busy', 'no-answer', 'failed', 'canceled'] as const;
export const CallStatus = z.enum(CALL_STATUSES);
export type CallStatus = z.infer<typeof CallStatus>;

export const ANSWERED_BY = ['human', 'machine', 'unknown'] as const;
export const CALL_OUTCOMES = ['connected', 'message_played', 'voicemail_left', 'opted_out', 'hung_up', 'no_answer', 'busy', 'failed'] as const;
export type CallOutcome = (typeof CALL_OUTCOMES)[number];

/** What a lead hears once answered (API.md "Channels, locale, call flows"); requests are validated by src/outbound/call-flow.ts. */
const OnMachine = z.union([z.literal('hangup'), z.object({ voicemail: z.object({ say: z.string().optional(), play_url: z.string().optional() }) })])
  .describe('answering-machine detection said "machine": hang up at once, or leave this message after the beep');
export const CallFlow = z.discriminatedUnion('kind', [
  z.object({
    kind: z.literal('connect'),
    agents: z.array(z.string()).describe('E.164 numbers of the agents (1–10)'),
    strategy: z.enum(['simultaneous', 'sequential']),
    ring_s: Int.optional().describe('seconds each ring lasts (5–120)'),
    on_machine: OnMachine.optional(),
  }),
  z.object({
    kind: z.literal('message'),
    say: z.string().optional(),
    play_url: z.string().optional(),
    language: z.enum(['he-IL', 'en-US']).optional(),
    press_1_connect_to: z.array(z.string()).optional().describe('"press 1 to talk to us" rings these numbers'),
    on_machine: OnMachine.optional(),
  }),
  z.object({ kind: z.literal('webhook'), url: z.string().describe('the business\'s own TwiML (IVR, AI agent)'), on_machine: OnMachine.optional() }),
]).describe('A call flow; every flow also offers "press 9 to stop these calls"');
export type CallFlow = z.infer<typeof CallFlow>;

/** A call (API.md "Outbound calls"); `id` is ours, set before the provider's `call_sid` exists. */
export const Call = z.object({
  call_sid: z.string().nullable(),
  id: Int,
  lead_id: Int.nullable(),
  run_id: Int.nullable(),
  direction: z.string(),
  from: z.string(),
  to: z.string(),
  status: CallStatus,
  duration_s: Int.nullable(),
  has_recording: z.boolean(),
  started_at: Timestamp,
  answered_at: Timestamp.nullable(),
  ended_at: Timestamp.nullable(),
  error: z.string().nullable(),
  answered_by: z.enum(ANSWERED_BY).nullable().describe('answering-machine detection: who picked up (null: not answered, or no verdict yet)'),
  outcome: z.enum(CALL_OUTCOMES).nullable().describe('what came of the call (null while it is in progress)'),
  agent: z.string().nullable().describe('the agent number the lead was connected to'),
  digits: z.string().nullable().describe('the keys the lead pressed'),
}).describe('A call');
export type Call = z.infer<typeof Call>;

export const RUN_ITEM_STATUSES = ['queued', 'dialing', 'calling', 'completed', 'busy', 'no_answer', 'failed', 'cancelled', 'skipped'] as const;
export const RunItemStatus = z.enum(RUN_ITEM_STATUSES);
export type RunItemStatus = z.infer<typeof RunItemStatus>;

/** Items per status, and calls per outcome that matter to a campaign. */
export const RunCounts = countsBy(RUN_ITEM_STATUSES).extend({ connected: Int, voicemail_left: Int, opted_out: Int });
export type RunCounts = z.infer<typeof RunCounts>;

/** A run: the items of an enqueue_outbound_calls job; its status is the job's. */
export const Run = JobBacked.extend({
  concurrency: Int,
  call_flow: CallFlow.nullable().describe('the flow the run was accepted with (null: the business\'s default message)'),
  counts: RunCounts,
  created_at: Timestamp,
}).describe('A run with the count of its items per status');
export type Run = z.infer<typeof Run>;

export const RunItem = z.object({
  id: Int,
  lead_id: Int,
  phone: z.string(),
  status: RunItemStatus,
  call_sid: z.string().nullable(),
  attempts: Int,
  error: z.string().nullable(),
}).describe('An item of a run (one per lead)');
export type RunItem = z.infer<typeof RunItem>;

export const DirectCalls = z.object({ calls: z.array(Call) }).describe('The calls placed');
export type DirectCalls = z.infer<typeof DirectCalls>;

export const ActiveCalls = z.object({ active: Int, limit: Int, calls: z.array(Call) }).describe('The business\'s active calls against its limit');
export type ActiveCalls = z.infer<typeof ActiveCalls>;

/**
 * The outcomes a retry policy can name: busy, no answer, and the two ends answering-machine
 * detection gives a call — `machine` (hung up on the machine) and `voicemail_left`.
 */
export const RETRY_OUTCOMES = ['busy', 'no_answer', 'machine', 'voicemail_left'] as const;
export type RetryOutcome = (typeof RETRY_OUTCOMES)[number];
export const RETRY_AFTER = ['delay', 'next_day'] as const;

export const OutcomeRetry = z.object({
  attempts: Int.describe('extra attempts after a call that ended with this outcome (0–10; 0: never retried)'),
  after: z.enum(RETRY_AFTER).describe('delay: delay_s seconds after the call; next_day: at the next opening of the calling hours (tomorrow morning)'),
  delay_s: Int.nullable().describe('seconds before each retry (null with after: next_day)'),
}).describe('How one outcome is retried');
export type OutcomeRetry = z.infer<typeof OutcomeRetry>;

export const RetrySettings = z.object({
  busy: Int.describe('extra attempts after busy (= per_outcome.busy.attempts)'),
  no_answer: Int.describe('extra attempts after no answer (= per_outcome.no_answer.attempts)'),
  delay_s: Int.describe('the delay of every outcome that has none of its own'),
  per_outcome: z.object({
    busy: OutcomeRetry,
    no_answer: OutcomeRetry,
    machine: OutcomeRetry.describe('answering-machine detection said machine and the call was hung up'),
    voicemail_left: OutcomeRetry.describe('a voicemail was left (default: final)'),
  }),
}).describe('The retry policy');
export type RetrySettings = z.infer<typeof RetrySettings>;

export const DialerSettings = z.object({
  timezone: z.string(),
  max_outbound_calls: Int,
  calling_hours: z.object({ start: z.string(), end: z.string(), default: z.boolean().describe('true: the deployment\'s default hours apply') }),
  retry: RetrySettings,
  max_call_s: Int,
  call_flow: CallFlow,
  call_flow_default: z.boolean().describe('true: the business set no flow; call_flow is the default message'),
}).describe('Dialer rules');
export type DialerSettings = z.infer<typeof DialerSettings>;

export const DncNumber = z.object({ phone: z.string(), reason: z.string().nullable(), created_at: Timestamp }).describe('A number on the do-not-call list');
export type DncNumber = z.infer<typeof DncNumber>;

/** 202 from `GET /calls/{call_sid}/recording` while the recording is being fetched. */
export const RecordingProcessing = z.object({
  status: z.literal('processing'),
  job_id: Int,
  retry_after: Int.describe('seconds; also in the Retry-After header'),
}).describe('Processing: retry after `retry_after` seconds');
export type RecordingProcessing = z.infer<typeof RecordingProcessing>;
