import type { FastifyReply, FastifyRequest } from 'fastify';
import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod';
import type pg from 'pg';
import { errorResponses, Health, Ready } from '../../contract/index.js';
import { migrationsApplied } from '../../db/migrate.js';
import { AppError, newErrorId } from '../../lib/errors.js';
import { msg } from '../../lib/messages.js';
import { safeEqual } from '../../tenancy/tokens.js';
import type { AppMetrics } from '../metrics.js';
import { nonJsonResponse } from '../schemas.js';

/** Optional tokens that close the operator's endpoints (README "Operations", Security); null = open. */
export interface OpsAccess {
  metricsToken: string | null;
  docsToken: string | null;
}

/** The token a request presents: `Authorization: Bearer T`, or `Basic` with T as the password. */
function presentedToken(request: FastifyRequest, basic: boolean): string | null {
  const header = request.headers.authorization ?? '';
  const bearer = /^Bearer\s+(\S+)\s*$/i.exec(header);
  if (bearer) return bearer[1] ?? null;
  const credentials = basic ? /^Basic\s+([A-Za-z0-9+/=]+)\s*$/i.exec(header)?.[1] : undefined;
  if (!credentials) return null;
  const decoded = Buffer.from(credentials, 'base64').toString('utf8');
  const colon = decoded.indexOf(':');
  return colon < 0 ? null : decoded.slice(colon + 1);
}

/**
 * An onRequest hook that lets through only requests presenting `token`. `/metrics` takes a bearer
 * (what Prometheus' `authorization` setting sends). `/docs` also takes HTTP Basic with the token as
 * password and any user name: a browser asks for it once and sends it again with the page's
 * fetch of /docs/json, which a bearer header or a `?token=` in the page URL could not do.
 */
export function requireOpsToken(token: string, what: 'metrics' | 'API docs', opts: { basic: boolean }) {
  const challenge = opts.basic ? { 'www-authenticate': `Basic realm="Bulkhead ${what}", charset="UTF-8"` } : undefined;
  return async (request: FastifyRequest, _reply: FastifyReply): Promise<void> => {
    const presented = presentedToken(request, opts.basic);
    if (presented === null || !safeEqual(presented, token)) {
      throw new AppError(401, 'unauthorized', msg('auth.ops_token_required', { what, basic: opts.basic }), undefined, challenge);
    }
  };
}

export const opsRoutes = (pool: pg.Pool, metrics: AppMetrics, access: OpsAccess): FastifyPluginAsyncZod => async (app) => {
  app.get('/healthz', {
    schema: { tags: ['operations'], summary: 'The process is up', response: { 200: Health, ...errorResponses } },
  }, async () => ({ status: 'ok' as const }));

  app.get('/readyz', {
    schema: {
      tags: ['operations'],
      summary: 'The database is reachable and migrated',
      description: '503 `not_ready` while it is not.',
      response: { 200: Ready, ...errorResponses },
    },
  }, async (request) => {
    let applied: boolean;
    try {
      applied = await migrationsApplied(pool);
    } catch (err) {
      // The driver's text (host, port, role, database names) is for the operator's log only.
      const errorId = newErrorId();
      request.log.warn({ err, errorId }, 'readiness check failed');
      throw new AppError(503, 'not_ready', msg('ops.database_unreachable', { errorId }), { error_id: errorId });
    }
    if (!applied) throw new AppError(503, 'not_ready', msg('ops.migrations_pending'));
    return { status: 'ready' as const };
  });

  app.get('/metrics', {
    ...(access.metricsToken === null ? {} : { onRequest: requireOpsToken(access.metricsToken, 'metrics', { basic: false }) }),
    schema: {
      tags: ['operations'],
      summary: 'Prometheus metrics',
      description: 'With METRICS_TOKEN set, only for `Authorization: Bearer <METRICS_TOKEN>` (else 401).',
      response: { 200: nonJsonResponse('text/plain', 'Prometheus text exposition format'), ...errorResponses },
    },
  }, async (_request, reply) => {
    const text = await metrics.registry.metrics();
    return reply.type(metrics.registry.contentType).send(text);
  });
};
