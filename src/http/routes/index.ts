import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod';
import type pg from 'pg';
import type { AcceptDeps } from '../../gate/accept.js';
import { leadsPlugin } from '../../leads/index.js';
import type { Logger } from '../../lib/logger.js';
import { receiptRoutes } from '../../receipts/index.js';

export interface DomainDeps {
  pool: pg.Pool;
  accept: AcceptDeps;
  log: Logger;
}

/** Every domain's tenant routes (all behind bearer auth, under /api/v1). */
export const domainRoutes = (deps: DomainDeps): FastifyPluginAsyncZod => async (app) => {
  await app.register(leadsPlugin(deps));
  await app.register(receiptRoutes(deps.pool, deps.accept));
};
