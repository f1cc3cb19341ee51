import type { FastifyReply, FastifyRequest } from 'fastify';
import type pg from 'pg';
import { AppError, UnauthorizedError } from '../lib/errors.js';
import { msg } from '../lib/messages.js';
import { CSRF_COOKIE, CSRF_HEADER, SESSION_COOKIE } from '../people/cookies.js';
import { authenticateSession, authenticateToken, type AuthContext } from '../people/identity.repo.js';
import { hashToken, safeEqual } from '../tenancy/tokens.js';
import { enforceRole } from './roles.js';

declare module 'fastify' {
  interface FastifyRequest {
    auth: AuthContext | null;
  }
}

export type { AuthContext };

function bearer(request: FastifyRequest): string | null {
  const header = request.headers.authorization;
  if (!header) return null;
  const match = /^Bearer\s+(\S+)\s*$/i.exec(header);
  return match?.[1] ?? null;
}

const SAFE_METHODS = new Set(['GET', 'HEAD', 'OPTIONS']);

export class CsrfError extends AppError {
  constructor() {
    super(403, 'csrf', msg('auth.csrf', { cookie: CSRF_COOKIE }));
  }
}

/**
 * Double submit, bound to the session: the header must equal the readable cookie AND hash to the
 * CSRF token stored with the session, so a cookie planted by a sibling subdomain does not pass.
 */
function checkCsrf(request: FastifyRequest, auth: AuthContext): void {
  const header = request.headers[CSRF_HEADER];
  const cookie = request.cookies[CSRF_COOKIE];
  if (typeof header !== 'string' || !cookie || header.length > 200 || !safeEqual(header, cookie)) throw new CsrfError();
  if (!auth.csrfHash || !hashToken(header).equals(auth.csrfHash)) throw new CsrfError();
}

/**
 * onRequest of every /api/v1 tenant route: a bearer token (scripts, the CLI) or the dashboard's
 * session cookie, CSRF for cookie-authenticated changes, then the route's declared role — all
 * before the body is read, so a refused caller costs no parsing and changes nothing.
 */
export function tenantAuth(pool: pg.Pool, opts: { sessionIdleMs: number }) {
  return async (request: FastifyRequest, reply: FastifyReply): Promise<void> => {
    if (request.routeOptions.config.access === 'public') return;
    const token = bearer(request);
    if (token !== null) {
      if (token.length > 200) throw new UnauthorizedError(msg('auth.bad_token'));
      const auth = await authenticateToken(pool, token, request.ip);
      if (!auth) throw new UnauthorizedError(msg('auth.bad_token'));
      request.auth = auth;
    } else {
      const sessionId = request.cookies[SESSION_COOKIE];
      if (!sessionId || sessionId.length > 200) throw new UnauthorizedError();
      const auth = await authenticateSession(pool, sessionId, opts.sessionIdleMs, request.ip);
      if (!auth) throw new UnauthorizedError(msg('auth.session_ended'));
      if (!SAFE_METHODS.has(request.method)) checkCsrf(request, auth);
      request.auth = auth;
    }
    await enforceRole(request, reply);
  };
}

export function adminAuth(adminToken: string) {
  return async (request: FastifyRequest, _reply: FastifyReply): Promise<void> => {
    const token = bearer(request);
    if (!token || !safeEqual(token, adminToken)) throw new UnauthorizedError(msg('auth.admin_token_required'));
  };
}

/** The caller of a tenant route (after tenantAuth ran). */
export function caller(request: FastifyRequest): AuthContext {
  if (!request.auth) throw new UnauthorizedError();
  return request.auth;
}
