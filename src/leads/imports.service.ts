import { createHash } from 'node:crypto';
import type { Queryable } from '../db/pool.js';
import { acceptJob, type AcceptDeps, type Accepted } from '../gate/accept.js';
import { NotFoundError } from '../lib/errors.js';
import type { Idempotency } from '../gate/accept.js';
import type { ImportChunk, RawImportRow } from './import-rows.js';
import { getImport, insertImport, insertImportChunks, type ImportRow } from './imports.repo.js';
import type { LeadCaller } from './leads.service.js';
import type { importLeadsJob } from './import-leads.job.js';
import type { JobParams } from '../jobs/types.js';

export interface ImportRequest {
  rows: RawImportRow[];
  filename: string | null;
}

/** Rows per staged chunk: a batch of 50 re-reads at most one ~40 KB chunk. */
const IMPORT_CHUNK_ROWS = 500;

export interface ImportContent {
  chunks: ImportChunk[];
  hash: string;
}

/**
 * What identifies an import's content (a hash of its rows), and the rows as the JSON chunks the
 * staging INSERT sends. Rows are built with their keys in one fixed order (pickRow,
 * parseCsvImport), so JSON.stringify is canonical here, and ~8x cheaper than canonicalJson.
 */
export function importContent(req: ImportRequest): ImportContent {
  const hash = createHash('sha256');
  const chunks: ImportChunk[] = [];
  for (let i = 0; i < req.rows.length; i += IMPORT_CHUNK_ROWS) {
    const rows = req.rows.slice(i, i + IMPORT_CHUNK_ROWS);
    const json = JSON.stringify(rows);
    chunks.push({ firstRowNo: i + 1, rowCount: rows.length, json });
    hash.update(json);
  }
  return { chunks, hash: hash.update('\0').update(req.filename ?? '').digest('hex') };
}

/**
 * Stores the raw rows and the import beside its job, in the job's own transaction, and answers
 * 202 at once; the `import_leads` job validates and inserts them in batches.
 */
export async function acceptImport(
  deps: AcceptDeps,
  who: LeadCaller,
  req: ImportRequest,
  content: ImportContent,
  idempotency: Idempotency | undefined,
): Promise<Accepted> {
  // Dedup on the content, not on params: two different files with the same name and size are
  // two imports, while the same file uploaded twice in a few seconds is one.
  return acceptJob(deps, {
    caller: who,
    op: 'import_leads',
    params: { filename: req.filename, row_count: req.rows.length, default_country: who.defaultCountry } satisfies JobParams<typeof importLeadsJob>,
    identity: { content: content.hash },
    total: req.rows.length,
    idempotency,
    prepare: async (tx, job) => {
      const importId = await insertImport(tx, who.businessId, {
        jobId: job.id,
        filename: req.filename,
        total: req.rows.length,
        createdBy: who.userId,
      });
      await insertImportChunks(tx, importId, content.chunks);
      return { import_id: importId };
    },
  });
}

export async function findImport(db: Queryable, businessId: number, id: number): Promise<ImportRow> {
  const imp = await getImport(db, businessId, id);
  if (!imp) throw new NotFoundError('Import');
  return imp;
}

export function importView(i: ImportRow) {
  return {
    id: i.id,
    job_id: i.job_id,
    filename: i.filename,
    status: i.status,
    total: i.total,
    inserted: i.inserted,
    duplicates: i.duplicates,
    invalid: i.invalid,
    errors: i.errors,
    created_at: i.created_at.toISOString(),
  };
}
