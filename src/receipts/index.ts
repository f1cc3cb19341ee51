import type { JobHandlerDefinition } from '../jobs/types.js';
import { deleteReceiptsJob } from './delete-receipts.job.js';

export { receiptRoutes } from './receipts.routes.js';

export const receiptJobHandlers: JobHandlerDefinition[] = [deleteReceiptsJob];
