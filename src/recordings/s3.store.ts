import { createReadStream } from 'node:fs';
import type { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { GetObjectCommand, NoSuchKey, PutObjectCommand, S3Client } from '@aws-sdk/client-s3';
import type { RecordingsStoreConfig } from '../config/config.js';
import type { RemoteRecordingStore } from './cache.js';

/**
 * Recordings in an S3-compatible bucket (AWS S3, MinIO, R2 …) through the official SDK, for
 * several API machines without a shared volume: each keeps its local cache (Range streaming
 * reads local files) and fills it from the bucket instead of asking the telephony provider.
 */
export class S3RecordingStore implements RemoteRecordingStore {
  constructor(
    readonly client: S3Client,
    readonly bucket: string,
  ) {}

  async download(key: string, out: NodeJS.WritableStream): Promise<number | false> {
    let body: Readable;
    try {
      const res = await this.client.send(new GetObjectCommand({ Bucket: this.bucket, Key: key }));
      if (!res.Body) return false;
      body = res.Body as Readable;
    } catch (err) {
      if (err instanceof NoSuchKey || (err as { $metadata?: { httpStatusCode?: number } }).$metadata?.httpStatusCode === 404) return false;
      throw err;
    }
    let bytes = 0;
    body.on('data', (chunk: Buffer) => {
      bytes += chunk.length;
    });
    await pipeline(body, out);
    return bytes;
  }

  async upload(key: string, file: string, size: number): Promise<void> {
    await this.client.send(new PutObjectCommand({ Bucket: this.bucket, Key: key, Body: createReadStream(file), ContentLength: size, ContentType: 'audio/wav' }));
  }
}

export function s3StoreFromConfig(c: RecordingsStoreConfig['s3']): S3RecordingStore {
  const client = new S3Client({
    region: c.region,
    forcePathStyle: c.forcePathStyle,
    // Checksums only where S3 requires them: the SDK's default (a CRC trailer in aws-chunked
    // uploads) is not understood by every S3-compatible server (older MinIO, R2, s3rver store the
    // chunk framing as the object's bytes).
    requestChecksumCalculation: 'WHEN_REQUIRED',
    responseChecksumValidation: 'WHEN_REQUIRED',
    ...(c.endpoint ? { endpoint: c.endpoint } : {}),
    ...(c.accessKeyId && c.secretAccessKey ? { credentials: { accessKeyId: c.accessKeyId, secretAccessKey: c.secretAccessKey } } : {}),
  });
  return new S3RecordingStore(client, c.bucket);
}
