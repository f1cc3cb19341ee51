/// <reference lib="dom" />

/**
 * The only way the dashboard reaches the server: the public API, signed in either by the session
 * cookie that `POST /auth/login` sets (the usual way) or by a pasted API token kept in
 * localStorage (the link `npm start` prints, and "Use an API token"). A stored token is sent as a
 * bearer; signing in with a password forgets it.
 */

import type { ApiErrorBody, Job, JobStatus } from '../../contract/index.js';

const TOKEN_KEY = 'bulkhead.token';

export class ApiError extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
    readonly details: Record<string, unknown>,
    /** Seconds, from the Retry-After header (gate refusals). */
    readonly retryAfterS: number | null,
  ) {
    super(message);
  }
}

// Types only (erased by esbuild): the contract's zod schemas stay out of the browser bundle.
export type { Accepted, Job, Page } from '../../contract/index.js';

export const TERMINAL: ReadonlySet<string> = new Set<JobStatus>(['completed', 'failed', 'cancelled']);

export function getToken(): string | null {
  return localStorage.getItem(TOKEN_KEY);
}

export function setToken(token: string | null): void {
  if (token) localStorage.setItem(TOKEN_KEY, token);
  else localStorage.removeItem(TOKEN_KEY);
}

/** Called when the API answers 401: the token is gone or wrong, back to the sign-in screen. */
let onUnauthorized: () => void = () => undefined;
export function whenUnauthorized(fn: () => void): void {
  onUnauthorized = fn;
}

/** The language the server should answer messages in (API.md: Accept-Language, he or en). */
let language: () => string = () => 'en';
export function answerIn(fn: () => string): void {
  language = fn;
}

function cookie(name: string): string | null {
  for (const part of document.cookie.split(';')) {
    const [k, ...v] = part.trim().split('=');
    if (k === name) return decodeURIComponent(v.join('='));
  }
  return null;
}

const SAFE = new Set(['GET', 'HEAD', 'OPTIONS']);

/**
 * A bearer when there is a token; otherwise the browser sends the session cookie by itself and a
 * change must echo the `bh_csrf` cookie in a header (double submit: another site can make the
 * browser send our cookie, but cannot read it to copy it into a header).
 */
function authHeaders(method: string, token: string | null): Record<string, string> {
  if (token) return { authorization: `Bearer ${token}` };
  const csrf = SAFE.has(method) ? null : cookie('bh_csrf');
  return csrf ? { 'x-csrf-token': csrf } : {};
}

export interface CallOptions {
  body?: BodyInit;
  headers?: Record<string, string>;
  signal?: AbortSignal;
  /** Try this token instead of the stored one (the sign-in form); a 401 then only throws. */
  token?: string;
  /** Neither the stored token nor the sign-out on 401: login and accept-invite come before any session. */
  anonymous?: boolean;
  /** A 401 only throws (asking "is there a session?" must not bounce to the sign-in page). */
  probe?: boolean;
}

/** A raw response from /api/v1; non-2xx answers become ApiError. */
export async function request(method: string, path: string, init: CallOptions = {}): Promise<Response> {
  const token = init.anonymous ? null : init.token ?? getToken();
  const res = await fetch(`/api/v1${path}`, {
    method,
    credentials: 'same-origin',
    headers: { 'accept-language': language(), ...authHeaders(method, token), ...init.headers },
    ...(init.body === undefined ? {} : { body: init.body }),
    ...(init.signal ? { signal: init.signal } : {}),
  });
  if (res.ok) return res;
  throw await errorOf(res, init.token === undefined && !init.anonymous && !init.probe);
}

async function errorOf(res: Response, signOutOn401: boolean): Promise<ApiError> {
  let code = `http_${res.status}`;
  let message = res.statusText;
  let details: Record<string, unknown> = {};
  try {
    // Not always the envelope: a proxy in front may answer its own JSON.
    const body = (await res.json()) as { error?: Partial<ApiErrorBody['error']> };
    code = body.error?.code ?? code;
    message = body.error?.message ?? message;
    details = body.error?.details ?? {};
  } catch {
    // not JSON: keep the status line
  }
  const retry = Number(res.headers.get('retry-after'));
  if (res.status === 401 && signOutOn401) onUnauthorized();
  return new ApiError(res.status, code, message, details, Number.isFinite(retry) && retry > 0 ? retry : null);
}

