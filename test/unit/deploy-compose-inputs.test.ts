import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

import { afterAll, describe, expect, it } from 'vitest';

import { readInputs } from '../../src/actions/deploy-compose/inputs.js';
import { bindMountHashes, servicesFromConfig } from '../../src/actions/deploy-compose/run.js';
import { ConfigurationError } from '../../src/lib/action/errors.js';

const dir = mkdtempSync(join(tmpdir(), 'dc-inputs-'));
execFileSync('ssh-keygen', ['-q', '-t', 'ed25519', '-N', '', '-C', 't', '-f', join(dir, 'k')]);
const key = readFileSync(join(dir, 'k'), 'utf8');
const hostKey = readFileSync(join(dir, 'k.pub'), 'utf8').trim().split(' ').slice(0, 2).join(' ');
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const base: Record<string, string> = {
  hosts: '203.0.113.7',
  'ssh-private-key': key,
  'known-hosts': `203.0.113.7 ${hostKey}`,
  app: 'shop',
};

const read = (inputs: Record<string, string>) =>
  readInputs({ getInput: (name) => inputs[name] ?? '' }, { GITHUB_SHA: '3f2a1c9e00', GITHUB_REPOSITORY: 'acme/shop' });

describe('deploy-compose inputs', () => {
  it('defaults', () => {
    const i = read(base);
    expect(i.targets).toEqual({ kind: 'hosts', hosts: [{ host: '203.0.113.7', port: 22, user: 'root' }] });
    expect(i.images).toBe('registry');
    expect(i.keepReleases).toBe(5);
    expect(i.lockTimeoutMs).toBe(300_000);
    expect(i.lockStaleAfterMs).toBe(900_000);
    expect(i.baseDir).toBe('/opt');
    expect(i.context.sha).toBe('3f2a1c9e00');
    expect(i.rollbackTo).toBeUndefined();
  });

  it('hosts with ports and users; ssh-port applies to hosts given without one', () => {
    const i = read({ ...base, hosts: '203.0.113.7\ndeploy@203.0.113.8:2200', 'ssh-port': '2222' });
    expect(i.targets).toEqual({
      kind: 'hosts',
      hosts: [
        { host: '203.0.113.7', port: 2222, user: 'root' },
        { host: '203.0.113.8', port: 2200, user: 'deploy' },
      ],
    });
  });

  it.each([
    [{ hosts: '' }, /one of the inputs "hosts", "droplet-tag", "droplet-ids" is required/],
    [{ 'droplet-tag': 'web' }, /inputs "hosts" and "droplet-tag" cannot be used together/],
    [{ hosts: '', 'droplet-tag': 'web' }, /input "token" is required with "droplet-tag"/],
    [{ hosts: '', 'droplet-ids': '12,abc', token: 't' }, /input "droplet-ids" has "abc": expected a whole number/],
    [{ app: 'My App' }, /input "app" has "My App"/],
    [{ images: 'ftp' }, /input "images" has "ftp": expected one of registry, transfer, none/],
    [{ 'registry-username': 'u' }, /"registry-username" and "registry-password" go together/],
    [{ 'registry-password': 'p' }, /input "registry-password" is set but "registry-username" is empty/],
    [
      { 'registry-username': 'u', 'registry-password': ' ' },
      /input "registry-username" is set but "registry-password"/,
    ],
    [{ 'registry-username': 'a:b', 'registry-password': 'p' }, /input "registry-username" has "a:b"/],
    [
      { registry: 'not a host', 'registry-username': 'u', 'registry-password': 'p' },
      /input "registry" has "not a host"/,
    ],
    [
      {
        registry: 'registry.digitalocean.com',
        'registry-username': 'u',
        'registry-password': 'p',
        'docr-login': 'true',
        token: 't',
      },
      /both give credentials for registry\.digitalocean\.com: use one or the other/,
    ],
    [{ 'docr-login': 'true' }, /"docr-login" needs "token"/],
    [{ 'rollback-to': '../x' }, /input "rollback-to" has "..\/x"/],
    [{ 'keep-releases': '0' }, /input "keep-releases" has "0": must be at least 1/],
    [
      { 'compose-files': '/etc/passwd' },
      /input "compose-files" has "\/etc\/passwd": give a path inside the working directory/,
    ],
    [{ files: '../secrets' }, /input "files" has "..\/secrets"/],
    [{ 'known-hosts': '', 'host-fingerprints': '' }, /host keys are verified: give "known-hosts"/],
    [{ 'insecure-skip-host-key-check': 'true' }, /is true but "known-hosts"\/"host-fingerprints" are given too/],
    [{ 'host-fingerprints': 'md5:aa' }, /input "host-fingerprints" has "md5:aa"/],
    [{ 'jump-host': 'bastion:99999' }, /input "jump-host" has "bastion:99999": port must be 1-65535/],
    [{ secrets: 'NOT A PAIR' }, /input "secrets" has \(value hidden\): line 1 is not KEY=value/],
    [{ 'lock-timeout': 'soon' }, /input "lock-timeout" has "soon"/],
  ])('%j is refused', (patch, message) => {
    expect(() => read({ ...base, ...patch })).toThrow(ConfigurationError);
    expect(() => read({ ...base, ...patch })).toThrow(message);
  });

  it('registry credentials: keyed by the registry host (Docker Hub by default)', () => {
    expect(read(base).registry).toBeUndefined();
    const creds = { 'registry-username': 'robot', 'registry-password': 'pa55-word' };
    expect(read({ ...base, ...creds }).registry).toEqual({
      server: 'https://index.docker.io/v1/',
      username: 'robot',
      password: 'pa55-word',
    });
    expect(read({ ...base, ...creds, registry: 'docker.io' }).registry?.server).toBe('https://index.docker.io/v1/');
    expect(read({ ...base, ...creds, registry: 'ghcr.io' }).registry?.server).toBe('ghcr.io');
    expect(read({ ...base, ...creds, registry: 'https://Registry.Example:5000/' }).registry?.server).toBe(
      'registry.example:5000',
    );
    // DOCR from the API and another registry's credentials together: both kept
    const both = read({ ...base, ...creds, registry: 'ghcr.io', 'docr-login': 'true', token: 't' });
    expect(both.docr).toBe(true);
    expect(both.registry?.server).toBe('ghcr.io');
  });

  it('a registry password never appears in an input error', () => {
    const patches: Record<string, string>[] = [
      { 'registry-password': 'hunter2-registry' },
      { 'registry-username': 'a:b', 'registry-password': 'hunter2-registry' },
      { registry: 'bad host', 'registry-username': 'u', 'registry-password': 'hunter2-registry' },
    ];
    for (const patch of patches) {
      expect(() => read({ ...base, ...patch })).toThrow(ConfigurationError);
      try {
        read({ ...base, ...patch });
      } catch (error) {
        expect((error as Error).message).not.toContain('hunter2');
      }
    }
  });

  it('a secret value never appears in an input error', () => {
    try {
      read({ ...base, secrets: 'hunter2-very-secret' });
    } catch (error) {
      expect((error as Error).message).not.toContain('hunter2');
    }
  });
});

