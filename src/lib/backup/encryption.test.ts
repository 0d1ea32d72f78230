import { spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Readable, Writable } from 'node:stream';
import { buffer } from 'node:stream/consumers';
import { pipeline } from 'node:stream/promises';

import { afterAll, describe, expect, it } from 'vitest';

import { createDecryptStream, createEncryptStream, decryptCommandHint, encryptionParams } from './encryption.js';

const dir = mkdtempSync(join(tmpdir(), 'dd-enc-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

async function encrypt(data: Buffer, pass: string, iter: number, chunk = 7777): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for (let i = 0; i < data.length; i += chunk) chunks.push(data.subarray(i, i + chunk));
  const out: Buffer[] = [];
  await pipeline(
    Readable.from(chunks),
    createEncryptStream(pass, iter),
    new Writable({
      write(c: Buffer, _e, cb) {
        out.push(c);
        cb();
      },
    }),
  );
  return Buffer.concat(out);
}

const opensslEnv = (pass: string) => ({ ...process.env, BACKUP_PASSPHRASE: pass });

describe('openssl-enc compatible encryption', () => {
  it.each([
    ['empty', 0],
    ['one byte', 1],
    ['exactly one block', 16],
    ['several chunks', 300_001],
  ])('openssl decrypts what we encrypt (%s)', async (_name, size) => {
    const data = randomBytes(size);
    const pass = 'correct horse £ battery "staple"';
    const enc = await encrypt(data, pass, 1000);
    expect(enc.subarray(0, 8).toString('latin1')).toBe('Salted__');
    const file = join(dir, `x-${size}.enc`);
    writeFileSync(file, enc);
    const result = spawnSync(
      'openssl',
      [
        'enc',
        '-d',
        '-aes-256-cbc',
        '-pbkdf2',
        '-iter',
        '1000',
        '-md',
        'sha256',
        '-in',
        file,
        '-pass',
        'env:BACKUP_PASSPHRASE',
      ],
      { env: opensslEnv(pass), maxBuffer: 10_000_000 },
    );
    expect(result.stderr.toString()).toBe('');
    expect(result.status).toBe(0);
    expect(Buffer.compare(result.stdout, data)).toBe(0);
  });

  it('the documented command (default -md) decrypts too', async () => {
    const data = randomBytes(5000);
    const params = encryptionParams(2000);
    const enc = await encrypt(data, 'pw', params.iterations);
    const file = join(dir, 'hint.gz.enc');
    writeFileSync(file, enc);
    const hint = decryptCommandHint(params, file);
    const result = spawnSync('sh', ['-c', hint], { env: opensslEnv('pw') });
    expect(result.status).toBe(0);
    expect(Buffer.compare(readFileSync(file.replace(/\.enc$/, '')), data)).toBe(0);
    // plain `openssl enc -d -aes-256-cbc -pbkdf2 -iter N` (OpenSSL's default digest is sha256)
    const plain = spawnSync(
      'openssl',
      ['enc', '-d', '-aes-256-cbc', '-pbkdf2', '-iter', '2000', '-in', file, '-pass', 'env:BACKUP_PASSPHRASE'],
      { env: opensslEnv('pw') },
    );
    expect(plain.status).toBe(0);
    expect(Buffer.compare(plain.stdout, data)).toBe(0);
  });

  it('we decrypt what openssl encrypts', async () => {
    const data = randomBytes(123_457);
    const inFile = join(dir, 'plain.bin');
    writeFileSync(inFile, data);
    const result = spawnSync(
      'openssl',
      ['enc', '-aes-256-cbc', '-pbkdf2', '-iter', '1500', '-salt', '-in', inFile, '-pass', 'env:BACKUP_PASSPHRASE'],
      { env: opensslEnv('s3cret'), maxBuffer: 10_000_000 },
    );
    expect(result.status).toBe(0);
    const out = await buffer(
      Readable.from([result.stdout.subarray(0, 10), result.stdout.subarray(10)]).pipe(
        createDecryptStream('s3cret', 1500),
      ),
    );
    expect(Buffer.compare(out, data)).toBe(0);
  });

  it('a wrong passphrase fails clearly', async () => {
    const enc = await encrypt(randomBytes(1000), 'right', 1000);
    await expect(buffer(Readable.from([enc]).pipe(createDecryptStream('wrong', 1000)))).rejects.toThrow(
      /wrong passphrase or a corrupted backup/,
    );
  });

  it('a file without the header is refused', async () => {
    await expect(buffer(Readable.from([Buffer.alloc(64, 1)]).pipe(createDecryptStream('x', 1000)))).rejects.toThrow(
      /"Salted__" header is missing/,
    );
  });

  it('each encryption uses a fresh salt', async () => {
    const data = Buffer.from('same input');
    const a = await encrypt(data, 'p', 1000);
    const b = await encrypt(data, 'p', 1000);
    expect(a.subarray(8, 16).equals(b.subarray(8, 16))).toBe(false);
  });
});
