/**
 * Exit codes of every `bulkhead` command, one table so scripts can rely on them (README "CLI").
 * 3 and 4 belong to the server commands (start, api, worker, migrate); 5–8 to the client commands,
 * which only talk to the HTTP API.
 */
export const EXIT = {
  ok: 0,
  /** A watched job ended failed or cancelled; or an unexpected error. */
  failure: 1,
  /** Bad arguments or options, an unreadable file, a missing token. */
  usage: 2,
  /** Server commands: a bad environment variable. */
  config: 3,
  /** Server commands: the database cannot be opened. */
  unavailable: 4,
  /** The API answered 401 or 403: a missing, unknown or wrong token. */
  unauthorized: 5,
  /** The API answered another error (400, 404, 409 invalid_transition, 5xx …). */
  api: 6,
  /** The gate refused the job (429 rate_limited | operation_in_progress | duplicate_request). */
  refused: 7,
  /** The API could not be reached (connection refused, DNS, timeout). */
  unreachable: 8,
  /** Interrupted with Ctrl-C (128 + SIGINT). */
  interrupted: 130,
} as const;

export type ExitCode = (typeof EXIT)[keyof typeof EXIT];

/** A usage problem found after parsing (a missing token, an unreadable file): exit 2. */
export class UsageError extends Error {
  override name = 'UsageError';
}
