import { randomBytes } from 'node:crypto';
import { english, isResource, msg, type Message, type Resource } from './messages.js';

/**
 * What a client reads: a catalogue message (lib/messages.ts), rendered in the reader's language.
 * A bare string is English in every language; test/http/messages.test.ts lists any thrown in src.
 */
export type ErrorText = Message | string;

/**
 * Typed errors are thrown where a problem is found; exactly one place (http/errors.ts) maps
 * them to a status code and the error envelope of API.md, rendering `text` in the request's
 * language. `message` is the English, for logs and for text that is stored (a job's last_error).
 */
export class AppError extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    readonly text: ErrorText,
    readonly details?: Record<string, unknown>,
    readonly headers?: Record<string, string>,
  ) {
    super(english(text));
    this.name = new.target.name;
  }
}

/** One bad field of a 400: its path (`body.leads.3.phone`) and what is wrong with it. */
export interface Issue {
  path: string;
  message: ErrorText;
}

/** 400 invalid_request; the mapping layer renders `issues` into `details.issues`. */
export class ValidationError extends AppError {
  constructor(message: ErrorText, readonly issues: Issue[]) {
    super(400, 'invalid_request', message);
  }
}

export class UnauthorizedError extends AppError {
  constructor(message: ErrorText = msg('auth.unauthorized')) {
    super(401, 'unauthorized', message);
  }
}

type RoleName = 'owner' | 'admin' | 'agent';

/** The caller is known but its role is too low for this route: 403 naming the role required. */
export class ForbiddenError extends AppError {
  constructor(readonly required: RoleName, message: ErrorText = msg('auth.role_required', { role: required })) {
    super(403, 'forbidden', message, { required_role: required });
  }
}

export class NotFoundError extends AppError {
  /** A resource of the catalogue (`'Lead'`), or a message of its own. */
  constructor(what: Resource | ErrorText) {
    super(404, 'not_found', typeof what !== 'string' ? what : isResource(what) ? msg('not_found', { what }) : `${what} was not found.`);
  }
}

export class ConflictError extends AppError {
  constructor(code: string, message: ErrorText, details?: Record<string, unknown>) {
    super(409, code, message, details);
  }
}

export class UnprocessableError extends AppError {
  constructor(code: string, message: ErrorText, details?: Record<string, unknown>) {
    super(422, code, message, details);
  }
}

export type GateCode = 'rate_limited' | 'operation_in_progress' | 'duplicate_request';

/** A refusal of the bulk gate: 429 with Retry-After (whole seconds ≥ 1). */
export class GateRefusal extends AppError {
  constructor(
    readonly gateCode: GateCode,
    message: ErrorText,
    readonly retryAfterS: number,
    details: Record<string, unknown> = {},
  ) {
    const retry = Math.max(1, Math.ceil(retryAfterS));
    super(429, gateCode, message, { ...details, retry_after: retry }, { 'retry-after': String(retry) });
  }
}

/** Thrown by a batch handler: the job fails at once, without retries. */
export class PermanentError extends Error {
  override name = 'PermanentError';
}

/** The worker's claim on a job was taken away (it stalled and was reaped); nothing may commit. */
export class LostClaimError extends Error {
  override name = 'LostClaimError';
}

/**
 * A short id that ties what a client sees ("error id 3f9a1c0b2e7d") to the one log line that
 * holds the raw error. Random, not sequential: it tells a client nothing about other errors.
 */
export function newErrorId(): string {
  return randomBytes(6).toString('hex');
}

/**
 * The text a client may read for an error (a job's `last_error`, an answer's message). A domain
 * error (AppError, PermanentError) was written for clients and keeps its message. Anything else
 * — a PostgreSQL error, a bug — may carry database text (a constraint, a column, a value), so it
 * becomes a sentence with an error id: log the raw error with `errorId`, show `text`.
 */
export function publicErrorText(err: unknown): { text: string; errorId: string | null } {
  if (err instanceof AppError || err instanceof PermanentError) return { text: err.message, errorId: null };
  const errorId = newErrorId();
  return { text: `An internal error occurred (error id ${errorId}); the details are in the server log.`, errorId };
}
