/**
 * The telephony provider as the dialer sees it. One real implementation (twilio.adapter.ts, the
 * official SDK) which, in development and tests, talks to the simulator (simulator.ts) over
 * HTTP: the production code path is the tested one.
 */

/** Twilio's call statuses (https://www.twilio.com/docs/voice/api/call-resource#call-status-values). */
export const PROVIDER_CALL_STATUSES = ['queued', 'initiated', 'ringing', 'in-progress', 'completed', 'busy', 'no-answer', 'failed', 'canceled'] as const;
export type ProviderCallStatus = (typeof PROVIDER_CALL_STATUSES)[number];

export function isProviderCallStatus(s: string): s is ProviderCallStatus {
  return (PROVIDER_CALL_STATUSES as readonly string[]).includes(s);
}

export interface CreateCallRequest {
  to: string;
  from: string;
  /** Receives initiated, ringing, answered and completed events. */
  statusCallback: string;
  recordingStatusCallback: string;
  record: boolean;
  /** Twilio hangs up after this many seconds (the maximum call duration). */
  timeLimitS: number;
  machineDetection?: 'Enable' | 'DetectMessageEnd';
  /**
   * Asynchronous answering-machine detection (AsyncAmd=true): the call's TwiML runs at once and
   * the verdict (AnsweredBy) is POSTed here. Only with machineDetection.
   */
  asyncAmdStatusCallback?: string;
  /** Where Twilio fetches the call's TwiML when it is answered (POST, signed): the call flow. */
  url?: string;
  /** Inline TwiML, when there is no `url`. */
  twiml?: string;
  timeoutMs?: number;
}

export interface ProviderCall {
  sid: string;
  status: ProviderCallStatus;
  to: string;
  from: string;
  durationS: number | null;
  startTime: Date | null;
  endTime: Date | null;
}

export interface ProviderRecording {
  sid: string;
  callSid: string;
  status: string;
  durationS: number | null;
}

/**
 * rejected: the provider refused the request — no call exists (4xx).
 * throttled: too many requests (429) — no call exists, try later.
 * unknown: 5xx, timeout, connection lost — the call may or may not exist; reconcile, never redial.
 */
export type ProviderErrorKind = 'rejected' | 'throttled' | 'unknown' | 'not_found';

export class ProviderError extends Error {
  override name = 'ProviderError';
  constructor(
    readonly kind: ProviderErrorKind,
    message: string,
    readonly httpStatus: number | null = null,
    readonly providerCode: number | null = null,
  ) {
    super(message);
  }
}

export interface TelephonyProvider {
  createCall(req: CreateCallRequest): Promise<ProviderCall>;
  /** null when the provider has no such call. */
  fetchCall(sid: string): Promise<ProviderCall | null>;
  /** Calls to `to` from `from` started at or after `startedAfter` (reconciling unconfirmed dials). */
  findCalls(q: { to: string; from: string; startedAfter: Date }): Promise<ProviderCall[]>;
  /** Hangs up a call in progress (maximum duration exceeded, a machine answered). */
  endCall(sid: string): Promise<ProviderCall>;
  /** Replaces what a call in progress is doing with this TwiML (a voicemail after the beep). */
  redirectCall(sid: string, twiml: string): Promise<ProviderCall>;
  /** The call's recording, null when it has none. */
  findRecording(callSid: string): Promise<ProviderRecording | null>;
  /** Streams the recording's audio (WAV) into `dest`; resolves with the byte count. */
  downloadRecording(recordingSid: string, dest: NodeJS.WritableStream): Promise<number>;
}
