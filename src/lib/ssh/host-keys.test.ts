import { createHmac, randomBytes } from 'node:crypto';

import { describe, expect, it } from 'vitest';

import {
  fingerprintOf,
  HostKeyMismatchError,
  hostKeyCheck,
  hostMatches,
  keyTypeOf,
  parseKnownHosts,
  trustedFingerprints,
} from './host-keys.js';

function blob(type: string, body: Buffer): Buffer {
  const t = Buffer.from(type);
  const len = Buffer.alloc(4);
  len.writeUInt32BE(t.length);
  const blen = Buffer.alloc(4);
  blen.writeUInt32BE(body.length);
  return Buffer.concat([len, t, blen, body]);
}

const keyA = blob('ssh-ed25519', Buffer.alloc(32, 1));
const keyB = blob('ssh-ed25519', Buffer.alloc(32, 2));
const line = (host: string, key: Buffer): string => `${host} ${keyTypeOf(key)} ${key.toString('base64')}`;

describe('known hosts', () => {
  it('parses ssh-keyscan lines, bare key lines and @revoked, skipping comments', () => {
    const entries = parseKnownHosts(
      [
        '# comment',
        line('203.0.113.7', keyA),
        `ssh-ed25519 ${keyB.toString('base64')}`,
        `@revoked * ${line('', keyB).trim()}`,
      ].join('\n'),
    );
    expect(entries.map((e) => [e.patterns, e.type, e.revoked])).toEqual([
      [['203.0.113.7'], 'ssh-ed25519', false],
      [[], 'ssh-ed25519', false],
      [['*'], 'ssh-ed25519', true],
    ]);
  });

  it.each([
    ['not a line', /is not a known_hosts line/],
    ['host ssh-ed25519 !!!', /is not a known_hosts line/],
    [`host ssh-rsa ${keyA.toString('base64')}`, /does not hold a ssh-rsa key/],
    [`@cert-authority *.example ${line('', keyA).trim()}`, /@cert-authority lines are not supported/],
  ])('refuses %j', (text, message) => {
    expect(() => parseKnownHosts(text)).toThrow(message);
  });

  const salt = randomBytes(20);
  const hashed = (name: string): string =>
    `|1|${salt.toString('base64')}|${createHmac('sha1', salt).update(name).digest('base64')}`;

  it.each([
    [['203.0.113.7'], '203.0.113.7', 22, true],
    [['203.0.113.7'], '203.0.113.8', 22, false],
    [['[203.0.113.7]:2222'], '203.0.113.7', 2222, true],
    [['203.0.113.7'], '203.0.113.7', 2222, false],
    [['203.0.113.*'], '203.0.113.99', 22, true],
    [['203.0.113.*', '!203.0.113.5'], '203.0.113.5', 22, false],
    [['web-?.example.com'], 'WEB-1.example.com', 22, true],
    [[hashed('203.0.113.7')], '203.0.113.7', 22, true],
    [[hashed('[203.0.113.7]:2222')], '203.0.113.7', 2222, true],
    [[hashed('203.0.113.7')], '203.0.113.9', 22, false],
    [[], 'anything', 22, true],
  ])('hostMatches(%j, %s, %d) = %s', (patterns, host, port, expected) => {
    expect(hostMatches(patterns, host, port)).toBe(expected);
  });
});

describe('hostKeyCheck', () => {
  const knownHosts = parseKnownHosts(line('203.0.113.7', keyA));

  it('accepts the listed key for that host only', () => {
    expect(hostKeyCheck({ kind: 'verify', knownHosts, fingerprints: [] }, '203.0.113.7', 22).verify(keyA)).toBe(true);
    expect(hostKeyCheck({ kind: 'verify', knownHosts, fingerprints: [] }, '203.0.113.7', 22).verify(keyB)).toBe(false);
    expect(hostKeyCheck({ kind: 'verify', knownHosts, fingerprints: [] }, '203.0.113.8', 22).verify(keyA)).toBe(false);
  });

  it('accepts any of several fingerprints', () => {
    const policy = {
      kind: 'verify' as const,
      knownHosts: [],
      fingerprints: [fingerprintOf(keyB), fingerprintOf(keyA)],
    };
    expect(hostKeyCheck(policy, 'h', 22).verify(keyA)).toBe(true);
    expect(hostKeyCheck({ ...policy, fingerprints: [fingerprintOf(keyB)] }, 'h', 22).verify(keyA)).toBe(false);
  });

  it('refuses a revoked key even when a fingerprint lists it', () => {
    const policy = {
      kind: 'verify' as const,
      knownHosts: parseKnownHosts(`@revoked * ${line('', keyA).trim()}`),
      fingerprints: [fingerprintOf(keyA)],
    };
    expect(hostKeyCheck(policy, 'h', 22).verify(keyA)).toBe(false);
  });

  it('skips only with the skip policy, and still records what was seen', () => {
    const check = hostKeyCheck({ kind: 'skip' }, 'h', 22);
    expect(check.verify(keyB)).toBe(true);
    expect(check.presented()).toEqual({ type: 'ssh-ed25519', fingerprint: fingerprintOf(keyB) });
  });

  it('offers the known-hosts key types first (rsa gets its sha2 signatures)', () => {
    const rsa = blob('ssh-rsa', Buffer.alloc(16, 3));
    const policy = { kind: 'verify' as const, knownHosts: parseKnownHosts(line('h', rsa)), fingerprints: [] };
    expect(hostKeyCheck(policy, 'h', 22).preferredAlgorithms()).toEqual(['rsa-sha2-512', 'rsa-sha2-256', 'ssh-rsa']);
  });

  it('the mismatch message shows the fingerprint presented and the trusted ones', () => {
    const policy = { kind: 'verify' as const, knownHosts, fingerprints: [] };
    const check = hostKeyCheck(policy, '203.0.113.7', 22);
    check.verify(keyB);
    const error = new HostKeyMismatchError(
      '203.0.113.7',
      22,
      check.presented(),
      trustedFingerprints(policy, '203.0.113.7', 22),
    );
    expect(error.message).toBe(
      `host key verification failed for 203.0.113.7: it presented ssh-ed25519 ${fingerprintOf(keyB)}; ` +
        `the trusted keys are ssh-ed25519 ${fingerprintOf(keyA)}. ` +
        'If the droplet was rebuilt, update "known-hosts" (ssh-keyscan -t ed25519 203.0.113.7) or "host-fingerprints".',
    );
  });

  it('fingerprints are OpenSSH SHA256 form', () => {
    expect(fingerprintOf(keyA)).toMatch(/^SHA256:[A-Za-z0-9+/]{43}$/);
  });
});