export async function get<T>(path: string, signal?: AbortSignal): Promise<T> {
  return (await request('GET', path, signal ? { signal } : {})).json() as Promise<T>;
}

/** A POST that creates a job carries an Idempotency-Key, so a retried click never creates two. */
export async function post<T>(path: string, body: unknown, idempotencyKey?: string, init: Pick<CallOptions, 'anonymous'> = {}): Promise<T> {
  const res = await request('POST', path, {
    ...init,
    body: JSON.stringify(body ?? {}),
    headers: { 'content-type': 'application/json', ...(idempotencyKey ? { 'idempotency-key': idempotencyKey } : {}) },
  });
  // 204 (logout) has no body to parse.
  return (res.status === 204 ? undefined : res.json()) as Promise<T>;
}

export async function patch<T>(path: string, body: unknown): Promise<T> {
  const res = await request('PATCH', path, { body: JSON.stringify(body), headers: { 'content-type': 'application/json' } });
  return res.json() as Promise<T>;
}

export async function put<T>(path: string, body: unknown): Promise<T> {
  const res = await request('PUT', path, { body: JSON.stringify(body), headers: { 'content-type': 'application/json' } });
  return res.json() as Promise<T>;
}

export async function del(path: string): Promise<void> {
  await request('DELETE', path);
}

/** `{a: 1, b: undefined}` → `?a=1`. */
export function query(params: Record<string, string | number | null | undefined>): string {
  const q = new URLSearchParams();
  for (const [k, v] of Object.entries(params)) if (v !== undefined && v !== null && v !== '') q.set(k, String(v));
  const s = q.toString();
  return s ? `?${s}` : '';
}

/**
 * Live progress of one job. EventSource cannot send a bearer token, so the stream is read with
 * fetch(), which works for both ways of signing in. Calls onJob on every
 * event; resolves with the job once it is terminal (or when the signal aborts). A dropped
 * connection is reopened after a second.
 */
export async function watchJob(id: number, onJob: (job: Job) => void, signal: AbortSignal): Promise<Job | null> {
  let last: Job | null = null;
  while (!signal.aborted) {
    try {
      const res = await request('GET', `/jobs/${id}/events`, { headers: { accept: 'text/event-stream' }, signal });
      if (!res.body) throw new Error('no body');
      const reader = res.body.pipeThrough(new TextDecoderStream()).getReader();
      let buffer = '';
      for (;;) {
        const { value, done } = await reader.read();
        if (done) break;
        buffer += value;
        let end: number;
        while ((end = buffer.indexOf('\n\n')) >= 0) {
          const job = parseEvent(buffer.slice(0, end));
          buffer = buffer.slice(end + 2);
          if (job) {
            last = job;
            onJob(job);
          }
        }
      }
      if (last && TERMINAL.has(last.status)) return last;
    } catch (err) {
      if (signal.aborted) return last;
      if (err instanceof ApiError && err.status < 500) throw err;
    }
    await sleep(1000, signal);
  }
  return last;
}

function parseEvent(block: string): Job | null {
  let event = 'message';
  const data: string[] = [];
  for (const line of block.split('\n')) {
    if (line.startsWith('event:')) event = line.slice(6).trim();
    else if (line.startsWith('data:')) data.push(line.slice(5).replace(/^ /, ''));
  }
  if (event !== 'progress' || data.length === 0) return null;
  return JSON.parse(data.join('\n')) as Job;
}

export function sleep(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    const timer = setTimeout(resolve, ms);
    signal?.addEventListener('abort', () => {
      clearTimeout(timer);
      resolve();
    }, { once: true });
  });
}
