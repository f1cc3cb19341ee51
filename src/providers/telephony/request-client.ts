import twilio from 'twilio';

/** Where the SDK sends every request; `rewriteTwilioUrl` moves it to another base (the simulator). */
export const TWILIO_API_ORIGIN = 'https://api.twilio.com';

export function rewriteTwilioUrl(uri: string, apiBase: string | undefined): string {
  if (!apiBase || !uri.startsWith(TWILIO_API_ORIGIN)) return uri;
  return apiBase.replace(/\/$/, '') + uri.slice(TWILIO_API_ORIGIN.length);
}

export type RequestOptions = twilio.RequestClient extends { request(opts: infer O): unknown } ? O : never;

/**
 * The SDK's own RequestClient (axios, keep-alive agent, form encoding, auth) with one change: a
 * request for https://api.twilio.com goes to `apiBase` instead. Subclassing keeps every byte of
 * the request the SDK builds — the simulator receives exactly what Twilio would. `onRequest`
 * sees each request as built (the conformance test checks them).
 */
export class RewritingRequestClient extends twilio.RequestClient {
  readonly #apiBase: string | undefined;
  readonly #onRequest: ((opts: RequestOptions) => void) | undefined;

  constructor(apiBase: string | undefined, opts: { timeoutMs?: number; onRequest?: (opts: RequestOptions) => void } = {}) {
    super({ timeout: opts.timeoutMs ?? 15_000, keepAlive: true, maxSockets: 256, maxFreeSockets: 64 });
    this.#apiBase = apiBase;
    this.#onRequest = opts.onRequest;
  }

  override request<TData>(opts: RequestOptions & { data?: TData }) {
    this.#onRequest?.(opts);
    return super.request<TData>({ ...opts, uri: rewriteTwilioUrl(opts.uri, this.#apiBase) });
  }
}
