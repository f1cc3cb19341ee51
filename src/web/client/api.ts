/// <reference lib="dom" />

/** The only way the dashboard reaches the server: the public API with the user's bearer token. */

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

function authHeaders(token = getToken()): Record<string, string> {
  return token ? { authorization: `Bearer ${token}` } : {};
}

/** A raw response from /api/v1; non-2xx answers become ApiError. */
export async function request(method: string, path: string, init: { body?: BodyInit; headers?: Record<string, string>; signal?: AbortSignal; token?: string } = {}): Promise<Response> {
  const res = await fetch(`/api/v1${path}`, {
    method,
    headers: { ...authHeaders(init.token), ...init.headers },
    ...(init.body === undefined ? {} : { body: init.body }),
    ...(init.signal ? { signal: init.signal } : {}),
  });
  if (res.ok) return res;
  throw await errorOf(res, init.token === undefined);
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
export async function post<T>(path: string, body: unknown, idempotencyKey?: string): Promise<T> {
  const res = await request('POST', path, {
    body: JSON.stringify(body ?? {}),
    headers: { 'content-type': 'application/json', ...(idempotencyKey ? { 'idempotency-key': idempotencyKey } : {}) },
  });
  return res.json() as Promise<T>;
}

/** `{a: 1, b: undefined}` → `?a=1`. */
export function query(params: Record<string, string | number | null | undefined>): string {
  const q = new URLSearchParams();
  for (const [k, v] of Object.entries(params)) if (v !== undefined && v !== null && v !== '') q.set(k, String(v));
  const s = q.toString();
  return s ? `?${s}` : '';
}

/**
 * Live progress of one job. The events endpoint takes the token only in the Authorization
 * header, which EventSource cannot send, so the stream is read with fetch(). Calls onJob on every
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
