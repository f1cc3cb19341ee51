import type { FastifyReply, FastifyRequest, RouteOptions } from 'fastify';
import { ForbiddenError } from '../lib/errors.js';
import { ROLE_RANK, type Role } from '../people/roles.js';

/**
 * Who may call a route. Every route under /api/v1 declares it in its options,
 * `{ config: need('admin'), schema: … }`, and the one hook below enforces it: a route that
 * declares nothing does not start (assertRoleDeclared) and fails test/http/roles.test.ts.
 * `public` is for the few routes that come before a session exists (login, accept-invite).
 */
export type RouteAccess = Role | 'public';

declare module 'fastify' {
  interface FastifyContextConfig {
    access?: RouteAccess;
  }
}

export function need(access: RouteAccess): { access: RouteAccess } {
  return { access };
}

/** The access a route declared (undefined: none, a defect). */
export function accessOf(route: Pick<RouteOptions, 'config'>): RouteAccess | undefined {
  return (route.config as { access?: RouteAccess } | undefined)?.access;
}

/** onRoute hook of the tenant scope: a route without a declared role is a startup error. */
export function assertRoleDeclared(route: RouteOptions): void {
  if (accessOf(route) === undefined) {
    throw new Error(`route ${String(route.method)} ${route.url} declares no role: add config: need('agent' | 'admin' | 'owner' | 'public')`);
  }
}

export function allows(have: Role, needed: Role): boolean {
  return ROLE_RANK[have] >= ROLE_RANK[needed];
}

/** preHandler of the tenant scope, after authentication: 403 `forbidden` naming the role needed. */
export async function enforceRole(request: FastifyRequest, _reply: FastifyReply): Promise<void> {
  const access = request.routeOptions.config.access;
  if (access === 'public') return;
  const auth = request.auth;
  if (!access || !auth) throw new ForbiddenError('owner');
  if (!allows(auth.role, access)) throw new ForbiddenError(access);
}
