import { randomBytes } from 'node:crypto';
import { promises as fs } from 'node:fs';
import path from 'node:path';
import type { Config } from '../config/config.js';
import type { Logger } from '../lib/logger.js';
import { generateSecretKey, SecretBox, secretKeyFrom, type SecretKey } from '../lib/secret-box.js';

/** Where the generated key lives when SECRETS_KEY is unset (never in production: config.ts refuses that). */
export function generatedKeyPath(dataDir: string): string {
  return path.join(dataDir, 'secrets-key');
}

/**
 * The box that seals and opens provider secrets: SECRETS_KEY (and SECRETS_KEY_PREVIOUS, during a
 * rotation), or — when SECRETS_KEY is unset, as on `npm start` — a key generated once into
 * DATA_DIR/secrets-key (mode 0600) and read from there on every later start, like the embedded
 * database's password. Stored secrets stay readable only as long as that file does.
 *
 * The file is created atomically (written to a temporary name, then hard-linked to its name,
 * which fails when it exists): processes starting together on one DATA_DIR (an API and a worker,
 * test files in parallel) all end up with the same key, and none reads a half-written file.
 */
export async function loadSecretBox(config: Pick<Config, 'secrets' | 'dataDir'>, log: Logger): Promise<SecretBox> {
  const current = config.secrets.key !== null ? secretKeyFrom(config.secrets.key, 'SECRETS_KEY') : await generatedKey(config.dataDir, log);
  const previous: SecretKey[] = config.secrets.previous !== null ? [secretKeyFrom(config.secrets.previous, 'SECRETS_KEY_PREVIOUS')] : [];
  // Moving from the generated key to a SECRETS_KEY of one's own: values sealed under the
  // generated one still open (until `bulkhead secrets rotate` seals them under SECRETS_KEY).
  if (config.secrets.key !== null) {
    const file = generatedKeyPath(config.dataDir);
    const text = await readKeyFile(file);
    if (text !== null) previous.push(secretKeyFrom(text, file));
  }
  return new SecretBox(current, previous);
}

async function generatedKey(dataDir: string, log: Logger): Promise<SecretKey> {
  const file = generatedKeyPath(dataDir);
  const existing = await readKeyFile(file);
  if (existing !== null) return secretKeyFrom(existing, file);
  await fs.mkdir(dataDir, { recursive: true });
  const temp = `${file}.${process.pid}.${randomBytes(4).toString('hex')}`;
  await fs.writeFile(temp, `${generateSecretKey()}\n`, { mode: 0o600, flag: 'wx' });
  try {
    await fs.link(temp, file);
    log.info({ file }, 'SECRETS_KEY is unset: generated a key for stored provider secrets (keep this file, or set SECRETS_KEY)');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
  } finally {
    await fs.unlink(temp).catch(() => undefined);
  }
  const text = await readKeyFile(file);
  if (text === null) throw new Error(`${file} could not be read after it was created`);
  return secretKeyFrom(text, file);
}

async function readKeyFile(file: string): Promise<string | null> {
  try {
    const text = (await fs.readFile(file, 'utf8')).trim();
    return text === '' ? null : text;
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return null;
    throw err;
  }
}
