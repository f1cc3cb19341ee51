import { lazyImport } from '../lib/lazy-import.js';

// Loaded at the first sign-in or password set (its native binding costs a process ~60 ms).
const argon2 = lazyImport(() => import('@node-rs/argon2'));

/** API.md: passwords of at least 10 characters. The upper bound keeps one hash cheap to refuse. */
export const PASSWORD_MIN = 10;
export const PASSWORD_MAX = 256;

/**
 * argon2id with @node-rs/argon2's defaults (m = 19 MiB, t = 2, p = 1: OWASP's minimum for
 * argon2id), ~60 ms on this machine, off the event loop (libuv pool). Chosen over `argon2`
 * (node-gyp prebuilds) and bcrypt (72-byte limit, not memory-hard) for prebuilt binaries and
 * argon2id as the default.
 */
export async function hashPassword(password: string): Promise<string> {
  // The library's default algorithm is argon2id (its `Algorithm` is a const enum, which this
  // build cannot import); test/people/auth.test.ts checks the stored hash says $argon2id$.
  return (await argon2()).hash(password);
}

// Verified against when the email is unknown, so "no such user" costs what "wrong password" does.
let dummy: Promise<string> | null = null;

export async function verifyPassword(stored: string | null, password: string): Promise<boolean> {
  if (stored === null) {
    dummy ??= hashPassword('not-a-password-of-anyone');
    await (await argon2()).verify(await dummy, password).catch(() => false);
    return false;
  }
  try {
    return await (await argon2()).verify(stored, password);
  } catch {
    return false;
  }
}
