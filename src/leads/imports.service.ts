import type { Queryable } from '../db/pool.js';
import { acceptJob, type AcceptDeps, type Accepted } from '../gate/accept.js';
import { NotFoundError } from '../lib/errors.js';
import { isMessageKey, render, type Locale } from '../lib/messages.js';
import type { Idempotency } from '../gate/accept.js';
import type { ImportRequest } from './import-body.js';
import type { ImportError } from './import-rows.js';
import { getImport, insertImportWithChunks, type ImportRow } from './imports.repo.js';
import type { LeadCaller } from './leads.service.js';
import type { importLeadsJob } from './import-leads.job.js';
import type { JobParams } from '../jobs/types.js';

/**
 * Stores the raw rows and the import beside its job, in the job's own transaction, and answers
 * 202 at once; the `import_leads` job validates and inserts them in batches.
 */
export async function acceptImport(
  deps: AcceptDeps,
  who: LeadCaller,
  req: ImportRequest,
  idempotency: Idempotency | undefined,
): Promise<Accepted> {
  // Dedup on the content, not on params: two different files with the same name and size are
  // two imports, while the same file uploaded twice in a few seconds is one.
  return acceptJob(deps, {
    caller: who,
    op: 'import_leads',
    params: { filename: req.filename, row_count: req.content.rowCount, default_country: who.defaultCountry } satisfies JobParams<typeof importLeadsJob>,
    identity: { content: req.content.hash },
    total: req.content.rowCount,
    idempotency,
    prepare: async (tx, job, takeAudit) => {
      const importId = await insertImportWithChunks(tx, who.businessId, {
        jobId: job.id,
        filename: req.filename,
        total: req.content.rowCount,
        createdBy: who.userId,
      }, req.content.chunks, takeAudit());
      return { import_id: importId };
    },
  });
}

export async function findImport(db: Queryable, businessId: number, id: number): Promise<ImportRow> {
  const imp = await getImport(db, businessId, id);
  if (!imp) throw new NotFoundError('Import');
  return imp;
}

/** A row's reason in the reader's language; an import made before reasons had keys keeps its English. */
function rowReason(e: ImportError, locale: Locale): string {
  return isMessageKey(e.key) ? render({ key: e.key, params: e.params }, locale) : e.message;
}

export function importView(i: ImportRow, locale: Locale) {
  return {
    id: i.id,
    job_id: i.job_id,
    filename: i.filename,
    status: i.status,
    total: i.total,
    inserted: i.inserted,
    duplicates: i.duplicates,
    invalid: i.invalid,
    errors: i.errors.map((e) => ({ row: e.row, message: rowReason(e, locale) })),
    created_at: i.created_at.toISOString(),
  };
}
