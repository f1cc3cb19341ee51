import os from 'node:os';
import readline from 'node:readline';
import { Writable } from 'node:stream';
import { Option, type Command } from 'commander';
import { ApiError, type IssuedToken, type Me } from '../api-client.js';
import { credentialsPath, deleteCredentials, readCredentials, sameServer, writeCredentials, type Credentials } from '../credentials.js';
import { clientAction, DEFAULT_URL, makeClient, reportError, tenantClient, withClientOptions, type ClientFlags } from './client.js';
import { EXIT, UsageError } from './exit-codes.js';

interface LoginFlags {
  url: string;
  email: string;
}

interface LogoutFlags {
  local?: boolean;
}

interface WhoamiFlags extends ClientFlags {
  json?: boolean;
}

/** More than any password the server accepts (PASSWORD_MAX): a larger stdin is not a password. */
const MAX_PASSWORD_BYTES = 4096;

/**
 * The password, from BULKHEAD_PASSWORD, else a prompt without echo when stdin is a terminal, else
 * the first line of stdin (`echo pw | bulkhead login`). Never from an option: argv is visible to
 * every user of the machine (ps) and lands in shell history.
 */
async function readPassword(prompt: string): Promise<string> {
  const fromEnv = process.env.BULKHEAD_PASSWORD;
  const password = fromEnv ? fromEnv : process.stdin.isTTY ? await promptHidden(prompt) : await firstLineOfStdin();
  if (password === '') throw new UsageError('No password: type it at the prompt, pipe it on stdin or set BULKHEAD_PASSWORD.');
  return password;
}

/**
 * readline on the terminal with its output muted after the prompt: it still handles raw mode,
 * backspace and Ctrl-U, but echoes nothing (not even stars, which would tell the length).
 */
function promptHidden(prompt: string): Promise<string> {
  return new Promise((resolve, reject) => {
    let muted = false;
    const output = new Writable({
      write(chunk: Buffer | string, _encoding, done) {
        if (!muted) process.stderr.write(chunk);
        done();
      },
    });
    const rl = readline.createInterface({ input: process.stdin, output, terminal: true });
    let answered = false;
    rl.on('line', (line) => {
      answered = true;
      rl.close();
      process.stderr.write('\n');
      resolve(line);
    });
    // In raw mode Ctrl-C reaches readline, not the process: end as an interrupt would.
    rl.on('SIGINT', () => {
      rl.close();
      process.stderr.write('\n');
      process.exit(EXIT.interrupted);
    });
    rl.on('close', () => {
      if (answered) return;
      process.stderr.write('\n');
      reject(new UsageError('No password given.'));
    });
    rl.setPrompt(prompt);
    rl.prompt();
    muted = true;
  });
}

async function firstLineOfStdin(): Promise<string> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of process.stdin) {
    const buf = Buffer.isBuffer(chunk) ? chunk : Buffer.from(String(chunk));
    size += buf.length;
    if (size > MAX_PASSWORD_BYTES) throw new UsageError(`stdin holds more than ${MAX_PASSWORD_BYTES} bytes; pipe only the password.`);
    chunks.push(buf);
  }
  // `echo pw |` adds a newline, and a password has none; anything after it is not the password.
  return Buffer.concat(chunks).toString('utf8').split(/\r?\n/)[0] ?? '';
}

type Revoked =
  | { outcome: 'revoked' }
  /** Already revoked, or its user disabled: it opens nothing any more. */
  | { outcome: 'gone' }
  /** 403: a server older than the one that lets every role revoke its own tokens. */
  | { outcome: 'forbidden'; message: string }
  | { outcome: 'error'; error: unknown };

/**
 * Revokes the stored token with itself (DELETE /tokens/{its id}). Not with another token: the
 * stored one may belong to another user or business, and revoking it is this machine giving it up.
 */
async function revokeStored(creds: Credentials): Promise<Revoked> {
  try {
    await makeClient(creds.url, creds.token).request<null>('DELETE', `/api/v1/tokens/${creds.token_id}`);
    return { outcome: 'revoked' };
  } catch (err) {
    if (err instanceof ApiError && (err.status === 401 || err.status === 404)) return { outcome: 'gone' };
    if (err instanceof ApiError && err.status === 403) return { outcome: 'forbidden', message: err.message };
    return { outcome: 'error', error: err };
  }
}

const stillValid = (c: Credentials): string =>
  `token ${c.token_id} stays valid until an admin or owner revokes it (bulkhead tokens revoke ${c.token_id})`;

/** The credentials a new login replaces, if any; unreadable ones are being replaced anyway. */
function previousLogin(): Credentials | null {
  try {
    return readCredentials({ checkPermissions: false });
  } catch {
    return null;
  }
}

