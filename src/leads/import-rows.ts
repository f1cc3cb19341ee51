import { ValidationError } from '../lib/errors.js';
import { english, issueMessage, msg, type Message, type RowField } from '../lib/messages.js';
import { unstorableChar } from '../lib/storable-text.js';
import { Email, LIMITS, Name, RawPhone, Tags, uniqueTags } from './leads.schemas.js';
import { normalizePhone } from './phone.js';

/**
 * An import row as staged in import_chunks, before validation: only the known fields, with
 * whatever values the file had. Validation happens in the job, row by row, so one bad row
 * becomes one entry in the import's errors instead of refusing the whole file.
 */
export interface RawImportRow {
  phone?: unknown;
  name?: unknown;
  email?: unknown;
  tags?: unknown;
}

/** A slice of an import's rows as staged in import_chunks: rows `firstRowNo`… as one JSON text. */
export interface ImportChunk {
  firstRowNo: number;
  rowCount: number;
  json: string;
}

export interface ValidLeadRow {
  phone: string;
  name: string | null;
  email: string | null;
  tags: string[];
}

/**
 * A bad row as stored in imports.errors: its reason as a catalogue message (`key`, `params`),
 * rendered in the reader's language when the import is read, and in English (`message`), which
 * is all that imports made before the catalogue have.
 */
export interface ImportError {
  /** 1-based number of the data row (the CSV header is not counted). */
  row: number;
  message: string;
  key?: string;
  params?: unknown;
}

export type RowVerdict = { ok: true; lead: ValidLeadRow } | { ok: false; reason: Message };

const FIELDS = ['phone', 'name', 'email', 'tags'] as const;

/** Keeps the known fields of a JSON row; extra fields are not stored. */
export function pickRow(row: Record<string, unknown>): RawImportRow {
  const picked: RawImportRow = {};
  for (const f of FIELDS) if (row[f] !== undefined) picked[f] = shallow(row[f]);
  return picked;
}

const isScalar = (v: unknown): boolean => v === null || typeof v !== 'object';

/**
 * A cell value cut to what validation can tell apart: scalars, and arrays of scalars (tags).
 * Anything deeper becomes an empty object or array, which fails validation with the same message
 * as the original; kept whole, a value nested 100 000 levels deep made JSON.stringify overflow
 * the stack while staging the rows (a 500).
 */
function shallow(v: unknown): unknown {
  if (isScalar(v)) return v;
  if (!Array.isArray(v)) return {};
  return v.map((e: unknown) => (isScalar(e) ? e : Array.isArray(e) ? [] : {}));
}

/** A tags cell: "vip; spring|west" → ["vip", "spring", "west"]. */
export function splitTagCell(cell: string): string[] {
  return cell.split(/[;|]/).map((t) => t.trim()).filter((t) => t.length > 0);
}

export function checkRowCount(count: number, path: string): void {
  if (count === 0) {
    throw new ValidationError(msg('import.no_rows'), [{ path, message: msg('issue.rows_required') }]);
  }
  if (count > LIMITS.importRows) {
    throw new ValidationError(msg('import.too_many_rows', { max: LIMITS.importRows, count }), [
      { path, message: msg('issue.rows_at_most', { max: LIMITS.importRows }) },
    ]);
  }
}

const absent = (v: unknown): boolean => v === undefined || v === null || v === '';

const bad = (field: RowField, reason: Message): RowVerdict => ({ ok: false, reason: msg('import.row', { field, reason }) });

function fieldError(field: RowField, result: { success: false; error: { issues: { code?: unknown; message: string }[] } }): RowVerdict {
  const issue = result.error.issues[0];
  return bad(field, issue ? issueMessage(issue) : msg('issue.invalid'));
}

/**
 * The first field of the row holding text PostgreSQL cannot store (U+0000, a lone surrogate),
 * as a row error. Checked before the field rules: those echo values (`phone: "…" is not valid`)
 * into the import's errors, which are jsonb and would refuse the same text.
 */
function unstorableField(data: RawImportRow): RowVerdict | null {
  for (const field of FIELDS) {
    const v = data[field];
    const texts = typeof v === 'string' ? [v] : Array.isArray(v) ? v.filter((t): t is string => typeof t === 'string') : [];
    for (const text of texts) {
      const char = unstorableChar(text);
      if (char) return bad(field, msg('issue.unstorable_cell', { char }));
    }
  }
  return null;
}

/** The same rules as POST /leads, applied to one import row. Pure. */
export function validateImportRow(data: RawImportRow, defaultCountry: string): RowVerdict {
  const unstorable = unstorableField(data);
  if (unstorable) return unstorable;
  if (absent(data.phone)) return bad('phone', msg('issue.required'));
  const rawPhone = RawPhone.safeParse(typeof data.phone === 'number' ? String(data.phone) : data.phone);
  if (!rawPhone.success) return fieldError('phone', rawPhone);
  const phone = normalizePhone(rawPhone.data, defaultCountry);
  if (!phone) return bad('phone', msg('issue.phone_not_valid', { raw: rawPhone.data }));

  let name: string | null = null;
  if (!absent(data.name)) {
    const r = Name.safeParse(data.name);
    if (!r.success) return fieldError('name', r);
    name = r.data;
  }
  let email: string | null = null;
  if (!absent(data.email)) {
    const r = Email.safeParse(typeof data.email === 'string' ? data.email.trim() : data.email);
    if (!r.success) return fieldError('email', r);
    email = r.data;
  }
  let tags: string[] = [];
  if (!absent(data.tags)) {
    const r = Tags.safeParse(typeof data.tags === 'string' ? splitTagCell(data.tags) : data.tags);
    if (!r.success) return fieldError('tags', r);
    tags = uniqueTags(r.data);
  }
  return { ok: true, lead: { phone, name, email, tags } };
}

export interface ImportBatchPlan {
  /** Valid rows, each phone once (the earliest row wins). */
  leads: ValidLeadRow[];
  errors: ImportError[];
  /** Valid rows whose phone an earlier row of this batch already has. */
  duplicatesInBatch: number;
}

/**
 * Validates one batch of rows. A phone repeated inside the batch is a duplicate here; one
 * repeated from an earlier batch, or already a lead, is caught by the unique index on insert.
 */
export function planImportBatch(rows: readonly { row_no: number; data: RawImportRow }[], defaultCountry: string): ImportBatchPlan {
  const leads: ValidLeadRow[] = [];
  const errors: ImportError[] = [];
  const phones = new Set<string>();
  let duplicatesInBatch = 0;
  for (const { row_no, data } of rows) {
    const verdict = validateImportRow(data, defaultCountry);
    if (!verdict.ok) {
      errors.push({ row: row_no, message: english(verdict.reason), key: verdict.reason.key, params: verdict.reason.params });
    } else if (phones.has(verdict.lead.phone)) {
      duplicatesInBatch += 1;
    } else {
      phones.add(verdict.lead.phone);
      leads.push(verdict.lead);
    }
  }
  return { leads, errors, duplicatesInBatch };
}
