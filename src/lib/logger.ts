import { pino, type Logger, type LevelWithSilent } from 'pino';

export type { Logger };

export function createLogger(level: LevelWithSilent, name = 'bulkhead'): Logger {
  return pino({
    name,
    level,
    base: { pid: process.pid },
    redact: { paths: ['req.headers.authorization', 'token', '*.token'], censor: '[redacted]' },
  });
}

/** Phone numbers never reach the logs whole: +15551234567 → +1555***4567. */
export function maskPhone(phone: string): string {
  if (phone.length <= 7) return '***';
  return `${phone.slice(0, 5)}***${phone.slice(-4)}`;
}
