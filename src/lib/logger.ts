import { pino, type Logger, type LevelWithSilent } from 'pino';

export type { Logger };

export function createLogger(level: LevelWithSilent, name = 'bulkhead'): Logger {
  return pino({
    name,
    level,
    base: { pid: process.pid },
    // Defence in depth for provider secrets (they are never passed to a logger on purpose; a test
    // greps a debug run's logs for them): the names they go by anywhere one level deep.
    redact: {
      paths: ['req.headers.authorization', ...['token', 'authToken', 'auth_token', 'accessToken', 'access_token', 'appSecret', 'app_secret'].flatMap((k) => [k, `*.${k}`])],
      censor: '[redacted]',
    },
  });
}

/** Phone numbers never reach the logs whole: +15551234567 → +1555***4567. */
export function maskPhone(phone: string): string {
  if (phone.length <= 7) return '***';
  return `${phone.slice(0, 5)}***${phone.slice(-4)}`;
}
