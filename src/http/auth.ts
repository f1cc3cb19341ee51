import type { FastifyReply, FastifyRequest } from 'fastify';
import type pg from 'pg';
import { UnauthorizedError } from '../lib/errors.js';
import { authenticate, type AuthContext } from '../tenancy/tenancy.repo.js';
import { safeEqual } from '../tenancy/tokens.js';

declare module 'fastify' {
  interface FastifyRequest {
    auth: AuthContext | null;
  }
}

function bearer(request: FastifyRequest): string | null {
  const header = request.headers.authorization;
  if (!header) return null;
  const match = /^Bearer\s+(\S+)\s*$/i.exec(header);
  return match?.[1] ?? null;
}

export function tenantAuth(pool: pg.Pool) {
  return async (request: FastifyRequest, _reply: FastifyReply): Promise<void> => {
    const token = bearer(request);
    if (!token || token.length > 200) throw new UnauthorizedError();
    const auth = await authenticate(pool, token);
    if (!auth) throw new UnauthorizedError('The bearer token is not valid.');
    request.auth = auth;
  };
}

export function adminAuth(adminToken: string) {
  return async (request: FastifyRequest, _reply: FastifyReply): Promise<void> => {
    const token = bearer(request);
    if (!token || !safeEqual(token, adminToken)) throw new UnauthorizedError('The admin bearer token is required.');
  };
}

/** The caller of a tenant route (after tenantAuth ran). */
export function caller(request: FastifyRequest): AuthContext {
  if (!request.auth) throw new UnauthorizedError();
  return request.auth;
}
