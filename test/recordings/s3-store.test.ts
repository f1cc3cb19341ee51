import assert from 'node:assert/strict';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { after, before, test } from 'node:test';
import S3rver from 's3rver';
import { RecordingsCache } from '../../src/recordings/cache.js';
import { s3StoreFromConfig } from '../../src/recordings/s3.store.js';

/**
 * RECORDINGS_STORE=s3 against an S3-compatible server on loopback (s3rver), through the official
 * SDK: two machines without a shared volume (two cache directories) share one bucket.
 */
const dir = await mkdtemp(path.join(os.tmpdir(), 'bh-s3-'));
let server: S3rver;
let endpoint = '';

before(async () => {
  server = new S3rver({ address: '127.0.0.1', port: 0, silent: true, directory: path.join(dir, 'bucket'), configureBuckets: [{ name: 'recordings', configs: [] }] });
  const { address, port } = await server.run();
  endpoint = `http://${address}:${port}`;
});

after(async () => {
  await server.close();
  await rm(dir, { recursive: true, force: true });
});

const store = () => s3StoreFromConfig({ endpoint, bucket: 'recordings', region: 'us-east-1', accessKeyId: 'S3RVER', secretAccessKey: 'S3RVER', forcePathStyle: true });
const SID = `CA${'b'.repeat(32)}`;

test('a recording cached on one machine is fetched from the bucket by another, atomically, never from the provider', async () => {
  const a = new RecordingsCache(path.join(dir, 'a'), 10_000_000, store());
  const b = new RecordingsCache(path.join(dir, 'b'), 10_000_000, store());
  const bytes = Buffer.alloc(50_000, 7);
  bytes.write('RIFF', 0, 'ascii');
  assert.equal(await b.open(3, SID), null, 'nothing anywhere yet');
  await a.store(3, SID, async (out) => {
    await new Promise<void>((resolve) => out.end(bytes, () => resolve()));
    return bytes.length;
  });
  const got = await b.open(3, SID);
  assert.ok(got, 'machine b finds it in the bucket');
  assert.equal(got.size, bytes.length);
  assert.equal(got.file, b.path(3, SID), 'and serves it from its own cache');
  assert.deepEqual(await readFile(got.file), bytes);
  assert.equal(await b.open(4, SID), null, 'another business’s key is another object');
});
