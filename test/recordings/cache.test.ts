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

test('the cache stays under its size limit, evicting the least recently played files first', async () => {
  const { RecordingsCache } = await import('../../src/recordings/cache.js');
  const dataDir = await mkdtemp(path.join(os.tmpdir(), 'bh-lru-'));
  try {
    const cache = new RecordingsCache(dataDir, 3_500);
    const sid = (i: number) => `CA${String(i).padStart(32, '0')}`;
    const put = (i: number) => cache.store(7, sid(i), async (out) => {
      await new Promise<void>((resolve) => out.end(Buffer.alloc(1_000, i), () => resolve()));
      return 1_000;
    });
    for (const i of [1, 2, 3]) await put(i);
    // Played in the order 2, 1: file 3 is now the least recently played.
    const { utimes } = await import('node:fs/promises');
    const at = Date.now() / 1000;
    await utimes(cache.path(7, sid(3)), at - 30, at - 30);
    await utimes(cache.path(7, sid(2)), at - 20, at - 20);
    await utimes(cache.path(7, sid(1)), at - 10, at - 10);
    assert.ok(await cache.open(7, sid(2)), 'a play marks file 2 as just played');
    await put(4);
    await cache.evict();
    const left = (await readdir(path.join(dataDir, 'recordings', '7'))).sort();
    assert.deepEqual(left, [sid(1), sid(2), sid(4)].map((s) => `${s}.wav`), 'file 3, the least recently played, was evicted');
    await put(5);
    await cache.evict();
    const after5 = (await readdir(path.join(dataDir, 'recordings', '7'))).sort();
    assert.deepEqual(after5, [sid(2), sid(4), sid(5)].map((s) => `${s}.wav`), 'then file 1');
    assert.equal(await cache.open(7, sid(1)), null);
  } finally {
    await rm(dataDir, { recursive: true, force: true });
  }
});
