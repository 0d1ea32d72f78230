import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

import { utils } from 'ssh2';
import { describe, expect, it } from 'vitest';
import { parse } from 'yaml';

import { ConfigurationError } from '../action/errors.js';
import { buildCloudConfig, MAX_USER_DATA_BYTES, parseSizeToBytes } from './cloud-config.js';
import {
  fingerprintFromHex,
  fingerprintFromTags,
  fingerprintHex,
  fingerprintOfPublicKey,
  generateHostKeyPair,
  hostKeyTag,
  hostPublicKeyTag,
  publicKeyFromTags,
} from './host-key.js';

const USER_KEY = 'ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIGkZ7GqRTTdXs3R8QwKxjgLkQWmkHc8uV1l0QzH3Xy3a ci@example';

describe('generateHostKeyPair', () => {
  const pair = generateHostKeyPair();

  it('makes an OpenSSH private key that ssh2 parses and whose public half matches', () => {
    const parsed = utils.parseKey(pair.privateKey);
    if (parsed instanceof Error) throw parsed;
    const key = Array.isArray(parsed) ? parsed[0] : parsed;
    expect(key.type).toBe('ssh-ed25519');
    expect(`ssh-ed25519 ${key.getPublicSSH().toString('base64')}`).toBe(pair.publicKey);
    // and it signs data its public key verifies
    const sig = key.sign(Buffer.from('hello'));
    if (sig instanceof Error) throw sig;
    expect(key.verify(Buffer.from('hello'), sig)).toBe(true);
  });

  it('matches what ssh-keygen derives and fingerprints', () => {
    const dir = mkdtempSync(join(tmpdir(), 'hostkey-'));
    try {
      const file = join(dir, 'k');
      writeFileSync(file, pair.privateKey, { mode: 0o600 });
      const pub = execFileSync('ssh-keygen', ['-y', '-f', file], { encoding: 'utf8' }).trim();
      expect(pub.split(' ').slice(0, 2).join(' ')).toBe(pair.publicKey);
      const fp = execFileSync('ssh-keygen', ['-l', '-E', 'sha256', '-f', file], { encoding: 'utf8' });
      expect(fp.split(' ')[1]).toBe(pair.fingerprint);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('makes a different key every time', () => {
    expect(generateHostKeyPair().publicKey).not.toBe(pair.publicKey);
  });
});

describe('fingerprints and the host key tag', () => {
  it('fingerprints a public key like ssh-keygen', () => {
    expect(fingerprintOfPublicKey(USER_KEY)).toMatch(/^SHA256:[A-Za-z0-9+/]{43}$/);
  });

  it('round-trips through the tag, which uses only [A-Za-z0-9_:-]', () => {
    const { fingerprint } = generateHostKeyPair();
    const tag = hostKeyTag(fingerprint);
    expect(tag).toMatch(/^hostkey-sha256-[0-9a-f]{64}$/);
    expect(tag).toMatch(/^[A-Za-z0-9_:-]+$/);
    expect(fingerprintFromHex(fingerprintHex(fingerprint))).toBe(fingerprint);
    expect(fingerprintFromTags(['app:shop', tag])).toBe(fingerprint);
  });

  it.each([
    [[], undefined],
    [['hostkey-sha256-xyz'], undefined],
    [[`hostkey-sha256-${'a'.repeat(64)}`, `hostkey-sha256-${'b'.repeat(64)}`], undefined],
  ])('finds no fingerprint in %j', (tags, expected) => {
    expect(fingerprintFromTags(tags)).toBe(expected);
  });
});

describe('buildCloudConfig', () => {
  const hostKey = generateHostKeyPair();
  const base = { hostKey, deployUser: 'deploy', authorizedKeys: [USER_KEY] };

  it('pins the host key, creates the deploy user in docker, installs Docker when missing', () => {
    const text = buildCloudConfig({ ...base, swapBytes: 1024 ** 3, appDir: '/opt/shop' });
    expect(text.startsWith('#cloud-config\n')).toBe(true);
    const c = parse(text) as Record<string, unknown>;
    expect(c['ssh_deletekeys']).toBe(true);
    expect(c['ssh_genkeytypes']).toEqual([]);
    expect(c['ssh_keys']).toEqual({ ed25519_private: hostKey.privateKey, ed25519_public: hostKey.publicKey });
    expect(c['groups']).toEqual(['docker']);
    expect(c['users']).toEqual([
      'default',
      { name: 'deploy', groups: ['docker'], shell: '/bin/bash', lock_passwd: true, ssh_authorized_keys: [USER_KEY] },
    ]);
    expect(c['swap']).toEqual({ filename: '/swapfile', size: 1073741824, maxsize: 1073741824 });
    expect(c['runcmd']).toEqual([
      'sh /usr/local/lib/droplet-deploy/install-docker.sh',
      'mkdir -p /opt/shop',
      'chown deploy:deploy /opt/shop',
    ]);
    const files = c['write_files'] as { path: string; content: string }[];
    expect(files.map((f) => f.path)).toEqual(['/usr/local/lib/droplet-deploy/install-docker.sh']);
    expect(files[0]?.content).toContain('docker-compose-v2');
  });

  it('leaves swap out when none is asked for', () => {
    expect(parse(buildCloudConfig(base))).not.toHaveProperty('swap');
  });

  it('appends the user cloud-config lists after ours and keeps their other keys', () => {
    const userData = [
      '#cloud-config',
      'package_update: true',
      'users:',
      '  - default',
      '  - name: ops',
      'groups: [docker, ops]',
      'write_files:',
      '  - path: /etc/motd',
      '    content: hello',
      'runcmd:',
      '  - echo extra > /root/extra',
    ].join('\n');
    const c = parse(buildCloudConfig({ ...base, userData })) as Record<string, unknown[]>;
    expect(c['package_update']).toBe(true);
    expect((c['users'] as unknown[]).slice(2)).toEqual([{ name: 'ops' }]);
    expect(c['groups']).toEqual(['docker', 'ops']);
    expect((c['write_files'] as { path: string }[]).map((f) => f.path)).toEqual([
      '/usr/local/lib/droplet-deploy/install-docker.sh',
      '/etc/motd',
    ]);
    expect(c['runcmd']).toEqual(['sh /usr/local/lib/droplet-deploy/install-docker.sh', 'echo extra > /root/extra']);
  });

  it('runs a #! user-data script after our commands', () => {
    const c = parse(buildCloudConfig({ ...base, userData: '#!/bin/sh\necho hi > /root/hi\n' })) as Record<
      string,
      unknown[]
    >;
    expect(c['runcmd']).toEqual([
      'sh /usr/local/lib/droplet-deploy/install-docker.sh',
      '/usr/local/lib/droplet-deploy/user-data.sh',
    ]);
    expect((c['write_files'] as { path: string; content: string; permissions: string }[])[1]).toEqual({
      path: '/usr/local/lib/droplet-deploy/user-data.sh',
      permissions: '0755',
      owner: 'root:root',
      content: '#!/bin/sh\necho hi > /root/hi\n',
    });
  });

  it.each([
    ['hello', 'must be a cloud-config document'],
    ['#cloud-config\nssh_keys: {}', 'sets "ssh_keys": host keys are generated and pinned'],
    ['#cloud-config\nswap: {size: 1}', 'sets "swap": use the "swap" input instead'],
    ['#cloud-config\nruncmd: echo', '"runcmd" must be a list'],
    ['#cloud-config\n- a\n- b', 'must be a mapping'],
    ['#cloud-config\nusers:\n  - name: deploy', 'defines user "deploy"'],
    ['#cloud-config\nfoo: [unclosed', 'is not valid YAML'],
  ])('refuses user-data %j', (userData, message) => {
    expect(() => buildCloudConfig({ ...base, userData })).toThrow(ConfigurationError);
    expect(() => buildCloudConfig({ ...base, userData })).toThrow(message);
  });

  it('refuses user-data that makes user_data larger than DigitalOcean accepts', () => {
    const userData = `#cloud-config\nruncmd:\n  - echo ${'x'.repeat(MAX_USER_DATA_BYTES)}`;
    expect(() => buildCloudConfig({ ...base, userData })).toThrow('DigitalOcean accepts at most 65536');
  });
});

describe('parseSizeToBytes', () => {
  it.each([
    ['1G', 1073741824],
    ['512M', 536870912],
    ['1.5G', 1610612736],
    ['2GiB', 2147483648],
    ['1 g', 1073741824],
    ['lots', undefined],
    ['12', undefined],
  ])('%s → %s', (value, expected) => {
    expect(parseSizeToBytes(value)).toBe(expected);
  });
});

describe('host public key tag', () => {
  it('records the ed25519 public key in a tag-safe form and reads it back', () => {
    const pair = generateHostKeyPair();
    const tag = hostPublicKeyTag(pair.publicKey);
    expect(tag).toMatch(/^hostkey-ed25519-[0-9a-f]{64}$/);
    expect(publicKeyFromTags(['shop', tag, hostKeyTag(pair.fingerprint)])).toBe(pair.publicKey);
    expect(publicKeyFromTags(['shop'])).toBeUndefined();
  });
});
