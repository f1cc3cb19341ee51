import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';

/** 144 random bits, URL-safe; the prefix tells a leaked string's origin at a glance. */
export function newToken(): string {
  return `bh_${randomBytes(18).toString('base64url')}`;
}

export function hashToken(token: string): Buffer {
  return createHash('sha256').update(token).digest();
}

export function safeEqual(a: string, b: string): boolean {
  const ha = createHash('sha256').update(a).digest();
  const hb = createHash('sha256').update(b).digest();
  return timingSafeEqual(ha, hb);
}
