import { z } from 'zod';
import { bigList, isPlainObject } from '../http/big-list.js';
import { ValidationError } from '../lib/errors.js';
import { issueMessage, msg } from '../lib/messages.js';
import { ImportContentBuilder, LoopSlices, type ImportContent } from './import-content.js';
import { CsvImportBody } from './import-csv.js';
import { checkRowCount, pickRow } from './import-rows.js';
import { Filename, LIMITS } from './leads.schemas.js';

/** One row of the JSON form, for /docs: its fields are judged by the job, row by row. */
const IMPORT_ROW_ITEM = {
  type: 'object',
  description: 'a lead: {phone, name?, email?, tags?: string[]}; other keys are ignored; each row is validated by the import job',
  additionalProperties: {},
};

/** The JSON form, for /docs (the route's schema only tells JSON from CSV; ImportJson checks it). */
export const IMPORT_JSON_DOC = {
  type: 'object',
  required: ['leads'],
  properties: {
    leads: { type: 'array', items: IMPORT_ROW_ITEM, minItems: 1, maxItems: LIMITS.importRows },
    filename: { type: 'string', minLength: 1, maxLength: LIMITS.filename },
  },
  additionalProperties: false,
};

/**
 * Rows are judged one by one by the job (per-row errors); here only their container is checked,
 * by one loop (bigList): zod's array of records took 0.35-1 s for 100 000 rows.
 */
const ImportJson = z.strictObject({
  leads: bigList<Record<string, unknown>>({
    max: LIMITS.importRows,
    item: IMPORT_ROW_ITEM,
    check: (row) => (isPlainObject(row) ? null : msg('issue.row_not_object')),
  }),
  filename: Filename.optional(),
});

export type ImportJsonBody = z.infer<typeof ImportJson>;

/** The JSON form of an import, checked: 1 to 100 000 rows that are objects, and an optional filename. */
export function readJsonImport(body: unknown): ImportJsonBody {
  const parsed = ImportJson.safeParse(body);
  if (!parsed.success) {
    const issues = parsed.error.issues.slice(0, 20).map((i) => ({ path: ['body', ...i.path.map(String)].join('.'), message: issueMessage(i) }));
    throw new ValidationError(msg('import.invalid', { issues }), issues);
  }
  checkRowCount(parsed.data.leads.length, 'body.leads');
  return parsed.data;
}

/**
 * JSON rows → staged content. Cutting 100 000 rows to their known fields and turning them into
 * JSON chunks and a hash took 250-750 ms in one piece; here it yields every few milliseconds.
 */
async function stageJsonRows(leads: readonly Record<string, unknown>[], filename: string | null): Promise<ImportContent> {
  const content = new ImportContentBuilder();
  const slices = new LoopSlices();
  for (const row of leads) {
    content.add(pickRow(row));
    if ((content.rowCount & 255) === 0) await slices.next();
  }
  return content.finish(filename);
}

export interface ImportRequest {
  content: ImportContent;
  filename: string | null;
}

/**
 * The body of POST /leads/import → its staged content and filename. A CSV body was read and
 * staged while it arrived (import-csv.ts; filename from the query or header); an object is the
 * JSON form, whose own `filename` wins over the query or header one.
 */
export async function readImportBody(body: unknown, filename: string | undefined): Promise<ImportRequest> {
  if (body instanceof CsvImportBody) return { content: body.finish(filename ?? null), filename: filename ?? null };
  if (typeof body === 'string') {
    throw new ValidationError(msg('import.wrong_body'), [{ path: 'body', message: msg('issue.expected_leads_object') }]);
  }
  const json = readJsonImport(body);
  const name = json.filename ?? filename ?? null;
  return { content: await stageJsonRows(json.leads, name), filename: name };
}
