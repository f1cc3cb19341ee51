import { z } from 'zod';
import type { Page } from '../contract/common.js';
import { ValidationError } from '../lib/errors.js';
import { msg } from '../lib/messages.js';

export const listQuery = {
  limit: z.coerce.number().int().min(1).max(500).default(50),
  cursor: z.string().max(200).optional(),
};

/** Opaque cursors: base64url of the last id seen (lists are ordered by id). */
function encodeCursor(id: number): string {
  return Buffer.from(JSON.stringify({ id })).toString('base64url');
}

function decodeCursor(cursor: string | undefined): number | undefined {
  if (cursor === undefined || cursor === '') return undefined;
  try {
    const parsed: unknown = JSON.parse(Buffer.from(cursor, 'base64url').toString('utf8'));
    const id = (parsed as { id?: unknown }).id;
    if (typeof id === 'number' && Number.isSafeInteger(id) && id > 0) return id;
  } catch {
    // fall through to the 400
  }
  throw new ValidationError(msg('request.cursor_invalid'), [{ path: 'querystring.cursor', message: msg('issue.cursor_invalid') }]);
}

/**
 * One page of a list ordered by id: fetches limit + 1 rows after the query's cursor (the extra
 * row only tells whether a next page exists) and shows the first `limit` through `view`, which
 * gets them all at once so it can look up what they need in one query (counts by ids).
 */
export async function paged<T extends { id: number }, V>(
  q: { limit: number; cursor?: string | undefined },
  fetch: (cursor: number | undefined, limit: number) => Promise<T[]>,
  view: (shown: T[]) => V[] | Promise<V[]>,
): Promise<Page<V>> {
  const rows = await fetch(decodeCursor(q.cursor), q.limit + 1);
  const shown = rows.slice(0, q.limit);
  const last = shown.at(-1);
  return { items: await view(shown), next_cursor: rows.length > q.limit && last ? encodeCursor(last.id) : null };
}
