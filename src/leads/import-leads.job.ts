import { z } from 'zod';
import { defineJob } from '../jobs/types.js';
import { PermanentError } from '../lib/errors.js';
import { checkpointNumber } from '../jobs/batches.js';
import { planImportBatch } from './import-rows.js';
import { addImportCounts, findImportOfJob, insertImportedLeads, takeImportRows } from './imports.repo.js';

/** Stored errors are capped so an import of 100 000 bad rows stays a small row; counts stay exact. */
const IMPORT_ERROR_CAP = 1000;

/** The country for local numbers is captured at request time: the worker never reads a request. */
const ImportParams = z.looseObject({ filename: z.string().nullable().optional(), row_count: z.number().int().nonnegative(), default_country: z.string().length(2) });

/**
 * One batch of an import: take the next rows after the checkpoint (last row_no done), validate
 * them, insert the valid ones as leads, add the counts to the import. On the job, succeeded =
 * leads inserted and failed = invalid + duplicate rows, so processed = rows read.
 */
export const importLeadsJob = defineJob({
  type: 'import_leads',
  params: ImportParams,
  batch: async ({ tx, job, params, checkpoint, batchSize }) => {
    const imp = await findImportOfJob(tx, job.business_id, job.id);
    if (!imp) throw new PermanentError(`no import belongs to job ${job.id}`);

    const after = checkpointNumber(checkpoint, 'last_row_no');
    const rows = await takeImportRows(tx, job.business_id, imp.id, after, batchSize);
    const plan = planImportBatch(rows, params.default_country);
    const inserted = await insertImportedLeads(tx, job.business_id, imp.id, plan.leads);
    const duplicates = plan.leads.length - inserted + plan.duplicatesInBatch;
    await addImportCounts(tx, job.business_id, imp.id, {
      inserted,
      duplicates,
      invalid: plan.errors.length,
      errors: plan.errors.slice(0, Math.max(0, IMPORT_ERROR_CAP - imp.error_count)),
    });
    return {
      processed: rows.length,
      succeeded: inserted,
      failed: plan.errors.length + duplicates,
      checkpoint: { last_row_no: rows.at(-1)?.row_no ?? after },
      done: rows.length < batchSize,
      result: { import_id: imp.id },
    };
  },
});
