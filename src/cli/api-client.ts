/**
 * A small client of the public HTTP API (../shared/API.md) for the CLI, on the global fetch. It
 * imports nothing from the server side but the answer types of src/contract (zod only): the
 * CLI's client commands work against any Bulkhead, local or remote, exactly as a script with
 * curl would.
 */

import { RoleName, type Import, type Job as ContractJob } from '../contract/index.js';

export type { Accepted, ApiToken, CreatedApiToken, IssuedToken, JobStatus, Me, Page } from '../contract/index.js';
export { isTerminalStatus as isTerminal, JOB_STATUSES } from '../contract/index.js';
export const ROLE_NAMES = RoleName.options;

/**
 * The fields of the contract's job (API.md "Jobs") the CLI reads: a narrower view of the one
 * definition, so a test's scripted server need not fill the fields nobody here looks at.
 */
export type Job = Pick<
  ContractJob,
  'id' | 'type' | 'status' | 'total' | 'processed' | 'succeeded' | 'failed' | 'progress' | 'created_at' | 'started_at' | 'finished_at' | 'last_error'
> & Partial<Pick<ContractJob, 'cancel_requested' | 'pause_requested'>>;

/** `GET /imports/{id}`. */
export type ImportSummary = Import;

/** A non-2xx answer, with the error envelope's code, message and details. */
export class ApiError extends Error {
  override name = 'ApiError';
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
    readonly details: Record<string, unknown> = {},
    /** Seconds, from the Retry-After header (gate refusals). */
    readonly retryAfterS: number | null = null,
  ) {
    super(message);
  }
}

/** The service could not be reached at all. */
export class UnreachableError extends Error {
  override name = 'UnreachableError';
}

export interface ClientOptions {
  baseUrl: string;
  /** Absent only for the public routes (POST /auth/token, what `bulkhead login` calls). */
  token?: string;
  fetch?: typeof fetch;
}

interface RequestOptions {
  body?: unknown;
  /** Sent as is with this content type instead of JSON. */
  raw?: { contentType: string; data: string };
  query?: Record<string, string | number | undefined>;
  signal?: AbortSignal;
}

export interface ServerEvent {
  event: string;
  data: string;
}

export class ApiClient {
  readonly baseUrl: string;
  private readonly token: string | undefined;
  private readonly fetch: typeof fetch;

  constructor(opts: ClientOptions) {
    this.baseUrl = opts.baseUrl.replace(/\/+$/, '');
    this.token = opts.token;
    this.fetch = opts.fetch ?? globalThis.fetch;
  }

  async request<T>(method: string, path: string, opts: RequestOptions = {}): Promise<T> {
    const headers: Record<string, string> = { ...this.auth(), accept: 'application/json' };
    let body: string | undefined;
    if (opts.raw) {
      headers['content-type'] = opts.raw.contentType;
      body = opts.raw.data;
    } else if (opts.body !== undefined) {
      headers['content-type'] = 'application/json';
      body = JSON.stringify(opts.body);
    }
    const res = await this.send(this.url(path, opts.query), { method, headers, body, signal: opts.signal });
    const text = await res.text();
    if (!res.ok) throw errorOf(res, text);
    return (text === '' ? null : JSON.parse(text)) as T;
  }

  /**
   * The server-sent events of `path`, one at a time, until the server closes the stream (or
   * `signal` aborts). Keep-alive comments are skipped.
   */
  async *events(path: string, signal?: AbortSignal): AsyncGenerator<ServerEvent> {
    const res = await this.send(this.url(path), {
      headers: { ...this.auth(), accept: 'text/event-stream' },
      signal,
    });
    if (!res.ok) throw errorOf(res, await res.text());
    if (!res.body) return;
    const decoder = new TextDecoder();
    let buffer = '';
    const reader = res.body.getReader();
    try {
      for (;;) {
        const { done, value } = await reader.read();
        if (done) return;
        // CRLF and CR end lines too; a CR last in a chunk waits in case an LF follows.
        buffer = (buffer + decoder.decode(value, { stream: true })).replace(/\r\n|\r(?=[^])/g, '\n');
        let end: number;
        while ((end = buffer.indexOf('\n\n')) >= 0) {
          const block = buffer.slice(0, end);
          buffer = buffer.slice(end + 2);
          const event = parseEvent(block);
          if (event) yield event;
        }
      }
    } catch (err) {
      if (signal?.aborted) return;
      throw new UnreachableError(`The event stream from ${this.baseUrl} broke: ${causeOf(err)}`);
    } finally {
      // The caller may stop early (a terminal event): close the connection instead of leaking it.
      await reader.cancel().catch(() => undefined);
    }
  }

  private auth(): Record<string, string> {
    return this.token === undefined ? {} : { authorization: `Bearer ${this.token}` };
  }

  private url(path: string, query: RequestOptions['query'] = {}): string {
    const u = new URL(this.baseUrl + path);
    for (const [k, v] of Object.entries(query)) if (v !== undefined) u.searchParams.set(k, String(v));
    return u.toString();
  }

  private async send(url: string, init: RequestInit): Promise<Response> {
    try {
      return await this.fetch(url, init);
    } catch (err) {
      if (init.signal?.aborted) throw err;
      throw new UnreachableError(`Cannot reach Bulkhead at ${this.baseUrl}: ${causeOf(err)}. Is it running? Set --url or BULKHEAD_URL.`);
    }
  }
}

/** One SSE block (`event:` / `data:` / `id:` lines) → an event; comments-only blocks → null. */
export function parseEvent(block: string): ServerEvent | null {
  let event = 'message';
  const data: string[] = [];
  let any = false;
  for (const line of block.split('\n')) {
    if (line === '' || line.startsWith(':')) continue;
    const colon = line.indexOf(':');
    const field = colon < 0 ? line : line.slice(0, colon);
    const value = colon < 0 ? '' : line.slice(colon + 1).replace(/^ /, '');
    if (field === 'event') event = value;
    else if (field === 'data') data.push(value);
    else continue;
    any = true;
  }
  return any ? { event, data: data.join('\n') } : null;
}

function errorOf(res: Response, text: string): ApiError {
  let code = `http_${res.status}`;
  let message = text.trim().slice(0, 300) || res.statusText;
  let details: Record<string, unknown> = {};
  try {
    const body = JSON.parse(text) as { error?: { code?: unknown; message?: unknown; details?: unknown } };
    if (typeof body.error?.code === 'string') code = body.error.code;
    if (typeof body.error?.message === 'string') message = body.error.message;
    if (body.error?.details && typeof body.error.details === 'object') details = body.error.details as Record<string, unknown>;
  } catch {
    // Not the error envelope (a proxy's page, say): keep the status and the text.
  }
  const retry = Number(res.headers.get('retry-after'));
  return new ApiError(res.status, code, message, details, Number.isFinite(retry) && retry > 0 ? retry : null);
}

function causeOf(err: unknown): string {
  const cause = (err as { cause?: { code?: string; message?: string } }).cause;
  return cause?.code ?? cause?.message ?? (err as Error).message;
}
