import type { Queryable } from '../db/pool.js';
import { abandonedJobSql, jobJoin, jobSummaryOf } from '../jobs/domain-api.js';
import { auditInsertSql, type AuditEntry } from '../people/audit.repo.js';
import type { ImportChunk, ImportError, RawImportRow, ValidLeadRow } from './import-rows.js';

export interface ImportRow {
  id: number;
  job_id: number | null;
  filename: string | null;
  status: string;
  total: number;
  inserted: number;
  duplicates: number;
  invalid: number;
  errors: ImportError[];
  created_by: number | null;
  created_at: Date;
}

/**
 * The import, its first group of chunks and the job's audit entry (when given) in ONE statement of
 * data-modifying CTEs: the accept transaction holds its pooled connection (and the gate's lock)
 * for one round trip here instead of three. Measured on the 1-row import of `bench gate-http`
 * (test-runner PostgreSQL, 2 busy cores): 9 → 7 statements per request. The chunks beyond the
 * first group follow in statements of their own (insertChunkGroup), for the reason given there.
 */
export async function insertImportWithChunks(
  db: Queryable,
  businessId: number,
  i: { jobId: number; filename: string | null; total: number; createdBy: number },
  chunks: readonly ImportChunk[],
  audit: AuditEntry | null,
): Promise<number> {
  const [first = [], ...rest] = [...insertGroups(chunks)];
  const values: unknown[] = [businessId, i.jobId, i.filename, i.total, i.createdBy];
  const ctes = [
    `imp AS (
       INSERT INTO imports (business_id, job_id, filename, total, created_by)
       VALUES ($1, $2, $3, $4, $5) RETURNING id)`,
  ];
  if (first.length > 0) {
    const tuples = first.map((c) => {
      values.push(c.firstRowNo, c.rowCount, c.json);
      const p = values.length;
      return `($${p - 2}::int, $${p - 1}::int, $${p}::text)`;
    });
    ctes.push(`staged AS (
       INSERT INTO import_chunks (import_id, first_row_no, row_count, rows)
       SELECT imp.id, c.first_row_no, c.row_count, c.rows
         FROM imp, (VALUES ${tuples.join(', ')}) AS c(first_row_no, row_count, rows))`);
  }
  if (audit) {
    const insert = auditInsertSql(audit, values.length + 1);
    values.push(...insert.values);
    ctes.push(`audited AS (${insert.text})`);
  }
  // A data-modifying CTE runs to completion whether or not the final SELECT reads it. The usual
  // shapes (up to PREPARED_CHUNKS chunks) are named statements, prepared once per connection:
  // measured ~330 → ~170 µs a round trip on one connection; a larger first group is sent unnamed,
  // so a connection keeps a handful of prepared statements, not one per group size.
  const text = `WITH ${ctes.join(', ')} SELECT id FROM imp`;
  const { rows } = await db.query<{ id: number }>(
    first.length <= PREPARED_CHUNKS
      ? { name: `bulkhead_import_accept_${first.length}${audit ? '_audited' : ''}`, text, values }
      : { text, values },
  );
  const row = rows[0];
  if (!row) throw new Error('INSERT … RETURNING gave no row');
  for (const group of rest) await insertChunkGroup(db, row.id, group);
  return row.id;
}

/**
 * An import's chunks go in multi-row INSERTs, each chunk its own text parameter. Measured for
 * 100 000 rows (8 MB): one jsonb row per lead ~1.1 s; the chunks as a text[] array parameter
 * ~1.4 s (array-literal escaping of every quote); as separate parameters ~80 ms. But pg encodes a
 * statement's parameters in one synchronous call: all 8 MB in one INSERT held the event loop for
 * 0.2-0.6 s on the (busy, 2-core) test machine, a statement of ~256 KiB takes ~2 ms, and the
 * process serves other requests while PostgreSQL stores each one.
 */
async function insertChunkGroup(db: Queryable, importId: number, group: readonly ImportChunk[]): Promise<void> {
  const values: unknown[] = [importId];
  const tuples = group.map((c) => {
    values.push(c.firstRowNo, c.rowCount, c.json);
    const p = values.length;
    return `($1, $${p - 2}, $${p - 1}, $${p})`;
  });
  await db.query(`INSERT INTO import_chunks (import_id, first_row_no, row_count, rows) VALUES ${tuples.join(', ')}`, values);
}

/** Imports of up to this many chunks (2 000 rows, IMPORT_CHUNK_ROWS a chunk) are accepted by a named statement. */
const PREPARED_CHUNKS = 4;
/** JSON text per INSERT (in characters; about the bytes sent). */
const MAX_TEXT_PER_INSERT = 256 * 1024;
/** Keeps one INSERT well under PostgreSQL's 65 535 bind parameters. */
const MAX_CHUNKS_PER_INSERT = 1000;

/** Consecutive chunks, as many per group as fit the limits above (at least one). */
function* insertGroups(chunks: readonly ImportChunk[]): Generator<ImportChunk[]> {
  let group: ImportChunk[] = [];
  let text = 0;
  for (const chunk of chunks) {
    if (group.length > 0 && (text + chunk.json.length > MAX_TEXT_PER_INSERT || group.length === MAX_CHUNKS_PER_INSERT)) {
      yield group;
      group = [];
      text = 0;
    }
    group.push(chunk);
    text += chunk.json.length;
  }
  if (group.length > 0) yield group;
}

