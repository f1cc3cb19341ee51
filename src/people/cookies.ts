import type { FastifyReply } from 'fastify';
import type { NewSession } from './sessions.repo.js';

export const SESSION_COOKIE = 'bh_session';
export const CSRF_COOKIE = 'bh_csrf';
export const CSRF_HEADER = 'x-csrf-token';

export interface CookieOptions {
  secure: boolean;
  maxMs: number;
}

/**
 * The session id is httpOnly (page scripts never see it); the CSRF token is readable so the
 * dashboard can echo it in X-CSRF-Token. SameSite=Lax keeps both off cross-site POSTs already;
 * the echoed token covers what Lax does not (same-site subdomains, old browsers).
 */
export function setSessionCookies(reply: FastifyReply, s: NewSession, o: CookieOptions): void {
  const base = { path: '/', sameSite: 'lax' as const, secure: o.secure, maxAge: Math.floor(o.maxMs / 1000) };
  reply.setCookie(SESSION_COOKIE, s.sessionId, { ...base, httpOnly: true });
  reply.setCookie(CSRF_COOKIE, s.csrfToken, { ...base, httpOnly: false });
}

export function clearSessionCookies(reply: FastifyReply, o: Pick<CookieOptions, 'secure'>): void {
  const base = { path: '/', sameSite: 'lax' as const, secure: o.secure };
  reply.clearCookie(SESSION_COOKIE, { ...base, httpOnly: true });
  reply.clearCookie(CSRF_COOKIE, base);
}