describe('servicesFromConfig', () => {
  it('maps services to images, honouring profiles', () => {
    const yaml = 'services:\n  web:\n    image: a/web:1\n  debug:\n    image: a/dbg:1\n    profiles: [debug]\n';
    expect([...servicesFromConfig(yaml, [])]).toEqual([['web', 'a/web:1']]);
    expect([...servicesFromConfig(yaml, ['debug'])]).toEqual([
      ['web', 'a/web:1'],
      ['debug', 'a/dbg:1'],
    ]);
  });

  it('refuses a service without an image', () => {
    expect(() => servicesFromConfig('services:\n  web:\n    build: .\n', [])).toThrow(
      'service "web" has no image: deploy-compose runs images, it does not build them',
    );
  });
});

describe('bindMountHashes', () => {
  const dir = '/opt/shop/releases/r2';
  const files = [
    { path: 'deploy/nginx.conf', content: 'server {}' },
    { path: 'deploy/html/index.html', content: '<h1>' },
    { path: 'deploy/compose.yaml', content: 'services: {}' },
  ];
  const v2 = `services:
  nginx:
    image: n
    volumes:
      - type: bind
        source: ${dir}/deploy/nginx.conf
        target: /etc/nginx/conf.d/default.conf
      - type: volume
        source: cache
        target: /cache
  web:
    image: w
    volumes:
      - ${dir}/deploy/html:/www:ro
  db:
    image: d
    volumes:
      - data:/var/lib/db
`;

  it('hashes the content each service bind-mounts from the release (long and short syntax)', () => {
    const h = bindMountHashes(v2, dir, files);
    expect(Object.keys(h).sort()).toEqual(['nginx', 'web']);
    // same content in another release folder: same hash (no recreate); changed content: new hash
    expect(bindMountHashes(v2.replaceAll(dir, '/opt/shop/releases/r3'), '/opt/shop/releases/r3', files)).toEqual(h);
    const changed = bindMountHashes(v2, dir, [
      { path: 'deploy/nginx.conf', content: 'server { listen 81; }' },
      ...files.slice(1),
    ]);
    expect(changed['nginx']).not.toBe(h['nginx']);
    expect(changed['web']).toBe(h['web']);
  });
});
