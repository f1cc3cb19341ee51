/**
 * The U+0000 check of the WhatsApp webhook (src/broadcasts/webhooks.routes.ts). The API's guard is
 * text-guard.ts, which also refuses lone surrogates; once the webhook calls findUnstorableText
 * from there, this file can go.
 */

/**
 * The path (`body.entry.0.id`) of the first string value holding U+0000, or null. Iterative:
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
