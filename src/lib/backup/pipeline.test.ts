import { createHash } from 'node:crypto';
import { once } from 'node:events';
import type { Readable, Writable } from 'node:stream';
import { gunzipSync } from 'node:zlib';

import { describe, expect, it } from 'vitest';

import { FakeHost } from '../../../test/support/fake-host.js';
import { MemoryStore } from '../../../test/unit/backup/memory-store.js';
import { recordingLogger } from '../../../test/unit/backup/logger.js';
import { cmd } from '../commands/cmd.js';
import { StreamAbortedError } from '../ssh/executor.js';
import { BackupFailedError, streamBackup } from './pipeline.js';

/** An endless dump: 64 KiB chunks with backpressure until the signal aborts (bounded: 100k chunks). */
function endlessDump(state: { chunks: number; sawAbort: boolean; done: boolean }) {
  return async (stdout: Writable, signal: AbortSignal | undefined) => {
    const chunk = Buffer.alloc(64 * 1024, 7);
    try {
      for (let i = 0; i < 100_000; i += 1) {
        if (signal?.aborted) {
          state.sawAbort = true;
          return { code: 137 };
        }
        // a reader that went away: over SSH the command just blocks on the full window
        // until the channel is closed
        if (stdout.destroyed) {
          await new Promise((resolve) => {
            signal?.addEventListener('abort', resolve, { once: true });
            setTimeout(resolve, 5_000).unref();
          });
          continue;
        }
        state.chunks += 1;
        if (!stdout.write(chunk)) {
          await Promise.race([
            once(stdout, 'drain'),
            once(stdout, 'close'),
            new Promise((resolve) => signal?.addEventListener('abort', resolve, { once: true })),
          ]).catch(() => undefined);
        }
      }
      return { code: 0 };
    } finally {
      state.done = true;
    }
  };
}

/** A store whose upload reads `failAfter` bytes, then fails like a dead S3 endpoint. */
class FailingStore extends MemoryStore {
  read = 0;
  signal: AbortSignal | undefined;
  constructor(private readonly failAfter: number) {
    super();
  }
  override async upload(_key: string, body: Readable, options?: { signal?: AbortSignal }): Promise<void> {
    this.signal = options?.signal;
    try {
      for await (const chunk of body as AsyncIterable<Buffer>) {
        this.read += chunk.length;
        if (this.read >= this.failAfter) throw new Error('connect ECONNREFUSED 127.0.0.1:9');
      }
    } catch (error) {
      // like S3Store: the loop has left (the body is destroyed) and the upload is being
      // aborted before the error comes back
      await new Promise((r) => setTimeout(r, 50));
      throw error;
    }
  }
}

const request = (host: FakeHost, store: MemoryStore) => ({
  host,
  store,
  source: { script: cmd('dump-forever'), description: 'an endless dump' },
  app: 'shop',
  name: 'db',
  kind: 'volume' as const,
  droplet: 'web-1',
  prefix: 'backups/shop',
  compression: 'none' as const,
  now: () => new Date('2026-01-01T00:00:00Z'),
  logger: recordingLogger(),
});

describe('streamBackup: a failed upload aborts the remote stream', () => {
  it('closes the stream through its signal (no grace wait), fails clearly, keeps nothing', async () => {
    const state = { chunks: 0, sawAbort: false, done: false };
    const host = new FakeHost().onStream('dump-forever', endlessDump(state));
    const store = new FailingStore(3 * 1024 * 1024);
    const err = await streamBackup(request(host, store)).catch((e: unknown) => e);

    expect(err).toBeInstanceOf(BackupFailedError);
    expect((err as Error).message).toMatch(
      /dump "db" \(volume\) from an endless dump failed: connect ECONNREFUSED 127\.0\.0\.1:9\. No manifest was written/,
    );
    // the remote command was aborted through StreamOptions.signal, and its producer stopped
    expect(host.streams).toEqual([{ command: 'dump-forever', aborted: true }]);
    expect(store.signal?.aborted).toBe(true);
    for (let i = 0; i < 100 && !state.done; i += 1) await new Promise((r) => setTimeout(r, 10));
    expect(state.done).toBe(true);
    expect(state.sawAbort).toBe(true);
    expect(state.chunks).toBeLessThan(100_000);
    expect([...store.objects.keys()]).toEqual([]);
  });

  it('a stream that ends normally is not aborted', async () => {
    const host = new FakeHost().onStream('dump-forever', async (stdout) => {
      stdout.write(Buffer.from('hello '));
      stdout.write(Buffer.from('world'));
      return { code: 0 };
    });
    const store = new MemoryStore();
    const manifest = await streamBackup(request(host, store));
    expect(host.streams).toEqual([{ command: 'dump-forever', aborted: false }]);
    expect(manifest.rawSize).toBe(11);
    expect(manifest.size).toBe(11);
    expect(store.objects.get(manifest.key)?.data.toString()).toBe('hello world');
  });

  it('gzip: the raw and the stored bytes are counted apart, the sha256 is of the stored object, which gunzips to the dump', async () => {
    const text = Buffer.from('hello world '.repeat(10_000));
    const host = new FakeHost().onStream('dump-forever', async (stdout) => {
      stdout.write(text.subarray(0, 50_000));
      stdout.write(text.subarray(50_000));
      return { code: 0 };
    });
    const store = new MemoryStore();
    const manifest = await streamBackup({ ...request(host, store), compression: 'gzip' as const });
    const stored = store.objects.get(manifest.key)?.data as Buffer;
    expect(manifest.rawSize).toBe(text.length);
    expect(manifest.size).toBe(stored.length);
    expect(manifest.size).toBeLessThan(text.length / 10);
    expect(manifest.sha256).toBe(createHash('sha256').update(stored).digest('hex'));
    expect(gunzipSync(stored).equals(text)).toBe(true);
  });

  // a check of the test double itself: FakeHost must reject an already-aborted stream the way
  // NodeSshHost does (src/lib/ssh/node-ssh-host.test.ts checks the real one)
  it('FakeHost, like the real host: an already aborted stream rejects with StreamAbortedError', async () => {
    const host = new FakeHost().onStream('x', async () => ({ code: 0 }));
    const aborter = new AbortController();
    aborter.abort();
    const { PassThrough } = await import('node:stream');
    await expect(host.stream(cmd('x'), { stdout: new PassThrough(), signal: aborter.signal })).rejects.toBeInstanceOf(
      StreamAbortedError,
    );
  });
});