export function registerLoginCommands(program: Command): void {
  program
    .command('login')
    .description('Sign in with email and password; stores a bearer token of your own for the tenant commands (jobs, import, tokens, trash).')
    .addOption(new Option('--url <url>', 'base URL of the Bulkhead API').env('BULKHEAD_URL').default(DEFAULT_URL))
    .addOption(new Option('--email <email>', 'your email (the one your invitation was for)').makeOptionMandatory())
    .addHelpText('after', `
The password is read from BULKHEAD_PASSWORD, else asked for on the terminal (not echoed), else
read from the first line of stdin. The server issues a token named "CLI on <hostname>" with your
role; it is saved with its URL in ${'$'}XDG_CONFIG_HOME/bulkhead/credentials.json (default
~/.config/bulkhead/; BULKHEAD_CONFIG_DIR overrides the directory), mode 0600. A file others can
read is refused, as ssh refuses such a key. Later commands use it when neither --token nor
BULKHEAD_TOKEN is given, and send it only to the URL it came from. Logging in again replaces it
(and revokes the replaced token when the server allows you to).

Exits 0 when signed in, 5 for a wrong email or password (nothing is stored), 7 after too many
failed attempts (429 too_many_attempts: wait the time it prints).

Examples:
  bulkhead login --url https://bulkhead.example.com --email dana@example.com
  echo "$PASSWORD" | bulkhead login --email dana@example.com
  BULKHEAD_PASSWORD=… bulkhead login --email dana@example.com && bulkhead jobs list`)
    .action(clientAction(async (flags: LoginFlags) => {
      const client = makeClient(flags.url);
      const password = await readPassword(`Password for ${flags.email} at ${client.baseUrl}: `);
      const name = `CLI on ${os.hostname()}`.slice(0, 100);
      let issued: IssuedToken;
      try {
        issued = await client.request<IssuedToken>('POST', '/api/v1/auth/token', { body: { email: flags.email, password, name } });
      } catch (err) {
        // The generic 401 hint talks about --token, which login has none of.
        if (err instanceof ApiError && err.status === 401) {
          process.stderr.write(`error (401 ${err.code}): ${err.message}\n`);
          return EXIT.unauthorized;
        }
        throw err;
      }
      const previous = previousLogin();
      const creds: Credentials = { url: client.baseUrl, token: issued.token, token_id: issued.token_id, email: issued.user.email, business: issued.business };
      let file: string;
      try {
        file = await writeCredentials(creds);
      } catch (err) {
        // The token exists now but would be kept nowhere: give it back rather than leave it valid.
        await revokeStored(creds);
        throw new UsageError(`Cannot save the token in ${credentialsPath()}: ${(err as Error).message}`);
      }
      const lines = [
        `Logged in to ${creds.url} as ${issued.user.email} (${issued.user.role}) of business "${issued.business.name}" (id ${issued.business.id}).`,
        `Token ${issued.token_id} ("${name}") saved in ${file} (mode 0600); \`bulkhead logout\` revokes it.`,
      ];
      if (previous && previous.token_id !== creds.token_id) {
        // Only on the same server: another one may be far away or down, and login must not hang on it.
        if (!sameServer(previous.url, creds.url)) {
          lines.push(`Replaced the login to ${previous.url} (${previous.email}): its ${stillValid(previous)} there.`);
        } else {
          const r = await revokeStored(previous);
          if (r.outcome === 'revoked') lines.push(`Replaced the earlier login (${previous.email}): its token ${previous.token_id} is revoked.`);
          else if (r.outcome === 'forbidden') lines.push(`Replaced the earlier login (${previous.email}): its ${stillValid(previous)}.`);
          else if (r.outcome === 'error') lines.push(`Replaced the earlier login (${previous.email}); revoking its token ${previous.token_id} failed: ${(r.error as Error).message}`);
        }
      }
      console.log(lines.join('\n'));
      return EXIT.ok;
    }));

  program
    .command('logout')
    .description('Revoke the token `bulkhead login` stored and remove it from this machine.')
    .option('--local', 'only remove the stored token; do not ask the server to revoke it (it stays valid)')
    .addHelpText('after', `
The token is revoked with DELETE /api/v1/tokens/{id}. Only admins and owners may revoke tokens:
for an agent the server refuses, the file is removed all the same, and the output names the
token an admin or owner must revoke. When the server cannot be reached nothing is removed (exit
8): try again, or use --local.

Examples:
  bulkhead logout
  bulkhead logout --local`)
    .action(clientAction(async (flags: LogoutFlags) => {
      const file = credentialsPath();
      const creds = readCredentials({ checkPermissions: false });
      if (!creds) {
        console.log(`Not logged in (no ${file}).`);
        return EXIT.ok;
      }
      if (flags.local) {
        await deleteCredentials();
        console.log(`Removed ${file}; ${stillValid(creds)}.`);
        return EXIT.ok;
      }
      const r = await revokeStored(creds);
      if (r.outcome === 'error') {
        const code = reportError(r.error);
        process.stderr.write(`Nothing was removed: try again, or \`bulkhead logout --local\` to only forget token ${creds.token_id} here.\n`);
        return code;
      }
      await deleteCredentials();
      const what = r.outcome === 'revoked' ? `token ${creds.token_id} revoked on ${creds.url}`
        : r.outcome === 'gone' ? `token ${creds.token_id} was already revoked`
        : `the server refused to revoke it (${r.message}), so ${stillValid(creds)}`;
      console.log(`Logged out ${creds.email}: ${what}. Removed ${file}.`);
      return EXIT.ok;
    }));

  withClientOptions(program.command('whoami'))
    .description('Who the token in use belongs to: user, role and business (GET /me).')
    .option('--json', 'print {user, business} as JSON')
    .addHelpText('after', `
Examples:
  bulkhead whoami
  BULKHEAD_TOKEN=bh_… bulkhead whoami --json | jq -r .user.role`)
    .action(clientAction(async (flags: WhoamiFlags) => {
      const { client, stored } = tenantClient(flags);
      const me = await client.request<Me>('GET', '/api/v1/me');
      if (flags.json) console.log(JSON.stringify(me, null, 2));
      else {
        const source = stored ? `token ${stored.token_id} saved by \`bulkhead login\`` : 'token from --token / BULKHEAD_TOKEN';
        console.log(`${me.user.email} (${me.user.role}) of business "${me.business.name}" (id ${me.business.id}) at ${client.baseUrl}, ${source}`);
      }
      return EXIT.ok;
    }));
}
