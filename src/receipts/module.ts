import type { DomainModule, ModuleDeps } from '../app/module.js';
import { deleteReceiptsJob } from './delete-receipts.job.js';
import { receiptRoutes } from './receipts.routes.js';

/** Receipts: typed in by hand, listed, deleted all at once by a gated job. */
export function createReceiptsModule(deps: ModuleDeps): DomainModule {
  return {
    name: 'receipts',
    jobs: [deleteReceiptsJob],
    routes: receiptRoutes(deps.pool, deps.accept),
  };
}
