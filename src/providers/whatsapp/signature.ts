import { createHmac, timingSafeEqual } from 'node:crypto';

/** `X-Hub-Signature-256` of a webhook body: `sha256=` + hex HMAC-SHA256 keyed by the app secret. */
export function signBody(body: Buffer | string, appSecret: string): string {
  return `sha256=${createHmac('sha256', appSecret).update(body).digest('hex')}`;
}

/**
 * Verifies the header against the RAW bytes received (re-serialized JSON would differ in key
 * order or escapes). Timing-safe; a missing or malformed header is simply false.
 */
export function verifySignature(rawBody: Buffer, header: string | string[] | undefined, appSecret: string): boolean {
  if (typeof header !== 'string' || !/^sha256=[0-9a-f]{64}$/i.test(header)) return false;
  const expected = Buffer.from(signBody(rawBody, appSecret).slice('sha256='.length), 'hex');
  const given = Buffer.from(header.slice('sha256='.length), 'hex');
  return given.length === expected.length && timingSafeEqual(given, expected);
}
