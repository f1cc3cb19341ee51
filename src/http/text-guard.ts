import type { FastifyRequest } from 'fastify';
import { ValidationError } from '../lib/errors.js';
import { bodyMayHoldUnstorableText } from './json-limits.js';
import { english, msg, type UnstorableChar } from '../lib/messages.js';
import { unstorableChar } from '../lib/storable-text.js';

declare module 'fastify' {
  interface FastifyContextConfig {
    /**
     * Parts of the body whose text the route judges itself, row by row: an import row that
     * cannot be stored becomes that row's error, not a 400 for the whole file. `bodyKeys` are
     * top-level keys of a JSON body; `textBody` is a text body (CSV) as a whole.
     */
    rowText?: { bodyKeys?: readonly string[]; textBody?: boolean };
  }
}

/**
 * One guard before validation, for every API route, rather than a refinement on each string field
 * that a new field could forget: text PostgreSQL cannot store (lib/storable-text.ts) in the path
 * parameters, the query, the body or the headers is a 400 naming where it is.
 */
export async function rejectUnstorableText(request: FastifyRequest): Promise<void> {
  const found =
    findUnstorableText(request.params, 'params') ??
    findUnstorableText(request.query, 'querystring') ??
    (bodyMayHoldUnstorableText(request) ? findInBody(request.body, request.routeOptions.config.rowText) : null) ??
    findUnstorableText(request.headers, 'headers');
  if (found) {
    const { path, char, inKey } = found;
    throw new ValidationError(msg('request.unstorable_text', { path, char, inKey }), [{ path, message: msg('issue.unstorable_text', { char, inKey }) }]);
  }
}

function findInBody(body: unknown, rowText: FastifyRequest['routeOptions']['config']['rowText']): UnstorableText | null {
  if (!rowText) return findUnstorableText(body, 'body');
  if (typeof body === 'string') return rowText.textBody ? null : findUnstorableText(body, 'body');
  if (body === null || typeof body !== 'object' || Array.isArray(body)) return findUnstorableText(body, 'body');
  const skipped = new Set(rowText.bodyKeys ?? []);
  for (const [key, value] of Object.entries(body)) {
    const found = skipped.has(key) ? null : findUnstorableText(value, `body.${key}`);
    if (found) return found;
  }
  return null;
}

export interface UnstorableText {
  /** Where the string is, as in `details.issues`: `body.leads.3.name`. */
  path: string;
  char: UnstorableChar;
  /** The bad text is an object key, not a value. */
  inKey: boolean;
  /** "contains …", in English, to follow the path in a sentence. */
  reason: string;
}

/** A container (object or array) on the walk's stack; a path is spelled out only for a hit. */
interface Node {
  value: object;
  key: string | number;
  parent: Node | null;
}

function hit(parent: Node | null, key: string | number, char: UnstorableChar, inKey = false): UnstorableText {
  const keys = [key];
  for (let n = parent; n; n = n.parent) keys.push(n.key);
  return { path: keys.reverse().join('.'), char, inKey, reason: english(msg('issue.unstorable_reason', { char, inKey })) };
}

/**
 * The first string value (or object key) under `value` that PostgreSQL cannot store, or null.
 * Iterative: a 16 MiB body can nest millions of levels deep. Only containers go on the stack,
 * with their key as is (an index stays a number), and the path is spelled out only for a hit:
 * 100 000 objects of two strings each take ~17 ms (about what JSON.parse of them takes),
 * 100 000 ids ~0.2 ms, an 8 MB CSV ~3 ms; a stack entry per value with its path built eagerly
 * (the first NUL guard) took ~60 ms.
 */
export function findUnstorableText(value: unknown, root: string): UnstorableText | null {
  if (typeof value === 'string') {
    const char = unstorableChar(value);
    return char ? hit(null, root, char) : null;
  }
  if (value === null || typeof value !== 'object') return null;
  const stack: Node[] = [{ value, key: root, parent: null }];
  for (let node = stack.pop(); node !== undefined; node = stack.pop()) {
    const v = node.value;
    if (Array.isArray(v)) {
      for (let i = 0; i < v.length; i += 1) {
        const child: unknown = v[i];
        if (typeof child === 'string') {
          const char = unstorableChar(child);
          if (char) return hit(node, i, char);
        } else if (child !== null && typeof child === 'object') {
          stack.push({ value: child, key: i, parent: node });
        }
      }
    } else {
      for (const k in v) {
        if (!Object.hasOwn(v, k)) continue;
        const keyChar = unstorableChar(k);
        if (keyChar) return hit(node, k, keyChar, true);
        const child: unknown = (v as Record<string, unknown>)[k];
        if (typeof child === 'string') {
          const char = unstorableChar(child);
          if (char) return hit(node, k, char);
        } else if (child !== null && typeof child === 'object') {
          stack.push({ value: child, key: k, parent: node });
        }
      }
    }
  }
  return null;
}
