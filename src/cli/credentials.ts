/**
 * What `bulkhead login` keeps between commands: the server's URL and a bearer token of the
 * user's own, in `credentials.json` of the user's config directory.
 *
 * Where: `$BULKHEAD_CONFIG_DIR` (the directory itself; meant for tests and for keeping several
 * logins apart), else `$XDG_CONFIG_HOME/bulkhead`, else `~/.config/bulkhead`.
 *
 * Permissions: the directory is created 0700 and the file is written 0600 through a temporary
 * file renamed over the old one, so a crash never leaves half a file and the secret is never
 * readable by others, not even for a moment. A file that others can read (or that another user
 * owns) is refused rather than fixed, as ssh refuses such a key: the token may already have
 * leaked, and quietly tightening the mode would hide that. The message says how to go on
 * (`bulkhead logout` revokes it; `chmod 600` keeps it). Windows has no such mode bits: there the
 * check is skipped.
 */
import { randomBytes } from 'node:crypto';
import fsSync from 'node:fs';
import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { z } from 'zod';
import { UsageError } from './commands/exit-codes.js';

export const CREDENTIALS_FILE = 'credentials.json';

const Credentials = z.object({
  url: z.string().min(1),
  token: z.string().min(1),
  token_id: z.number().int().positive(),
  email: z.string(),
  business: z.object({ id: z.number().int().positive(), name: z.string() }),
});
export type Credentials = z.infer<typeof Credentials>;

type Env = Record<string, string | undefined>;

export function configDir(env: Env = process.env): string {
  if (env.BULKHEAD_CONFIG_DIR) return path.resolve(env.BULKHEAD_CONFIG_DIR);
  // The XDG spec: a relative XDG_CONFIG_HOME is invalid and must be ignored.
  const xdg = env.XDG_CONFIG_HOME;
  if (xdg && path.isAbsolute(xdg)) return path.join(xdg, 'bulkhead');
  return path.join(os.homedir(), '.config', 'bulkhead');
}

export const credentialsPath = (env: Env = process.env): string => path.join(configDir(env), CREDENTIALS_FILE);

/** Modes are POSIX only: on Windows the file's ACL (the user's profile) is what protects it. */
const POSIX = process.platform !== 'win32';

/**
 * The stored credentials, or null when nobody logged in. `checkPermissions: false` is for
 * `logout`, which must be able to revoke and remove a file the check refuses. Synchronous: every
 * tenant command reads this one small file before its first request, nothing runs beside it.
 */
export function readCredentials(opts: { env?: Env; checkPermissions?: boolean } = {}): Credentials | null {
  const file = credentialsPath(opts.env);
  let fd: number;
  try {
    fd = fsSync.openSync(file, 'r');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return null;
    throw new UsageError(`Cannot read ${file}: ${(err as Error).message}`);
  }
  try {
    // fstat of the open file, not stat of the path: the check and the read see the same file.
    const stat = fsSync.fstatSync(fd);
    if (POSIX && opts.checkPermissions !== false) {
      const uid = process.getuid?.();
      if (uid !== undefined && stat.uid !== uid) {
        throw new UsageError(`${file} belongs to another user (uid ${stat.uid}); refusing to use the token in it. Remove it, then run \`bulkhead login\`.`);
      }
      const mode = stat.mode & 0o777;
      if ((mode & 0o077) !== 0) {
        throw new UsageError([
          `${file} is readable by others (mode ${mode.toString(8).padStart(4, '0')}); refusing to use the token in it.`,
          '  It may have leaked: `bulkhead logout` revokes it and removes the file (then `bulkhead login`);',
          `  or, if nobody else could read it, keep it with: chmod 600 ${file}`,
        ].join('\n'));
      }
    }
    let text: string;
    try {
      text = fsSync.readFileSync(fd, 'utf8');
    } catch (err) {
      throw new UsageError(`Cannot read ${file}: ${(err as Error).message}`);
    }
    let parsed: unknown;
    try {
      parsed = JSON.parse(text);
    } catch {
      throw new UsageError(`${file} is not valid JSON; remove it and run \`bulkhead login\` again.`);
    }
    const creds = Credentials.safeParse(parsed);
    if (!creds.success) throw new UsageError(`${file} is not a Bulkhead credentials file; remove it and run \`bulkhead login\` again.`);
    return creds.data;
  } finally {
    fsSync.closeSync(fd);
  }
}

/** Writes the credentials atomically with mode 0600 (the directory 0700 when created); returns the path. */
export async function writeCredentials(creds: Credentials, env: Env = process.env): Promise<string> {
  const dir = configDir(env);
  const file = path.join(dir, CREDENTIALS_FILE);
  // An existing directory keeps its mode: it may be one the user chose (BULKHEAD_CONFIG_DIR) and
  // shares on purpose; the file's own 0600 is what protects the token.
  await fs.mkdir(dir, { recursive: true, mode: 0o700 });
  const tmp = path.join(dir, `.${CREDENTIALS_FILE}.${process.pid}.${randomBytes(6).toString('hex')}.tmp`);
  // 'wx': never follow a planted file or link at the temporary name.
  const handle = await fs.open(tmp, 'wx', 0o600);
  try {
    // The umask may have taken bits off the mode given to open; make it exactly 0600.
    if (POSIX) await handle.chmod(0o600);
    await handle.writeFile(`${JSON.stringify(Credentials.parse(creds), null, 2)}\n`, 'utf8');
    await handle.sync();
    await handle.close();
    await fs.rename(tmp, file);
  } catch (err) {
    await handle.close().catch(() => undefined);
    await fs.rm(tmp, { force: true });
    throw err;
  }
  return file;
}

/** Removes the stored credentials; false when there were none. */
export async function deleteCredentials(env: Env = process.env): Promise<boolean> {
  try {
    await fs.unlink(credentialsPath(env));
    return true;
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return false;
    throw err;
  }
}

/**
 * The one form of a base URL used to compare them (`http://h:3000/` = `http://h:3000`): a stored
 * token is only ever sent to the server that issued it.
 */
export function sameServer(a: string, b: string): boolean {
  const norm = (u: string): string => {
    try {
      const url = new URL(u);
      return `${url.origin}${url.pathname.replace(/\/+$/, '')}`;
    } catch {
      return u;
    }
  };
  return norm(a) === norm(b);
}
