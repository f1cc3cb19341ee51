import { z } from 'zod';
import type { Page } from '../contract/common.js';
import { ValidationError } from '../lib/errors.js';

export const listQuery = {
  limit: z.coerce.number().int().min(1).max(500).default(50),
  cursor: z.string().max(200).optional(),
};

/** Opaque cursors: base64url of the last id seen (lists are ordered by id). */
export function encodeCursor(id: number): string {
  return Buffer.from(JSON.stringify({ id })).toString('base64url');
}

export function decodeCursor(cursor: string | undefined): number | undefined {
  if (cursor === undefined || cursor === '') return undefined;
  try {
    const parsed: unknown = JSON.parse(Buffer.from(cursor, 'base64url').toString('utf8'));
    const id = (parsed as { id?: unknown }).id;
    if (typeof id === 'number' && Number.isSafeInteger(id) && id > 0) return id;
  } catch {
    // fall through to the 400
  }
  throw new ValidationError('The cursor is not one this API gave out.', [{ path: 'querystring.cursor', message: 'invalid cursor' }]);
}

/** Fetch limit + 1 rows; the extra one tells whether there is a next page. */
export function page<T extends { id: number }, V>(rows: T[], limit: number, view: (row: T) => V): Page<V> {
  const items = rows.slice(0, limit);
  const last = items.at(-1);
  return { items: items.map(view), next_cursor: rows.length > limit && last ? encodeCursor(last.id) : null };
}
