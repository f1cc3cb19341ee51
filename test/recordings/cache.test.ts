import assert from 'node:assert/strict';
import { mkdtemp, readdir, rm, stat } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { after, test } from 'node:test';
import { cachedSize, writeAtomically } from '../../src/recordings/cache.js';

/** The cache path only ever holds a whole file: a download in progress or failed leaves nothing there. */
const dir = await mkdtemp(path.join(os.tmpdir(), 'bh-cache-'));
after(() => rm(dir, { recursive: true, force: true }));

test('writeAtomically: nothing at the cache path while writing or after a failure; the whole file after success', async () => {
  const file = path.join(dir, '1', `CA${'a'.repeat(32)}.wav`);
  await assert.rejects(
    writeAtomically(file, async (out) => {
      await new Promise<void>((resolve) => out.write(Buffer.alloc(1000), () => resolve()));
      assert.equal(await cachedSize(file), null, 'half a file is never visible');
      throw new Error('connection reset mid-download');
    }),
    /connection reset/,
  );
  assert.equal(await cachedSize(file), null);
  assert.deepEqual(await readdir(path.dirname(file)), [], 'the temporary file is removed');

  const bytes = await writeAtomically(file, async (out) => {
    await new Promise<void>((resolve) => out.end(Buffer.alloc(2048, 1), () => resolve()));
    return 2048;
  });
  assert.equal(bytes, 2048);
  assert.equal((await stat(file)).size, 2048);
  assert.deepEqual(await readdir(path.dirname(file)), [path.basename(file)]);
});
