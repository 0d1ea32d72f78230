import { createHash, randomBytes } from 'node:crypto';
import { Readable } from 'node:stream';
import { buffer } from 'node:stream/consumers';

import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';

import { type S3rverProcess, startS3rver } from '../../../test/unit/backup/s3rver.js';
import { S3Store } from './store.js';

// S3Store.upload against a real S3 server (s3rver on 127.0.0.1): parts are filled from
// arbitrary chunk sizes into a fixed set of reused buffers.

const MiB = 1024 * 1024;
let s3: S3rverProcess;
let store: S3Store;

beforeAll(async () => {
  s3 = await startS3rver('dd-store');
  store = new S3Store({
    endpoint: s3.endpoint,
    bucket: s3.bucket,
    accessKeyId: s3.accessKeyId,
    secretAccessKey: s3.secretAccessKey,
    tuning: { partSize: 5 * MiB, queueSize: 2 },
  });
});
afterAll(async () => {
  store.client.destroy();
  await s3.stop();
});

/** `data` as a stream of chunks of varying sizes (1 byte … 300 KiB), crossing part boundaries. */
function chunked(data: Buffer): Readable {
  const sizes = [1, 4096, 300 * 1024, 77, 65_536, 12_345];
  const chunks: Buffer[] = [];
  for (let at = 0, i = 0; at < data.length; i += 1) {
    const n = sizes[i % sizes.length] as number;
    chunks.push(data.subarray(at, at + n));
    at += n;
  }
  return Readable.from(chunks);
}

const sha = (b: Buffer): string => createHash('sha256').update(b).digest('hex');

describe('S3Store.upload', () => {
  it('a multi-part stream arrives byte for byte, with at most queueSize + 1 part buffers allocated', async () => {
    const data = randomBytes(23 * MiB + 123);
    const alloc = vi.spyOn(Buffer, 'allocUnsafeSlow');
    try {
      await store.upload('t/multi.bin', chunked(data), { contentType: 'application/octet-stream' });
      const partBuffers = alloc.mock.calls.filter(([size]) => size === 5 * MiB).length;
      expect(partBuffers).toBeGreaterThan(0);
      expect(partBuffers).toBeLessThanOrEqual(3);
    } finally {
      alloc.mockRestore();
    }
    const back = await buffer(await store.getStream('t/multi.bin'));
    expect(back.length).toBe(data.length);
    expect(sha(back)).toBe(sha(data));
  });

  it('parts are numbered 1, 2, 3… without gaps, however the chunks and the finished parts interleave', async () => {
    // chunks of 2.5 parts each: several parts start from one chunk while earlier ones finish
    const data = randomBytes(31 * MiB);
    const numbers: number[] = [];
    const send = store.client.send.bind(store.client) as (...a: unknown[]) => Promise<unknown>;
    const record = (command: { input: { PartNumber?: number } }, ...rest: unknown[]): Promise<unknown> => {
      if (command.constructor.name === 'UploadPartCommand') numbers.push(command.input.PartNumber as number);
      return send(command, ...rest);
    };
    // the SDK's send() type includes a callback overload returning void; ours returns its promise
    // eslint-disable-next-line @typescript-eslint/no-misused-promises
    const spy = vi.spyOn(store.client, 'send').mockImplementation(record as unknown as typeof store.client.send);
    try {
      const chunks = [];
      for (let at = 0; at < data.length; at += 12.5 * MiB) chunks.push(data.subarray(at, at + 12.5 * MiB));
      await store.upload('t/numbers.bin', Readable.from(chunks), { contentType: 'application/octet-stream' });
    } finally {
      spy.mockRestore();
    }
    expect([...numbers].sort((a, b) => a - b)).toEqual([1, 2, 3, 4, 5, 6, 7]);
    expect(sha(await buffer(await store.getStream('t/numbers.bin')))).toBe(sha(data));
  });

  it('an exact multiple of the part size, and a stream shorter than one part (single PutObject)', async () => {
    const exact = randomBytes(10 * MiB);
    await store.upload('t/exact.bin', chunked(exact), { contentType: 'application/octet-stream' });
    expect(sha(await buffer(await store.getStream('t/exact.bin')))).toBe(sha(exact));

    const small = randomBytes(1000);
    await store.upload('t/small.bin', Readable.from([small]), { contentType: 'application/octet-stream' });
    expect(sha(await buffer(await store.getStream('t/small.bin')))).toBe(sha(small));

    await store.upload('t/empty.bin', Readable.from([]), { contentType: 'application/octet-stream' });
    expect((await store.list('t/empty.bin')).map((o) => o.size)).toEqual([0]);
  });

  it('a body that fails mid-way rejects with its error and leaves no object', async () => {
    const data = randomBytes(12 * MiB);
    const body = chunked(data);
    let seen = 0;
    body.on('data', (c: Buffer) => {
      seen += c.length;
      if (seen > 11 * MiB) body.destroy(new Error('the dump broke'));
    });
    body.pause();
    await expect(store.upload('t/broken.bin', body, { contentType: 'application/octet-stream' })).rejects.toThrow(
      'the dump broke',
    );
    expect(await store.list('t/broken.bin')).toEqual([]);
  });
});
