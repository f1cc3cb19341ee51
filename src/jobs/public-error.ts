import { randomBytes } from 'node:crypto';
import { AppError, PermanentError } from '../lib/errors.js';

/**
 * What a failed batch leaves in the job's `last_error`, which clients read (API, dashboard, CLI).
 * A domain error (AppError, PermanentError) was written for them and keeps its message; anything
 * else (a PostgreSQL error, a bug) may carry database text — a constraint, a column, a value —
 * and becomes a sentence with an error id, while the raw error is logged with that id.
 *
 * Same contract as `publicErrorText` in lib/errors.ts (issue 12), which was not there yet when
 * this was written; once it is, the worker can use it and this file can go.
 */
export function publicJobErrorText(err: unknown): { text: string; errorId: string | null } {
  if (err instanceof AppError || err instanceof PermanentError) return { text: err.message, errorId: null };
  const errorId = randomBytes(6).toString('hex');
  return { text: `The batch failed with an internal error (error id ${errorId}).`, errorId };
}
