import { z } from 'zod';
import { countsBy, Int, JobBacked, Timestamp } from './common.js';

/** Ours ('dialing': claimed, not yet confirmed by the provider), then the provider's. */
export const CALL_STATUSES = ['dialing', 'queued', 'initiated', 'ringing', 'in-progress', 'completed', 'busy', 'no-answer', 'failed', 'canceled'] as const;
export const CallStatus = z.enum(CALL_STATUSES);
export type CallStatus = z.infer<typeof CallStatus>;

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
}).describe('A call');
export type Call = z.infer<typeof Call>;

export const RUN_ITEM_STATUSES = ['queued', 'dialing', 'calling', 'completed', 'busy', 'no_answer', 'failed', 'cancelled', 'skipped'] as const;
export const RunItemStatus = z.enum(RUN_ITEM_STATUSES);
export type RunItemStatus = z.infer<typeof RunItemStatus>;

export const RunCounts = countsBy(RUN_ITEM_STATUSES);
export type RunCounts = z.infer<typeof RunCounts>;

/** A run: the items of an enqueue_outbound_calls job; its status is the job's. */
export const Run = JobBacked.extend({
  concurrency: Int,
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

export const DialerSettings = z.object({
  timezone: z.string(),
  max_outbound_calls: Int,
  calling_hours: z.object({ start: z.string(), end: z.string(), default: z.boolean().describe('true: the deployment\'s default hours apply') }),
  retry: z.object({ busy: Int, no_answer: Int, delay_s: Int }),
  max_call_s: Int,
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
