import http from 'node:http';
import twilio from 'twilio';

/** Where the SDK sends every request; `rewriteTwilioUrl` moves it to another base (the simulator). */
export const TWILIO_API_ORIGIN = 'https://api.twilio.com';

export function rewriteTwilioUrl(uri: string, apiBase: string | undefined): string {
  if (!apiBase || !uri.startsWith(TWILIO_API_ORIGIN)) return uri;
  return apiBase.replace(/\/$/, '') + uri.slice(TWILIO_API_ORIGIN.length);
}

/**
 * Connections per process to the Twilio API. Each carries one request at a time; a create-call
 * takes ~100–300 ms at Twilio, so 64 connections carry a few hundred dials per second per
 * process — far above an account's CPS — while a burst never opens hundreds of sockets.
 */
const MAX_SOCKETS = 64;

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
    const agent = { timeout: opts.timeoutMs ?? 15_000, keepAlive: true, maxSockets: MAX_SOCKETS, maxFreeSockets: MAX_SOCKETS };
    super(agent);
    // The SDK only sets its agent for https; a plain-http apiBase (the simulator) went through
    // Node's global agent — no socket limit, so a burst of dials opened one connection each
    // (docs/SCALING.md). The same limits on both paths: the simulator sees what Twilio would.
    this.axios.defaults.httpAgent = new http.Agent(agent);
    this.#apiBase = apiBase;
    this.#onRequest = opts.onRequest;
  }

  override request<TData>(opts: RequestOptions & { data?: TData }) {
    this.#onRequest?.(opts);
    return super.request<TData>({ ...opts, uri: rewriteTwilioUrl(opts.uri, this.#apiBase) });
  }
}
