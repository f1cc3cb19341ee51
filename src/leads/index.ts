import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod';
import type pg from 'pg';
import type { AcceptDeps } from '../gate/accept.js';
import type { JobHandlerDefinition } from '../jobs/types.js';
import { bulkRoutes } from './bulk.routes.js';
import { deleteImportedJob } from './delete-imported.job.js';
import { deleteLeadsJob } from './delete-leads.job.js';
import { importLeadsJob } from './import-leads.job.js';
import { importRoutes } from './imports.routes.js';
import { leadRoutes } from './leads.routes.js';
import { updateLeadsJob } from './update-leads.job.js';

export { pruneAbandonedImportRows } from './imports.repo.js';

export const leadJobHandlers: JobHandlerDefinition[] = [importLeadsJob, deleteLeadsJob, updateLeadsJob, deleteImportedJob];

/** Leads, their children, imports and the bulk lead operations. */
export const leadsPlugin = (deps: { pool: pg.Pool; accept: AcceptDeps }): FastifyPluginAsyncZod => async (app) => {
  await app.register(leadRoutes(deps.pool));
  await app.register(importRoutes(deps.pool, deps.accept));
  await app.register(bulkRoutes(deps.pool, deps.accept));
};
