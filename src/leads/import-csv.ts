import type { Readable } from 'node:stream';
import { parse as parseStream, type Options as CsvOptions } from 'csv-parse';
import { parse as parseSync } from 'csv-parse/sync';
import { errorCodes } from 'fastify';
import { ValidationError } from '../lib/errors.js';
import { msg } from '../lib/messages.js';
import { ImportContentBuilder, LoopSlices, type ImportContent } from './import-content.js';
import { checkRowCount, splitTagCell, type RawImportRow } from './import-rows.js';
import { LIMITS } from './leads.schemas.js';

/**
 * The header row names the columns (any order, any case; unknown columns are ignored); `phone`
 * is required. Empty cells are absent values. Rows with too few or too many cells are kept and
 * judged by the row validator, so the file's author sees which row is wrong.
 */
const CSV_OPTIONS: CsvOptions = { bom: true, trim: true, skip_empty_lines: true, relax_column_count: true, relax_quotes: false };

/**
 * Reads CSV records one at a time (csv-parse's `on_record`, so the parser keeps none of them): the
 * first is the header, each later one becomes a raw row for `onRow`. Rows beyond the limit are
 * only counted, so the 400 can say how many the file has.
 */
class CsvRowReader {
  #columns: string[] | null = null;
  #count = 0;

  constructor(private readonly onRow: (row: RawImportRow) => void) {}

  readonly options: CsvOptions = {
    ...CSV_OPTIONS,
    on_record: (cells: string[]) => {
      this.#read(cells);
      return null;
    },
  };

