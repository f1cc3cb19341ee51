import type { FastifyRequest } from 'fastify';
import { ValidationError } from '../lib/errors.js';

/**
 * PostgreSQL `text` cannot hold U+0000: a string carrying it passes every zod schema and then
 * fails in the driver (22021), a 500. One guard before validation, for every route, rather than a
 * refinement on each string field that a new field could forget.
 */
export async function rejectNulCharacters(request: FastifyRequest): Promise<void> {
  const found =
    findNul(request.params, 'params') ??
    findNul(request.query, 'querystring') ??
    findNul(request.body, 'body') ??
    findNul(request.headers, 'headers');
  if (found) {
    throw new ValidationError(`The request is invalid: ${found} contains a NUL character (U+0000), which cannot be stored.`, [
      { path: found, message: 'must not contain the NUL character (U+0000)' },
    ]);
  }
}

/**
 * The path (`body.leads.3.name`) of the first string value holding U+0000, or null. Iterative:
 * a 16 MiB body can nest millions of levels deep.
 */
export function findNul(value: unknown, root: string): string | null {
  const stack: [unknown, string][] = [[value, root]];
  for (let next = stack.pop(); next !== undefined; next = stack.pop()) {
    const [v, path] = next;
    if (typeof v === 'string') {
      if (v.includes('\u0000')) return path;
    } else if (Array.isArray(v)) {
      for (let i = v.length - 1; i >= 0; i -= 1) stack.push([v[i], `${path}.${i}`]);
    } else if (v !== null && typeof v === 'object') {
      const entries = Object.entries(v);
      for (let i = entries.length - 1; i >= 0; i -= 1) {
        const [k, child] = entries[i] as [string, unknown];
        stack.push([child, `${path}.${k}`]);
      }
    }
  }
  return null;
}
