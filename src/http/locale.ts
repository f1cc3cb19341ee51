import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import type { Locale } from '../lib/messages.js';

declare module 'fastify' {
  interface FastifyRequest {
    /** The language of this request's messages: Accept-Language, else the business's, else DEFAULT_LOCALE. */
    readonly locale: Locale;
  }
}

/** A language tag's primary subtag → ours: `he`, `he-IL` and the old `iw` are Hebrew, `en-*` English. */
function ours(tag: string): Locale | null {
  const primary = tag.trim().toLowerCase().split('-')[0];
  if (primary === 'he' || primary === 'iw') return 'he';
  if (primary === 'en') return 'en';
  return null;
}

/**
 * The language an Accept-Language header asks for, of the two we speak, or null when it names
 * neither (or none is acceptable): the highest q wins, the earlier one among equals; `q=0` means
 * "not this one". A wildcard does not choose: the business's locale does.
 */
export function negotiateLocale(header: string | undefined): Locale | null {
  if (!header) return null;
  let best: { locale: Locale; q: number } | null = null;
  // A header of a few hundred bytes is plenty; a longer one is only read that far.
  for (const part of header.slice(0, 512).split(',')) {
    const [tag = '', ...params] = part.split(';');
    const locale = ours(tag);
    if (!locale) continue;
    const qParam = params.map((s) => s.trim()).find((s) => s.toLowerCase().startsWith('q='));
    const q = qParam === undefined ? 1 : Number(qParam.slice(2));
    if (!Number.isFinite(q) || q <= 0 || q > 1) continue;
    if (!best || q > best.q) best = { locale, q };
  }
  return best?.locale ?? null;
}

/**
 * The header first, then the caller's business (known once a tenant route has authenticated),
 * then the configured default (admin routes, sign-in, webhooks, a 401).
 */
export function localeOf(request: Pick<FastifyRequest, 'headers'> & { auth?: { locale: Locale } | null }, defaultLocale: Locale): Locale {
  const header = request.headers['accept-language'];
  return negotiateLocale(typeof header === 'string' ? header : undefined) ?? request.auth?.locale ?? defaultLocale;
}

/** `request.locale`, on every request that went through routing (see `localeOf`). */
export function registerLocale(app: FastifyInstance, defaultLocale: Locale): void {
  app.decorateRequest('locale', {
    getter(this: FastifyRequest): Locale {
      return localeOf(this, defaultLocale);
    },
  });
}

/** An answer whose text follows the request's language says which, and that it varies by the header. */
export function markLanguage(reply: FastifyReply, locale: Locale): void {
  reply.header('content-language', locale);
  const vary = reply.getHeader('vary');
  const current = Array.isArray(vary) ? vary.join(', ') : vary === undefined ? '' : String(vary);
  if (!/(^|,)\s*accept-language\s*(,|$)/i.test(current)) reply.header('vary', current ? `${current}, Accept-Language` : 'Accept-Language');
}
