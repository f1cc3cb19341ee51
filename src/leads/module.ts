import type { DomainModule, ModuleDeps, ModuleRoles } from '../app/module.js';
import { PeriodicTask } from '../lib/periodic-task.js';
import { bulkRoutes } from './bulk.routes.js';
import { deleteImportedJob } from './delete-imported.job.js';
import { deleteLeadsJob } from './delete-leads.job.js';
import { importLeadsJob } from './import-leads.job.js';
import { pruneAbandonedImportRows } from './imports.repo.js';
import { importRoutes } from './imports.routes.js';
import { leadRoutes } from './leads.routes.js';
import { updateLeadsJob } from './update-leads.job.js';

/**
 * Leads, their children, imports and the bulk lead operations. In the worker role it prunes
 * the staged rows of imports that were cancelled or failed (with the engine's retention pass).
 */
export function createLeadsModule(deps: ModuleDeps): DomainModule {
  const log = deps.log.child({ part: 'leads' });
  let retention: PeriodicTask | null = null;
  return {
    name: 'leads',
    jobs: [importLeadsJob, deleteLeadsJob, updateLeadsJob, deleteImportedJob],
    routes: async (app) => {
      await app.register(leadRoutes(deps.pool));
      await app.register(importRoutes(deps.pool, deps.accept));
      await app.register(bulkRoutes(deps.pool, deps.accept));
    },
    async start(roles: ModuleRoles) {
      if (!roles.worker || retention) return;
      retention = new PeriodicTask({
        name: 'import rows retention',
        everyMs: deps.config.jobRetentionEveryMs,
        log,
        run: async () => {
          const rows = await pruneAbandonedImportRows(deps.pool);
          if (rows > 0) log.info({ prunedImportRows: rows }, 'retention');
        },
      });
      retention.start();
    },
    async stop(opts) {
      await retention?.stop(opts);
    },
  };
}
