import { spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { buffer } from 'node:stream/consumers';

import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import { cmd } from '../../../src/lib/commands/cmd.js';
import { parseManifest } from '../../../src/lib/backup/manifest.js';
import { BackupFailedError, openBackup, streamBackup } from '../../../src/lib/backup/pipeline.js';
import { S3Store } from '../../../src/lib/backup/store.js';
import { recordingLogger } from './logger.js';
import { LocalHost } from './local-host.js';
import { type S3rverProcess, startS3rver } from './s3rver.js';

let s3: S3rverProcess;
let store: S3Store;
const work = mkdtempSync(join(tmpdir(), 'dd-pipe-'));

beforeAll(async () => {
  s3 = await startS3rver();
  store = new S3Store({
    endpoint: s3.endpoint,
    bucket: s3.bucket,
    accessKeyId: s3.accessKeyId,
    secretAccessKey: s3.secretAccessKey,
    tuning: { partSize: 5 * 1024 * 1024, queueSize: 2 },
  });
});
afterAll(async () => {
  await s3.stop();
  rmSync(work, { recursive: true, force: true });
});

function makeFile(name: string, mb: number): { path: string; sha: string } {
  const path = join(work, name);
  spawnSync('sh', ['-c', `head -c ${mb * 1024 * 1024} /dev/urandom > ${path}`]);
  const sha = spawnSync('sha256sum', [path]).stdout.toString().split(' ')[0] as string;
  return { path, sha };
}

const base = (extra: Partial<Parameters<typeof streamBackup>[0]> = {}) => ({
  host: new LocalHost(),
  store,
  app: 'shop',
  kind: 'volume' as const,
  droplet: 'web-1',
  prefix: 'backups/shop',
  compression: 'gzip' as const,
  now: () => new Date(),
  logger: recordingLogger(),
  ...extra,
});

describe('streamBackup against a real S3 server (s3rver)', () => {
  it('multipart upload, gzip + encryption, manifest written last; the object decrypts with openssl', async () => {
    const file = makeFile('a.bin', 12);
    const manifest = await streamBackup({
      ...base(),
      name: 'files',
      source: { script: cmd('cat', file.path), description: 'test file' },
      passphrase: 'pw-123',
      iterations: 1000,
    });
    expect(manifest.rawSize).toBe(12 * 1024 * 1024);
    expect(manifest.key).toMatch(/^backups\/shop\/files\/\d{8}T\d{6}Z-[0-9a-f]{6}\.tar\.gz\.enc$/);
    expect(manifest.encryption).toEqual({
      format: 'openssl-enc',
      cipher: 'aes-256-cbc',
      kdf: 'pbkdf2-sha256',
      iterations: 1000,
    });
    const stored = await buffer(await store.getStream(manifest.key));
    expect(stored.length).toBe(manifest.size);
    expect(createHash('sha256').update(stored).digest('hex')).toBe(manifest.sha256);
    const manifestKey = manifest.key.replace(/\.tar\.gz\.enc$/, '.manifest.json');
    expect(parseManifest(await store.getText(manifestKey), manifestKey)).toEqual(manifest);
    // the standard tools get the original bytes back
    writeFileSync(join(work, 'dl.enc'), stored);
    const dec = spawnSync(
      'sh',
      ['-c', `openssl enc -d -aes-256-cbc -pbkdf2 -iter 1000 -in ${work}/dl.enc -pass env:P | gunzip | sha256sum`],
      {
        env: { ...process.env, P: 'pw-123' },
      },
    );
    expect(dec.stdout.toString().split(' ')[0]).toBe(file.sha);
    // and so does our own restore path
    const back = await buffer(await openBackup(store, manifest, 'pw-123'));
    expect(createHash('sha256').update(back).digest('hex')).toBe(file.sha);
  });

  it('a dump command that fails leaves no manifest and no object', async () => {
    const err = await streamBackup({
      ...base(),
      name: 'broken',
      source: {
        script: cmd('sh', '-c', 'head -c 7000000 /dev/urandom; echo "pg_dump: error: connection refused" >&2; exit 3'),
        description: 'failing',
      },
    }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(BackupFailedError);
    expect((err as Error).message).toMatch(/exited with code 3/);
    expect((err as Error).message).toMatch(/connection refused/);
    expect((err as Error).message).toMatch(/does not count as a backup/);
    expect(await store.list('backups/shop/broken/')).toEqual([]);
  });

  it('openBackup refuses a tampered object', async () => {
    const manifest = await streamBackup({
      ...base(),
      name: 'tamper',
      compression: 'none',
      source: { script: cmd('head', '-c', '100000', '/dev/urandom'), description: 'random' },
    });
    await expect(buffer(await openBackup(store, { ...manifest, sha256: '0'.repeat(64) }))).rejects.toThrow(
      /does not match its manifest/,
    );
  });

  it('S3 killed mid-upload: the backup fails clearly, the multipart upload is abandoned, nothing counts', async () => {
    const file = makeFile('big.bin', 60);
    let killed = false;
    const host = new LocalHost();
    const logger = recordingLogger();
    const promise = streamBackup({
      ...base({ host, logger }),
      name: 'interrupted',
      compression: 'none',
      // 60 MB in 5 MB parts: the kill lands after the first part
      source: { script: cmd('sh', '-c', `exec cat "$1"`, 'sh', file.path), description: 'big file' },
    });
    // kill once the first part has been accepted by the server
    for (let i = 0; i < 400 && !killed; i += 1) {
      await new Promise((r) => setTimeout(r, 50));
      const parts = spawnSync('sh', ['-c', `find ${s3.dir} -type f | wc -l`])
        .stdout.toString()
        .trim();
      if (Number(parts) > 0) {
        await s3.kill();
        killed = true;
      }
    }
    expect(killed).toBe(true);
    const err = await promise.catch((e: unknown) => e);
    expect(err).toBeInstanceOf(BackupFailedError);
    expect((err as Error).message).toMatch(/dump "interrupted" \(volume\) from big file failed: /);
    expect((err as Error).message).toMatch(/No manifest was written/);
    await s3.start();
    const left = await store.list('backups/shop/interrupted/');
    expect(left.filter((o) => o.key.endsWith('.manifest.json'))).toEqual([]);
    expect(left).toEqual([]);
  });
});
