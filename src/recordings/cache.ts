import { randomBytes } from 'node:crypto';
import { createWriteStream } from 'node:fs';
import { mkdir, readdir, rename, stat, unlink, utimes } from 'node:fs/promises';
import path from 'node:path';

/** Where a recording is cached: DATA_DIR/recordings/<business>/<call sid>.wav. */
export function recordingPath(dataDir: string, businessId: number, callSid: string): string {
  if (!/^CA[0-9a-fA-F]{32}$/.test(callSid)) throw new Error('not a call sid');
  return path.join(dataDir, 'recordings', String(businessId), `${callSid}.wav`);
}

/** Size of the cached file, or null when it is not (completely) cached. */
export async function cachedSize(file: string): Promise<number | null> {
  try {
    const s = await stat(file);
    return s.isFile() ? s.size : null;
  } catch {
    return null;
  }
}

/**
 * Writes through a temporary file in the same directory and renames it into place when the
 * download is complete: the cache path only ever holds a whole file, and rename is atomic.
 */
export async function writeAtomically(file: string, write: (out: NodeJS.WritableStream) => Promise<number>): Promise<number> {
  await mkdir(path.dirname(file), { recursive: true });
  const tmp = `${file}.${randomBytes(6).toString('hex')}.part`;
  try {
    const bytes = await write(createWriteStream(tmp));
    await rename(tmp, file);
    return bytes;
  } catch (err) {
    await unlink(tmp).catch(() => undefined);
    throw err;
  }
}

/**
 * A shared store behind the local cache (an S3-compatible bucket, s3.store.ts): several API and
 * worker machines without a shared volume each keep their own local cache and fetch from here
 * instead of asking the telephony provider again. Keys are `<business>/<call sid>.wav`.
 */
export interface RemoteRecordingStore {
  /** Writes the object to `out`; false when there is no such object. */
  download(key: string, out: NodeJS.WritableStream): Promise<number | false>;
  upload(key: string, file: string, size: number): Promise<void>;
}

export interface CachedRecording {
  file: string;
  size: number;
}

/**
 * The recordings cache: DATA_DIR/recordings, optionally in front of a remote store. Every write
 * is atomic (writeAtomically); a read marks the file as just played (its mtime), and after each
 * write the least recently played files are evicted until the directory is under maxBytes.
 *
 * Why mtime and a directory walk rather than an index table: the cache is per machine, so a
 * table would need the host in its key and could disagree with the disk after a crash; the walk
 * costs one stat per cached file per download (≈ 40 ms for 10 000 files here), far below the
 * download itself, and runs one at a time per process.
 */
export class RecordingsCache {
  readonly root: string;
  #evicting: Promise<void> = Promise.resolve();

  constructor(
    dataDir: string,
    readonly maxBytes: number,
    readonly remote: RemoteRecordingStore | null = null,
  ) {
    this.root = path.join(dataDir, 'recordings');
  }

  path(businessId: number, callSid: string): string {
    return recordingPath(path.dirname(this.root), businessId, callSid);
  }

  /** The cached file (fetched from the remote store when only it has it), or null. */
  async open(businessId: number, callSid: string): Promise<CachedRecording | null> {
    const file = this.path(businessId, callSid);
    let size = await cachedSize(file);
    if (size === null && this.remote) {
      const remote = this.remote;
      const got = await writeAtomically(file, async (out) => {
        const n = await remote.download(remoteKey(businessId, callSid), out);
        if (n === false) throw new NotInRemote();
        return n;
      }).catch((err: unknown) => {
        if (err instanceof NotInRemote) return null;
        throw err;
      });
      if (got !== null) {
        size = got;
        this.#scheduleEviction();
      }
    }
    if (size === null) return null;
    const now = new Date();
    // LRU by mtime: a play is a use. A file evicted meanwhile is simply not cached.
    await utimes(file, now, now).catch(() => undefined);
    return { file, size };
  }

  /** Fills the cache (and the remote store) from `write`, atomically; returns the bytes written. */
  async store(businessId: number, callSid: string, write: (out: NodeJS.WritableStream) => Promise<number>): Promise<number> {
    const file = this.path(businessId, callSid);
    const bytes = await writeAtomically(file, write);
    if (this.remote) await this.remote.upload(remoteKey(businessId, callSid), file, bytes);
    this.#scheduleEviction();
    return bytes;
  }

  /** Evicts now (and waits for any eviction in flight): tests and the CLI. */
  async evict(): Promise<void> {
    this.#scheduleEviction();
    await this.#evicting;
  }

  #scheduleEviction(): void {
    this.#evicting = this.#evicting
      .then(async () => {
        await evictLeastRecentlyPlayed(this.root, this.maxBytes);
      })
      .catch(() => undefined);
  }
}

class NotInRemote extends Error {}

export function remoteKey(businessId: number, callSid: string): string {
  return `${businessId}/${callSid}.wav`;
}

/** Removes the least recently played whole files (never a `.part` being written) until under maxBytes. */
export async function evictLeastRecentlyPlayed(root: string, maxBytes: number): Promise<number> {
  const files: { file: string; size: number; at: number }[] = [];
  let dirs: string[];
  try {
    dirs = await readdir(root);
  } catch {
    return 0;
  }
  for (const d of dirs) {
    const names = await readdir(path.join(root, d)).catch(() => [] as string[]);
    for (const name of names) {
      if (!name.endsWith('.wav')) continue;
      const file = path.join(root, d, name);
      const s = await stat(file).catch(() => null);
      if (s?.isFile()) files.push({ file, size: s.size, at: s.mtimeMs });
    }
  }
  let total = files.reduce((a, f) => a + f.size, 0);
  files.sort((a, b) => a.at - b.at);
  let removed = 0;
  for (const f of files) {
    if (total <= maxBytes) break;
    await unlink(f.file).catch(() => undefined);
    total -= f.size;
    removed++;
  }
  return removed;
}
