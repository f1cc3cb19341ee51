import { z } from 'zod';
import { msg, zodMessage } from '../lib/messages.js';
import { bigList, checkId, ID_ITEM } from './big-list.js';

/** Ids are positive JSON integers that fit PostgreSQL's bigint and JavaScript's safe range. */
export const Id = z.number().int().positive().max(Number.MAX_SAFE_INTEGER);
export const IdParam = z.object({ id: z.coerce.number().int().positive().max(Number.MAX_SAFE_INTEGER) });
/** 1..100 000 lead ids, checked in one cheap pass (big-list.ts). */
export const LeadIds = bigList<number>({ min: 1, max: 100_000, item: ID_ITEM, check: checkId });

const FIRST_INSTANT = Date.parse('0001-01-01T00:00:00.000Z');
const LAST_INSTANT = Date.parse('9999-12-31T23:59:59.999Z');

function storableMs(s: string): number | null {
  const ms = Date.parse(s);
  return Number.isFinite(ms) && ms >= FIRST_INSTANT && ms <= LAST_INSTANT ? ms : null;
}

/**
 * An ISO 8601 date-time with an offset, handed on as UTC (`…Z`). The zod format alone admits
 * instants PostgreSQL refuses — year 0000, offsets beyond ±15:59 — which were a 500; years past
 * 9999 (after applying the offset) would come back as `+010000-…`, which clients cannot parse.
 */
export const IsoInstant = z.iso
  .datetime({ offset: true })
  .refine((s) => storableMs(s) !== null, zodMessage(msg('issue.instant_range')))
  // Runs even when a check above failed, so it must not throw on any string.
  .overwrite((s) => {
    const ms = storableMs(s);
    return ms === null ? s : new Date(ms).toISOString();
  });

/** 204: no body (`reply.status(204).send()` is never serialized). */
export const NoContent = z.undefined().describe('No Content');

/**
 * A reply that is not JSON (an event stream, audio, plain text), for /docs only: Fastify sends
 * streams and strings with a non-JSON content type as they are, so this schema never serializes
 * anything (a JSON schema for a stream would turn it into a 500).
 */
export function nonJsonResponse(contentType: string, description: string) {
  // Typed `unknown` so a handler may send a stream; the document shows a string (binary for audio).
  const schema = z.unknown().meta({ type: 'string', ...(contentType.startsWith('audio/') ? { format: 'binary' } : {}), description });
  return { description, content: { [contentType]: { schema } } };
}

/** Idempotency-Key header, optional on every POST that creates a job. */
export const IdempotencyHeaders = z.looseObject({
  'idempotency-key': z.string().min(1).max(255).optional(),
});
