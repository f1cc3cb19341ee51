import { InvalidArgumentError, Option, type Command } from 'commander';
import { ApiClient, ApiError, UnreachableError } from '../api-client.js';
import { EXIT, UsageError, type ExitCode } from './exit-codes.js';

const DEFAULT_URL = 'http://127.0.0.1:3000';

export interface ClientFlags {
  url: string;
  token?: string;
}

/**
 * `--url` and `--token` on a client command. Tenant commands take the token from
 * BULKHEAD_TOKEN, admin commands from ADMIN_TOKEN.
 */
export function withClientOptions(cmd: Command, auth: 'tenant' | 'admin' = 'tenant'): Command {
  const tokenEnv = auth === 'admin' ? 'ADMIN_TOKEN' : 'BULKHEAD_TOKEN';
  return cmd
    .addOption(new Option('--url <url>', 'base URL of the Bulkhead API').env('BULKHEAD_URL').default(DEFAULT_URL))
    .addOption(new Option('--token <token>', auth === 'admin' ? 'the admin token' : 'a business user\'s bearer token').env(tokenEnv));
}

export function clientFrom(flags: ClientFlags, auth: 'tenant' | 'admin' = 'tenant'): ApiClient {
  if (!flags.token) {
    throw new UsageError(auth === 'admin'
      ? 'No admin token: pass --token or set ADMIN_TOKEN (`bulkhead start` prints it).'
      : 'No token: pass --token or set BULKHEAD_TOKEN (`bulkhead admin create-business` prints one).');
  }
  try {
    new URL(flags.url);
  } catch {
    throw new UsageError(`--url ${JSON.stringify(flags.url)} is not a URL; use e.g. ${DEFAULT_URL}.`);
  }
  return new ApiClient({ baseUrl: flags.url, token: flags.token });
}

/** A positive integer id argument (commander reports a bad one as a usage error, exit 2). */
export function parseId(value: string): number {
  if (!/^\d{1,15}$/.test(value) || Number(value) < 1) throw new InvalidArgumentError('expected a positive integer id.');
  return Number(value);
}

export function parsePositiveInt(max: number) {
  return (value: string): number => {
    const n = Number(value);
    if (!/^\d+$/.test(value) || n < 1 || n > max) throw new InvalidArgumentError(`expected an integer from 1 to ${max}.`);
    return n;
  };
}

/** Prints what went wrong, the way a person can act on it, and returns the exit code for it. */
function reportError(err: unknown, stderr: NodeJS.WritableStream = process.stderr): ExitCode {
  if (err instanceof UsageError) {
    stderr.write(`error: ${err.message}\n`);
    return EXIT.usage;
  }
  if (err instanceof UnreachableError) {
    stderr.write(`error: ${err.message}\n`);
    return EXIT.unreachable;
  }
  if (err instanceof ApiError) {
    if (err.status === 429) {
      const lines = [`refused (429 ${err.code}): ${err.message}`];
      const retry = err.retryAfterS ?? err.details.retry_after;
      if (retry !== undefined && retry !== null) lines.push(`  retry after: ${String(retry)} s`);
      const blocking = err.details.job_id;
      if (typeof blocking === 'number') lines.push(`  blocking job: ${blocking}   (follow it: bulkhead jobs watch ${blocking})`);
      stderr.write(`${lines.join('\n')}\n`);
      return EXIT.refused;
    }
    stderr.write(`error (${err.status} ${err.code}): ${err.message}\n`);
    if (err.status === 401 || err.status === 403) {
      stderr.write('  check --token (or BULKHEAD_TOKEN / ADMIN_TOKEN) and --url\n');
      return EXIT.unauthorized;
    }
    return EXIT.api;
  }
  stderr.write(`error: ${(err as Error)?.message ?? String(err)}\n`);
  return EXIT.failure;
}

/**
 * Wraps a client command's action: its result (or error) becomes the exit code, and the process
 * exits then, so a half-open keep-alive connection never keeps a script waiting.
 */
export function clientAction<A extends unknown[]>(fn: (...args: A) => Promise<ExitCode>): (...args: A) => Promise<void> {
  return async (...args: A) => {
    let code: ExitCode;
    try {
      code = await fn(...args);
    } catch (err) {
      code = reportError(err);
    }
    process.exit(code);
  };
}
