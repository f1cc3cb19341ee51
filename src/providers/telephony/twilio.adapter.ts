import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import type { ReadableStream as WebReadableStream } from 'node:stream/web';
import twilio from 'twilio';
import { RewritingRequestClient, rewriteTwilioUrl, TWILIO_API_ORIGIN, type RequestOptions } from './request-client.js';
import {
  isProviderCallStatus,
  ProviderError,
  type CreateCallRequest,
  type ProviderCall,
  type ProviderRecording,
  type TelephonyProvider,
} from './types.js';

export interface TwilioAdapterOptions {
  accountSid: string;
  authToken: string;
  /** Unset: the real https://api.twilio.com. Set: a simulator speaking the same REST API. */
  apiBase?: string | undefined;
  timeoutMs?: number;
  /** Sees each request the SDK builds (tests). */
  onRequest?: (opts: RequestOptions) => void;
  /**
   * The transport to use (its connection pool). The adapters of several accounts (the
   * businesses' subaccounts) share one: the SDK passes each request's credentials itself, so
   * one pool of 64 connections serves them all instead of one per account.
   */
  httpClient?: RewritingRequestClient;
}

/** Events we want status callbacks for; 'completed' carries busy / no-answer / failed too. */
const STATUS_CALLBACK_EVENTS = ['initiated', 'ringing', 'answered', 'completed'];
const DEFAULT_TWIML = '<Response><Say>Hello from Bulkhead.</Say><Pause length="600"/></Response>';

interface SdkCall {
  sid: string;
  status: string;
  to: string;
  from: string;
  duration: string | null;
  startTime: Date | null;
  endTime: Date | null;
}

function toCall(c: SdkCall): ProviderCall {
  const status = isProviderCallStatus(c.status) ? c.status : 'failed';
  const duration = c.duration === null || c.duration === undefined ? null : Number(c.duration);
  return {
    sid: c.sid,
    status,
    to: c.to,
    from: c.from,
    durationS: duration !== null && Number.isFinite(duration) ? duration : null,
    startTime: c.startTime ?? null,
    endTime: c.endTime ?? null,
  };
}

/** SDK and network errors → what the dialer may conclude (types.ts ProviderErrorKind). */
function classifyTwilioError(err: unknown): ProviderError {
  if (err instanceof ProviderError) return err;
  if (err instanceof twilio.RestException) {
    const status = err.status;
    const kind = status === 404 ? 'not_found' : status === 429 ? 'throttled' : status >= 400 && status < 500 ? 'rejected' : 'unknown';
    return new ProviderError(kind, err.message, status, err.code ?? null);
  }
  const message = err instanceof Error ? err.message : String(err);
  return new ProviderError('unknown', message);
}

/** Telephony through the official `twilio` SDK (pointed at the simulator when apiBase is set). */
export function createTwilioProvider(opts: TwilioAdapterOptions): TelephonyProvider {
  const httpClient = opts.httpClient ?? new RewritingRequestClient(opts.apiBase, {
    ...(opts.timeoutMs !== undefined ? { timeoutMs: opts.timeoutMs } : {}),
    ...(opts.onRequest ? { onRequest: opts.onRequest } : {}),
  });
  const client = twilio(opts.accountSid, opts.authToken, { httpClient, accountSid: opts.accountSid });
  const basicAuth = `Basic ${Buffer.from(`${opts.accountSid}:${opts.authToken}`).toString('base64')}`;

  async function guarded<T>(fn: () => Promise<T>): Promise<T> {
    try {
      return await fn();
    } catch (err) {
      throw classifyTwilioError(err);
    }
  }

  return {
    createCall: (req: CreateCallRequest) =>
      guarded(async () =>
        toCall(
          await client.calls.create({
            to: req.to,
            from: req.from,
            ...(req.url !== undefined ? { url: req.url, method: 'POST' } : { twiml: req.twiml ?? DEFAULT_TWIML }),
            statusCallback: req.statusCallback,
            statusCallbackMethod: 'POST',
            statusCallbackEvent: STATUS_CALLBACK_EVENTS,
            record: req.record,
            recordingStatusCallback: req.recordingStatusCallback,
            recordingStatusCallbackMethod: 'POST',
            recordingStatusCallbackEvent: ['completed', 'absent'],
            timeLimit: req.timeLimitS,
            ...(req.machineDetection ? { machineDetection: req.machineDetection } : {}),
            ...(req.machineDetection && req.asyncAmdStatusCallback !== undefined
              ? { asyncAmd: 'true', asyncAmdStatusCallback: req.asyncAmdStatusCallback, asyncAmdStatusCallbackMethod: 'POST' }
              : {}),
          }),
        ),
      ),

    async fetchCall(sid) {
      try {
        return toCall(await client.calls(sid).fetch());
      } catch (err) {
        const e = classifyTwilioError(err);
        if (e.kind === 'not_found') return null;
        throw e;
      }
    },

    findCalls: (q) =>
      guarded(async () => (await client.calls.list({ to: q.to, from: q.from, startTimeAfter: q.startedAfter, limit: 20 })).map(toCall)),

    endCall: (sid) => guarded(async () => toCall(await client.calls(sid).update({ status: 'completed' }))),

    redirectCall: (sid, twiml) => guarded(async () => toCall(await client.calls(sid).update({ twiml }))),

    findRecording: (callSid) =>
      guarded(async (): Promise<ProviderRecording | null> => {
        const [r] = await client.calls(callSid).recordings.list({ limit: 1 });
        if (!r) return null;
        const duration = Number(r.duration);
        return { sid: r.sid, callSid: r.callSid, status: r.status, durationS: Number.isFinite(duration) ? duration : null };
      }),

    /**
     * The media URL is fetched directly rather than through the SDK's client.request: axios there
     * decodes bodies as text, which corrupts audio. Same credentials, same host rewrite.
     */
    async downloadRecording(recordingSid, dest) {
      const url = rewriteTwilioUrl(`${TWILIO_API_ORIGIN}/2010-04-01/Accounts/${opts.accountSid}/Recordings/${recordingSid}.wav`, opts.apiBase);
      let res: Response;
      try {
        res = await fetch(url, { headers: { authorization: basicAuth }, signal: AbortSignal.timeout(opts.timeoutMs ?? 60_000) });
      } catch (err) {
        throw classifyTwilioError(err);
      }
      if (res.status === 404) throw new ProviderError('not_found', `recording ${recordingSid} not found`, 404);
      if (!res.ok || !res.body) throw new ProviderError(res.status < 500 ? 'rejected' : 'unknown', `recording download answered ${res.status}`, res.status);
      let bytes = 0;
      const body = Readable.fromWeb(res.body as WebReadableStream<Uint8Array>);
      body.on('data', (chunk: Buffer) => (bytes += chunk.length));
      await pipeline(body, dest);
      return bytes;
    },
  };
}
