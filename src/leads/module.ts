import type { DomainModule, ModuleDeps, ModuleRoles } from '../app/module.js';
import { PeriodicTask } from '../lib/periodic-task.js';
import { bulkRoutes } from './bulk.routes.js';
import { deleteImportedJob } from './delete-imported.job.js';
import { deleteLeadsJob } from './delete-leads.job.js';
import { importLeadsJob } from './import-leads.job.js';
import { pruneAbandonedImportRows } from './imports.repo.js';
import { importRoutes } from './imports.routes.js';
import { leadRoutes } from './leads.routes.js';
import { restoreLeadsJob } from './restore-leads.job.js';
import { purgeTrash, TRASH_PURGE_LIMIT } from './trash.repo.js';
import { trashRoutes } from './trash.routes.js';
import { updateLeadsJob } from './update-leads.job.js';

/** Rounds of TRASH_PURGE_LIMIT rows per retention pass at most, as many as the engine's own (app/process.ts). */
const PURGE_ROUNDS = 100;

/**
 * Leads, their children, imports, the bulk lead operations and the trash they fill. In the worker
 * role, with the engine's retention pass, it prunes the staged rows of imports that were cancelled
 * or failed and purges trash older than TRASH_RETENTION_DAYS.
 */
export function createLeadsModule(deps: ModuleDeps): DomainModule {
  const log = deps.log.child({ part: 'leads' });
  let retention: PeriodicTask | null = null;
  return {
    name: 'leads',
    jobs: [importLeadsJob, deleteLeadsJob, updateLeadsJob, deleteImportedJob, restoreLeadsJob],
    routes: async (app) => {
      await app.register(leadRoutes(deps.pool));
      await app.register(importRoutes(deps.pool, deps.accept));
      await app.register(bulkRoutes(deps.pool, deps.accept));
      await app.register(trashRoutes(deps.pool, deps.accept));
    },
    async start(roles: ModuleRoles) {
      if (!roles.worker || retention) return;
      retention = new PeriodicTask({
        name: 'leads retention',
        everyMs: deps.config.jobRetentionEveryMs,
        log,
        run: async (signal) => {
          const rows = await pruneAbandonedImportRows(deps.pool);
          // A pass goes on while rounds come back full, so a day of large deletes cannot outgrow it.
          let trashed = 0;
          for (let round = 0; round < PURGE_ROUNDS && !signal.aborted; round++) {
            const n = await purgeTrash(deps.pool, deps.config.people.trashRetentionDays);
            trashed += n;
            if (n < TRASH_PURGE_LIMIT) break;
          }
          if (rows + trashed > 0) log.info({ prunedImportRows: rows, purgedTrashLeads: trashed }, 'retention');
        },
      });
      retention.start();
    },
    async stop(opts) {
      await retention?.stop(opts);
    },
  };
}
