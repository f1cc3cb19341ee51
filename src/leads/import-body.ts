import { z } from 'zod';
import { ValidationError } from '../lib/errors.js';
import { checkRowCount, parseCsvImport, pickRow } from './import-rows.js';
import type { ImportRequest } from './imports.service.js';
import { Filename, LIMITS } from './leads.schemas.js';

/** Rows are judged one by one by the job (per-row errors); here only their container is checked. */
const ImportJson = z.strictObject({
  leads: z.array(z.record(z.string(), z.unknown())).max(LIMITS.importRows),
  filename: Filename.optional(),
});

function parseJsonImport(body: unknown): z.infer<typeof ImportJson> {
  const parsed = ImportJson.safeParse(body);
  if (parsed.success) return parsed.data;
  // 100 000 bad rows would be 100 000 issues; the first few say what is wrong.
  const issues = parsed.error.issues.slice(0, 20).map((i) => ({ path: ['body', ...i.path.map(String)].join('.'), message: i.message }));
  const summary = issues.slice(0, 3).map((i) => `${i.path}: ${i.message}`).join('; ');
  throw new ValidationError(`The import is invalid: ${summary}.`, issues);
}

/**
 * The body of POST /leads/import → rows and filename. A string is CSV (the app parses text/csv
 * as text); an object is the JSON form, whose own `filename` wins over the query or header one.
 */
export function readImportBody(body: unknown, contentType: string | undefined, filename: string | undefined): ImportRequest {
  if (typeof body === 'string') {
    if (!/^text\//i.test(contentType ?? '')) {
      throw new ValidationError('Send a CSV import as text/csv, or JSON as {"leads": [...]}.', [
        { path: 'body', message: 'expected an object with "leads"' },
      ]);
    }
    return { rows: parseCsvImport(body), filename: filename ?? null };
  }
  const json = parseJsonImport(body);
  checkRowCount(json.leads.length, 'body.leads');
  return { rows: json.leads.map(pickRow), filename: json.filename ?? filename ?? null };
}
