import { createCipheriv, createDecipheriv, createHash, randomBytes } from 'node:crypto';

/**
 * Provider secrets at rest (DESIGN.md invariant 11): AES-256-GCM under SECRETS_KEY, with the id
 * of the key that sealed each value stored in the value itself, so SECRETS_KEY can be rotated
 * (`bulkhead secrets rotate`): a box opens values sealed under its current key or under any of its
 * previous ones, and seals only under the current one.
 *
 * A sealed value is one printable string: `v1.<key id>.<iv>.<tag>.<ciphertext>` (base64url parts).
 * One text column per secret, rather than three (key id, nonce, bytes), keeps every table that
 * holds a secret to one column per secret and lets the rotation find stale values with one
 * comparison. GCM's 96-bit random nonce is safe for far more than the 2^32 seals one key will
 * ever make here (a few per channel change).
 *
 * Every seal is bound to where it is stored (`context`, e.g. `voice_channels.auth_token:12`)
 * through GCM's additional data: a value copied by someone with write access to the database
 * into another business's row does not open there.
 */
export interface SecretKey {
  /** 16 hex digits derived from the key (not the key): names it in sealed values and messages. */
  readonly id: string;
  readonly key: Buffer;
}

const VERSION = 'v1';
const KEY_BYTES = 32;
const IV_BYTES = 12;

export class SecretKeyError extends Error {
  override name = 'SecretKeyError';
}

/** A base64 (or base64url) text of exactly 32 bytes → a key; anything else is a SecretKeyError naming `name`. */
export function secretKeyFrom(text: string, name = 'SECRETS_KEY'): SecretKey {
  const trimmed = text.trim();
  if (!/^[A-Za-z0-9+/_-]+={0,2}$/.test(trimmed)) throw new SecretKeyError(`${name} must be 32 bytes in base64 (openssl rand -base64 32)`);
  const key = Buffer.from(trimmed.replace(/-/g, '+').replace(/_/g, '/'), 'base64');
  if (key.length !== KEY_BYTES) throw new SecretKeyError(`${name} must be 32 bytes in base64 (openssl rand -base64 32); it decodes to ${key.length} bytes`);
  return { id: keyIdOf(key), key };
}

export function generateSecretKey(): string {
  return randomBytes(KEY_BYTES).toString('base64');
}

function keyIdOf(key: Buffer): string {
  return createHash('sha256').update('bulkhead secrets key id\u0000').update(key).digest('hex').slice(0, 16);
}

export class SecretOpenError extends Error {
  override name = 'SecretOpenError';
}

export class SecretBox {
  readonly #current: SecretKey;
  readonly #byId: ReadonlyMap<string, SecretKey>;

  constructor(current: SecretKey, previous: readonly SecretKey[] = []) {
    this.#current = current;
    this.#byId = new Map([...previous, current].map((k) => [k.id, k]));
  }

  /** The id of the key new values are sealed with. */
  get currentKeyId(): string {
    return this.#current.id;
  }

  seal(plaintext: string, context: string): string {
    const iv = randomBytes(IV_BYTES);
    const cipher = createCipheriv('aes-256-gcm', this.#current.key, iv);
    cipher.setAAD(Buffer.from(context, 'utf8'));
    const body = Buffer.concat([cipher.update(plaintext, 'utf8'), cipher.final()]);
    const tag = cipher.getAuthTag();
    return [VERSION, this.#current.id, iv.toString('base64url'), tag.toString('base64url'), body.toString('base64url')].join('.');
  }

  /** The plaintext; a SecretOpenError (never the value) when the key is unknown or the value was altered. */
  open(sealed: string, context: string): string {
    const parts = sealed.split('.');
    const [version, keyId, iv, tag, body] = parts;
    if (parts.length !== 5 || version !== VERSION || !keyId || iv === undefined || tag === undefined || body === undefined) {
      throw new SecretOpenError('a stored secret is not in the sealed format');
    }
    const key = this.#byId.get(keyId);
    if (!key) {
      throw new SecretOpenError(`a stored secret is sealed under key ${keyId}, which is neither SECRETS_KEY (${this.#current.id}) nor SECRETS_KEY_PREVIOUS`);
    }
    try {
      const decipher = createDecipheriv('aes-256-gcm', key.key, Buffer.from(iv, 'base64url'));
      decipher.setAAD(Buffer.from(context, 'utf8'));
      decipher.setAuthTag(Buffer.from(tag, 'base64url'));
      return Buffer.concat([decipher.update(Buffer.from(body, 'base64url')), decipher.final()]).toString('utf8');
    } catch {
      throw new SecretOpenError(`a stored secret sealed under key ${keyId} does not open: altered, or stored under another row`);
    }
  }

  /** The key id a sealed value names (null when it is not a sealed value). */
  static keyIdOf(sealed: string): string | null {
    const parts = sealed.split('.');
    return parts.length === 5 && parts[0] === VERSION && parts[1] ? parts[1] : null;
  }
}

/** What an API answer shows of a secret: `…` and its last four characters. */
export function secretHint(secret: string): string {
  return `…${secret.slice(-4)}`;
}
