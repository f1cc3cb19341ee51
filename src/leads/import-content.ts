import { createHash } from 'node:crypto';
import { setImmediate as nextTurn } from 'node:timers/promises';
import type { ImportChunk, RawImportRow } from './import-rows.js';

/** Rows per staged chunk: a batch of 50 re-reads at most one ~40 KB chunk. */
const IMPORT_CHUNK_ROWS = 500;

/** An import's rows as the staging INSERT sends them, and what identifies them. */
export interface ImportContent {
  rowCount: number;
  chunks: ImportChunk[];
  /** sha256 of the chunks' JSON and the filename: the import's identity for dedup and idempotency. */
  hash: string;
}

/**
 * Builds an import's content a row at a time, so a CSV is staged while it arrives and no list of
 * 100 000 rows is kept beside it. Rows are built with their keys in one fixed order (pickRow, the
 * CSV reader), so JSON.stringify is canonical here, and ~8x cheaper than canonicalJson; the hash
 * is the same as when it was computed over the finished list.
 */
export class ImportContentBuilder {
  readonly #hash = createHash('sha256');
  readonly #chunks: ImportChunk[] = [];
  #pending: RawImportRow[] = [];
  #rowCount = 0;
  #finished = false;

  get rowCount(): number {
    return this.#rowCount;
  }

  add(row: RawImportRow): void {
    this.#pending.push(row);
    this.#rowCount += 1;
    if (this.#pending.length === IMPORT_CHUNK_ROWS) this.#flush();
  }

  /** The content, its hash closed with the filename (known only once the request is validated). */
  finish(filename: string | null): ImportContent {
    if (this.#finished) throw new Error('ImportContentBuilder.finish called twice');
    this.#finished = true;
    this.#flush();
    return { rowCount: this.#rowCount, chunks: this.#chunks, hash: this.#hash.update('\0').update(filename ?? '').digest('hex') };
  }

  #flush(): void {
    if (this.#pending.length === 0) return;
    const json = JSON.stringify(this.#pending);
    this.#chunks.push({ firstRowNo: this.#rowCount - this.#pending.length + 1, rowCount: this.#pending.length, json });
    this.#hash.update(json);
    this.#pending = [];
  }
}

/**
 * Work on the request's event loop cut into slices: `await slices.next()` lets other requests run
 * once the current slice has taken `sliceMs`. Cheap to call often (a clock read).
 */
export class LoopSlices {
  #start = performance.now();

  constructor(private readonly sliceMs = 4) {}

  async next(): Promise<void> {
    if (performance.now() - this.#start < this.sliceMs) return;
    await nextTurn();
    this.#start = performance.now();
  }
}
