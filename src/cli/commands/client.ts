import { InvalidArgumentError, Option, type Command } from 'commander';
import { ApiClient, ApiError, UnreachableError } from '../api-client.js';
import { readCredentials, sameServer, type Credentials } from '../credentials.js';
import { EXIT, UsageError, type ExitCode } from './exit-codes.js';

export const DEFAULT_URL = 'http://127.0.0.1:3000';

export interface ClientFlags {
  url: string;
  token?: string;
  /**
   * Set on tenant commands: neither --url nor BULKHEAD_URL was given (url holds the default),
   * so the URL saved by `bulkhead login` applies when its token does.
   */
  urlDefaulted?: boolean;
}

/**
 * `--url` and `--token` on a client command. Tenant commands take the token from --token, then
 * BULKHEAD_TOKEN, then what `bulkhead login` stored; admin commands from --token or ADMIN_TOKEN
 * only (an admin token is never stored).
 */
export function withClientOptions(cmd: Command, auth: 'tenant' | 'admin' = 'tenant'): Command {
  const tokenEnv = auth === 'admin' ? 'ADMIN_TOKEN' : 'BULKHEAD_TOKEN';
  cmd
    .addOption(new Option('--url <url>', 'base URL of the Bulkhead API').env('BULKHEAD_URL')
      .default(DEFAULT_URL, auth === 'admin' ? undefined : `the URL \`bulkhead login\` saved, else ${DEFAULT_URL}`))
    .addOption(new Option('--token <token>', auth === 'admin' ? 'the admin token' : 'a business user\'s bearer token; without it, the one `bulkhead login` saved')
      .env(tokenEnv));
  if (auth === 'tenant') {
    // Commander's options object does not say where a value came from; the command does.
    cmd.hook('preAction', (self) => {
      self.setOptionValue('urlDefaulted', self.getOptionValueSource('url') === 'default');
    });
  }
  return cmd;
}

export interface TenantClient {
  client: ApiClient;
  /** The credentials `bulkhead login` stored, when their token is the one in use; else null. */
  stored: Credentials | null;
}

/**
 * A tenant command's client: --token or BULKHEAD_TOKEN with --url (BULKHEAD_URL, default);
 * without either token, the stored credentials with their own URL. The stored token is only
 * sent to the server that issued it: a --url naming another server is a usage error rather than
 * a leaked token. And the stored URL only comes with the stored token: a token from the
 * environment may belong to any server, so it goes to the URL given (or the default).
 */
export function tenantClient(flags: ClientFlags): TenantClient {
  if (flags.token) return { client: makeClient(flags.url, flags.token), stored: null };
  const stored = readCredentials();
  if (!stored) {
    throw new UsageError('No token: pass --token or set BULKHEAD_TOKEN, or run `bulkhead login` once to store one.');
  }
  if (!flags.urlDefaulted && !sameServer(flags.url, stored.url)) {
    throw new UsageError([
      `No token for ${flags.url}: the token \`bulkhead login\` saved is for ${stored.url}, and is sent to no other server.`,
      `  Run \`bulkhead login --url ${flags.url}\`, pass --token or set BULKHEAD_TOKEN.`,
    ].join('\n'));
  }
  return { client: makeClient(stored.url, stored.token), stored };
}

export function clientFrom(flags: ClientFlags, auth: 'tenant' | 'admin' = 'tenant'): ApiClient {
  if (auth === 'tenant') return tenantClient(flags).client;
  if (!flags.token) throw new UsageError('No admin token: pass --token or set ADMIN_TOKEN (`bulkhead start` prints it).');
  return makeClient(flags.url, flags.token);
}

/** An ApiClient for `url` (a usage error when it is not a URL); without a token for public routes. */
export function makeClient(url: string, token?: string): ApiClient {
  try {
    new URL(url);
  } catch {
    throw new UsageError(`--url ${JSON.stringify(url)} is not a URL; use e.g. ${DEFAULT_URL}.`);
  }
  return new ApiClient({ baseUrl: url, token });
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
export function reportError(err: unknown, stderr: NodeJS.WritableStream = process.stderr): ExitCode {
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
      stderr.write(err.status === 401
        ? '  check --token (or BULKHEAD_TOKEN / ADMIN_TOKEN) and --url, or run `bulkhead login` again\n'
        : '  your role may not allow this (the message names the role needed)\n');
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
