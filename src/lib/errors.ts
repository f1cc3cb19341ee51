import { randomBytes } from 'node:crypto';

/**
 * Typed errors are thrown where a problem is found; exactly one place (http/errors.ts) maps
 * them to a status code and the error envelope of API.md.
 */
export class AppError extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
    readonly details?: Record<string, unknown>,
    readonly headers?: Record<string, string>,
  ) {
    super(message);
    this.name = new.target.name;
  }
}

export interface Issue {
  path: string;
  message: string;
}

export class ValidationError extends AppError {
  constructor(message: string, issues: Issue[]) {
    super(400, 'invalid_request', message, { issues });
  }
}

export class UnauthorizedError extends AppError {
  constructor(message = 'Sign in, or send a valid bearer token in the Authorization header.') {
    super(401, 'unauthorized', message);
  }
}

/** The caller is known but its role is too low for this route: 403 naming the role required. */
export class ForbiddenError extends AppError {
  constructor(readonly required: string, message = `This action needs the ${required} role.`) {
    super(403, 'forbidden', message, { required_role: required });
  }
}

export class NotFoundError extends AppError {
  constructor(what: string) {
    super(404, 'not_found', `${what} was not found.`);
  }
}

export class ConflictError extends AppError {
  constructor(code: string, message: string, details?: Record<string, unknown>) {
    super(409, code, message, details);
  }
}

export class UnprocessableError extends AppError {
  constructor(code: string, message: string, details?: Record<string, unknown>) {
    super(422, code, message, details);
  }
}

export type GateCode = 'rate_limited' | 'operation_in_progress' | 'duplicate_request';

/** A refusal of the bulk gate: 429 with Retry-After (whole seconds ≥ 1). */
export class GateRefusal extends AppError {
  constructor(
    readonly gateCode: GateCode,
    message: string,
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
