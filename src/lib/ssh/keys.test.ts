import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

import { afterAll, describe, expect, it } from 'vitest';

import { ConfigurationError } from '../action/errors.js';
import { normalizePrivateKey, normalizePrivateKeyText } from './keys.js';

const dir = mkdtempSync(join(tmpdir(), 'keys-test-'));
execFileSync('ssh-keygen', ['-q', '-t', 'ed25519', '-N', '', '-C', 't', '-f', join(dir, 'plain')]);
execFileSync('ssh-keygen', ['-q', '-t', 'ed25519', '-N', 'pw123', '-C', 't', '-f', join(dir, 'enc')]);
const plain = readFileSync(join(dir, 'plain'), 'utf8');
const plainPub = readFileSync(join(dir, 'plain.pub'), 'utf8');
const encrypted = readFileSync(join(dir, 'enc'), 'utf8');
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe('normalizePrivateKey', () => {
  it.each([
    ['as is', plain],
    ['CRLF line ends', plain.replace(/\n/g, '\r\n')],
    ['literal \\n (one-line secret)', plain.trim().replace(/\n/g, '\\n')],
    ['wrapped in quotes with blanks', `  "${plain.trim()}"  `],
    [
      'indented lines',
      plain
        .split('\n')
        .map((l) => `   ${l}`)
        .join('\n'),
    ],
    ['no trailing newline', plain.trim()],
  ])('accepts a key with %s', (_name, raw) => {
    const key = normalizePrivateKey(raw, undefined, 'ssh-private-key');
    expect(key.type).toBe('ssh-ed25519');
    expect(key.privateKey).toBe(plain);
  });

  it('decrypts with the passphrase', () => {
    expect(normalizePrivateKey(encrypted, 'pw123', 'ssh-private-key').type).toBe('ssh-ed25519');
  });

  it.each([
    ['', /input "ssh-private-key" is empty/],
    ['   \n ', /input "ssh-private-key" is empty/],
    [plainPub, /holds a public key; paste the private key/],
    ['PuTTY-User-Key-File-3: ssh-ed25519\nEncryption: none\n', /PuTTY key \(\.ppk\); convert it with `puttygen/],
    ['hello world', /does not look like a private key/],
  ])('refuses %j with a clear message', (raw, message) => {
    expect(() => normalizePrivateKey(raw, undefined, 'ssh-private-key')).toThrow(ConfigurationError);
    expect(() => normalizePrivateKey(raw, undefined, 'ssh-private-key')).toThrow(message);
  });

  it('asks for the passphrase of an encrypted key, and says when it is wrong', () => {
    expect(() => normalizePrivateKey(encrypted, undefined, 'ssh-private-key')).toThrow(
      /give its passphrase in "ssh-passphrase"/,
    );
    expect(() => normalizePrivateKey(encrypted, 'wrong', 'ssh-private-key')).toThrow(
      /could not be decrypted with the given passphrase/,
    );
  });

  it('never puts the key into a message', () => {
    const broken = plain.replace(/AAAA/, '!!!!');
    try {
      normalizePrivateKey(broken, undefined, 'ssh-private-key');
    } catch (error) {
      expect((error as Error).message).not.toContain(plain.split('\n')[1] as string);
    }
  });

  it('normalizePrivateKeyText ends with exactly one newline', () => {
    expect(normalizePrivateKeyText('a\r\nb\r\n\r\n')).toBe('a\nb\n');
  });
});
