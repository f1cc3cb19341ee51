import { z } from 'zod';
import type pg from 'pg';
import type { Page } from '../contract/common.js';
import { ValidationError } from '../lib/errors.js';
import { msg } from '../lib/messages.js';
import { getCalls, type CallRow } from '../outbound/calls.repo.js';
import { searchTranscripts } from './transcripts.repo.js';

/** Search cursors: base64url of the last hit's rank and call id (the keyset of a ranked list). */
function encodeCursor(rank: number, callId: number): string {
  return Buffer.from(JSON.stringify({ r: rank, id: callId })).toString('base64url');
}

function decodeCursor(cursor: string | undefined): { rank: number; callId: number } | null {
  if (cursor === undefined || cursor === '') return null;
  try {
    const p = JSON.parse(Buffer.from(cursor, 'base64url').toString('utf8')) as { r?: unknown; id?: unknown };
    if (typeof p.id === 'number' && Number.isSafeInteger(p.id) && p.id > 0) {
      // A cursor of the plain calls list (no rank) starts the search from its best match.
      return typeof p.r === 'number' && Number.isFinite(p.r) ? { rank: p.r, callId: p.id } : null;
    }
  } catch {
    // fall through to the 400
  }
  throw new ValidationError(msg('request.cursor_invalid'), [{ path: 'querystring.cursor', message: msg('issue.cursor_invalid') }]);
}

/**
 * GET /calls?q=: the business's calls whose transcript matches, best match first, in pages of
 * the calls list's shape (the hook in outbound.routes.ts hands over its view).
 */
export async function searchCallsPage<V>(
  pool: pg.Pool,
  businessId: number,
  q: { q: string; limit: number; cursor?: string | undefined },
  view: (calls: CallRow[]) => V[] | Promise<V[]>,
): Promise<Page<V>> {
  const hits = await searchTranscripts(pool, businessId, q.q, decodeCursor(q.cursor), q.limit + 1);
  const shown = hits.slice(0, q.limit);
  const byId = new Map((await getCalls(pool, businessId, shown.map((h) => h.call_id))).map((c) => [Number(c.id), c]));
  const calls = shown.flatMap((h) => byId.get(h.call_id) ?? []);
  const last = shown.at(-1);
  return { items: await view(calls), next_cursor: hits.length > q.limit && last ? encodeCursor(last.rank, last.call_id) : null };
}

/** The `q` of GET /calls (added to its querystring). */
export const transcriptSearchQuery = {
  q: z.string().trim().min(1).max(200).optional().describe('words the call’s transcript contains (Hebrew or English; "a phrase", or, -word); ranked, best first'),
};
