import { randomBytes } from 'node:crypto';
import { createWriteStream } from 'node:fs';
import { mkdir, rename, stat, unlink } from 'node:fs/promises';
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