export async function findImportOfJob(
  db: Queryable,
  businessId: number,
  jobId: number,
): Promise<{ id: number; error_count: number } | null> {
  const { rows } = await db.query<{ id: number; error_count: number }>(
    `SELECT id, jsonb_array_length(errors) AS error_count FROM imports WHERE business_id = $1 AND job_id = $2`,
    [businessId, jobId],
  );
  return rows[0] ?? null;
}

/**
 * The next `limit` rows after `afterRowNo`, read from the chunks that hold them; chunks wholly
 * consumed by this batch are deleted in the batch transaction (a batch that rolls back puts them
 * back), so staging space shrinks as the import goes.
 */
export async function takeImportRows(
  db: Queryable,
  businessId: number,
  importId: number,
  afterRowNo: number,
  limit: number,
): Promise<{ row_no: number; data: RawImportRow }[]> {
  const { rows: chunks } = await db.query<{ first_row_no: number; rows: string }>(
    `SELECT c.first_row_no, c.rows
       FROM import_chunks c JOIN imports i ON i.id = c.import_id
      WHERE i.business_id = $1 AND c.import_id = $2
        AND c.first_row_no + c.row_count > $3 AND c.first_row_no <= $3 + $4
      ORDER BY c.first_row_no`,
    [businessId, importId, afterRowNo, limit],
  );
  const taken: { row_no: number; data: RawImportRow }[] = [];
  for (const chunk of chunks) {
    const data = JSON.parse(chunk.rows) as RawImportRow[];
    data.forEach((row, i) => {
      const rowNo = chunk.first_row_no + i;
      if (rowNo > afterRowNo && rowNo <= afterRowNo + limit) taken.push({ row_no: rowNo, data: row });
    });
  }
  const last = taken.at(-1)?.row_no;
  if (last !== undefined) {
    await db.query(`DELETE FROM import_chunks WHERE import_id = $1 AND first_row_no + row_count - 1 <= $2`, [importId, last]);
  }
  return taken;
}

/**
 * Inserts the valid rows as leads; a phone the business already has is skipped by the unique
 * index, which stays right even when another import or a manual create races this batch.
 * Returns how many leads were actually created.
 */
export async function insertImportedLeads(db: Queryable, businessId: number, importId: number, leads: ValidLeadRow[]): Promise<number> {
  if (leads.length === 0) return 0;
  const { rowCount } = await db.query(
    `INSERT INTO leads (business_id, name, phone, email, tags, source, import_id)
     SELECT $1, r.value->>'name', r.value->>'phone', r.value->>'email',
            ARRAY(SELECT json_array_elements_text(r.value->'tags')), 'import', $2
       FROM json_array_elements($3::json) WITH ORDINALITY AS r(value, ord)
      ORDER BY r.ord
     ON CONFLICT (business_id, phone) DO NOTHING`,
    [businessId, importId, JSON.stringify(leads)],
  );
  return rowCount ?? 0;
}

export async function addImportCounts(
  db: Queryable,
  businessId: number,
  importId: number,
  c: { inserted: number; duplicates: number; invalid: number; errors: ImportError[] },
): Promise<void> {
  await db.query(
    `UPDATE imports
        SET inserted = inserted + $3, duplicates = duplicates + $4, invalid = invalid + $5,
            errors = errors || $6::jsonb
      WHERE business_id = $1 AND id = $2`,
    [businessId, importId, c.inserted, c.duplicates, c.invalid, JSON.stringify(c.errors)],
  );
}

/** The import with its job's status: the job is the one source of truth for progress. */
export async function getImport(db: Queryable, businessId: number, id: number): Promise<ImportRow | null> {
  const { rows } = await db.query<ImportRow>(
    `SELECT id, job_id, filename, status, total, inserted, duplicates, invalid, errors, created_by, created_at
       FROM imports
      WHERE business_id = $1 AND id = $2`,
    [businessId, id],
  );
  const imp = rows[0];
  if (!imp) return null;
  const job = imp.job_id === null ? null : await jobSummaryOf(db, businessId, imp.job_id);
  return job ? { ...imp, status: job.status } : imp;
}

export async function importExists(db: Queryable, businessId: number, id: number): Promise<boolean> {
  const { rows } = await db.query(`SELECT 1 FROM imports WHERE business_id = $1 AND id = $2`, [businessId, id]);
  return rows.length > 0;
}

/**
 * Staged rows of imports whose job ended without consuming them (cancelled or failed) are never
 * read again; the worker's maintenance sweep drops them. Bounded per call.
 */
export async function pruneAbandonedImportRows(db: Queryable, limit = 1_000): Promise<number> {
  const { rowCount } = await db.query(
    `DELETE FROM import_chunks WHERE (import_id, first_row_no) IN (
       SELECT c.import_id, c.first_row_no FROM import_chunks c
         JOIN imports i ON i.id = c.import_id
         ${jobJoin('j', 'i.job_id')}
        WHERE ${abandonedJobSql('j')}
        LIMIT $1)`,
    [limit],
  );
  return rowCount ?? 0;
}