  #read(cells: string[]): void {
    if (this.#columns === null) {
      this.#columns = cells.map((h) => h.trim().toLowerCase());
      if (!this.#columns.includes('phone')) throw missingPhoneColumn();
      return;
    }
    this.#count += 1;
    if (this.#count > LIMITS.importRows) return;
    const row: RawImportRow = {};
    this.#columns.forEach((column, i) => {
      const cell = cells[i];
      if (cell === undefined || cell === '') return;
      if (column === 'tags') row.tags = splitTagCell(cell);
      else if (column === 'phone' || column === 'name' || column === 'email') row[column] = cell;
    });
    this.onRow(row);
  }

  /** At the end of the text: the 400 for a file without a header, without rows or with too many. */
  end(): void {
    if (this.#columns === null) throw missingPhoneColumn();
    checkRowCount(this.#count, 'body');
  }
}

function missingPhoneColumn(): ValidationError {
  return new ValidationError(msg('import.csv_no_phone_column'), [{ path: 'body', message: msg('issue.csv_no_phone_column') }]);
}

/** csv-parse's error (or our own, thrown from `on_record`) → the 400. */
function csvError(err: unknown): Error {
  if (err instanceof ValidationError) return err;
  const reason = err instanceof Error ? err.message : String(err);
  return new ValidationError(msg('import.csv_unreadable', { reason }), [{ path: 'body', message: msg('issue.csv_unreadable', { reason }) }]);
}

/** A whole CSV text → raw rows: the same reading as the stream below, for tests and the pure checks. */
export function parseCsvImport(text: string): RawImportRow[] {
  const rows: RawImportRow[] = [];
  const reader = new CsvRowReader((row) => rows.push(row));
  try {
    parseSync(text, reader.options);
  } catch (err) {
    throw csvError(err);
  }
  reader.end();
  return rows;
}

/**
 * A text/csv import body, read and staged as it arrived (`readCsvImport`). Its rows stay private:
 * they are the job's to judge (a cell PostgreSQL cannot store is that row's error), and the API's
 * text guard walks only a body's enumerable values, of which this has none.
 */
export class CsvImportBody {
  readonly #content: ImportContentBuilder;

  constructor(content: ImportContentBuilder) {
    this.#content = content;
  }

  finish(filename: string | null): ImportContent {
    return this.#content.finish(filename);
  }
}

/**
 * The next piece of the body. A request stream that fails (the client went away mid-body) is a
 * 400, as Fastify's own body reader answers, rather than a 500 with an error id.
 */
async function nextChunk(chunks: AsyncIterator<Buffer | string>): Promise<IteratorResult<Buffer | string>> {
  try {
    return await chunks.next();
  } catch (err) {
    throw Object.assign(err instanceof Error ? err : new Error(String(err)), { statusCode: 400 });
  }
}

/**
 * csv-parse costs 10-25 µs a row (100 000 rows, 7.8 MB: 1.1-2.5 s on the busy 2-core test
 * machine), so a slice of 4 KiB is ~1 ms of parsing; the loop is let go every 4 ms (LoopSlices).
 */
const SLICE_BYTES = 4 * 1024;

export interface CsvBodyLimits {
  /** The route's body limit, in bytes. */
  bodyLimit: number;
  /** The request's Content-Length, if it sent one. */
  contentLength: number | undefined;
}

/**
 * Reads a CSV body from its stream: parsed by csv-parse's streaming parser in slices of a few KiB
 * as the bytes arrive, each row staged at once (ImportContentBuilder), the event loop let go every
 * few milliseconds. Reading it whole and parsing it in one call held the loop for 0.8-2.7 s per
 * 100 000 rows (7.8 MB; test/leads/import-stream.test.ts), while no other request of any
 * business was answered.
 *
 * A refusal comes as soon as it is known: a header without `phone` after the first line, a broken
 * quote where it is; only "too many rows" needs the whole body, to say how many. The stream is
 * never destroyed (the 400 still has to go out on its socket; the app closes the connection after
 * it). `onBodyRead` receives the milliseconds spent parsing before the body's end event, which
 * whoever times the work from that event (the request budget) would not see.
 */
export async function readCsvImport(payload: Readable, limits: CsvBodyLimits, onBodyRead?: (busyBeforeEndMs: number) => void): Promise<CsvImportBody> {
  if (limits.contentLength !== undefined && limits.contentLength > limits.bodyLimit) throw new errorCodes.FST_ERR_CTP_BODY_TOO_LARGE();
  const content = new ImportContentBuilder();
  const reader = new CsvRowReader((row) => content.add(row));
  const parser = parseStream(reader.options);
  // Errors reach us through the write and end callbacks; without a listener the stream's own
  // 'error' event would be an uncaught exception.
  parser.on('error', () => undefined);
  const write = (bytes: Buffer) => new Promise<void>((resolve, reject) => parser.write(bytes, (err) => (err ? reject(csvError(err)) : resolve())));
  const slices = new LoopSlices();
  let received = 0;
  let ended = false;
  payload.once('end', () => (ended = true));
  let busyBeforeEndMs = 0;
  const chunks = payload.iterator({ destroyOnReturn: false }) as AsyncIterator<Buffer | string>;
  try {
    for (let next = await nextChunk(chunks); !next.done; next = await nextChunk(chunks)) {
      const bytes = typeof next.value === 'string' ? Buffer.from(next.value) : next.value;
      received += bytes.length;
      if (received > limits.bodyLimit) throw new errorCodes.FST_ERR_CTP_BODY_TOO_LARGE();
      for (let at = 0; at < bytes.length; at += SLICE_BYTES) {
        const start = performance.now();
        await write(bytes.subarray(at, at + SLICE_BYTES));
        if (!ended) busyBeforeEndMs += performance.now() - start;
        await slices.next();
      }
    }
  } finally {
    await chunks.return?.();
  }
  onBodyRead?.(busyBeforeEndMs);
  if (limits.contentLength !== undefined && received !== limits.contentLength) throw new errorCodes.FST_ERR_CTP_INVALID_CONTENT_LENGTH();
  await new Promise<void>((resolve, reject) => parser.end((err?: Error | null) => (err ? reject(csvError(err)) : resolve())));
  reader.end();
  return new CsvImportBody(content);
}
