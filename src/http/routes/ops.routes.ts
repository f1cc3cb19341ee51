import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod';
import type pg from 'pg';
import { errorResponses, Health, Ready } from '../../contract/index.js';
import { migrationsApplied } from '../../db/migrate.js';
import type { AppMetrics } from '../metrics.js';
import { errorBody } from '../errors.js';
import { nonJsonResponse } from '../schemas.js';

export const opsRoutes = (pool: pg.Pool, metrics: AppMetrics): FastifyPluginAsyncZod => async (app) => {
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
  }, async (_request, reply) => {
    try {
      if (!(await migrationsApplied(pool))) {
        return reply.status(503).send(errorBody('not_ready', 'Migrations are not applied yet.'));
      }
      return { status: 'ready' as const };
    } catch (err) {
      return reply.status(503).send(errorBody('not_ready', `The database is not reachable: ${(err as Error).message}`));
    }
  });

  app.get('/metrics', {
    schema: {
      tags: ['operations'],
      summary: 'Prometheus metrics',
      response: { 200: nonJsonResponse('text/plain', 'Prometheus text exposition format'), ...errorResponses },
    },
  }, async (_request, reply) => {
    const text = await metrics.registry.metrics();
    return reply.type(metrics.registry.contentType).send(text);
  });
};
