import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

import { describe, expect, it } from 'vitest';

import { ConfigurationError } from '../../lib/action/errors.js';
import { readInputs } from './inputs.js';

function keyPair(): { privateKey: string; publicKey: string } {
  const dir = mkdtempSync(join(tmpdir(), 'pv-key-'));
  try {
    execFileSync('ssh-keygen', ['-q', '-t', 'ed25519', '-N', '', '-C', 'ci', '-f', join(dir, 'k')]);
    return {
      privateKey: readFileSync(join(dir, 'k'), 'utf8'),
      publicKey: readFileSync(join(dir, 'k.pub'), 'utf8').trim(),
    };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

const KEY = keyPair();
const OTHER = keyPair();

function read(inputs: Record<string, string>) {
  const all: Record<string, string> = { token: 'dop_v1_abc', 'ssh-private-key': KEY.privateKey, ...inputs };
  return readInputs({ getInput: (n) => all[n] ?? '' });
}

describe('provision-droplet inputs', () => {
  it('has sensible defaults for one droplet', () => {
    const i = read({ name: 'web' });
    expect(i).toMatchObject({
      endpoint: 'https://api.digitalocean.com/v2',
      app: 'web',
      names: ['web'],
      region: 'nyc3',
      size: 's-1vcpu-1gb',
      image: 'docker-20-04',
      tags: [],
      monitoring: true,
      backups: false,
      ipv6: false,
      sshPublicKey: KEY.publicKey.split(' ').slice(0, 2).join(' '),
      sshKeyIds: [],
      sshKeyName: 'droplet-deploy-web',
      deployUser: 'deploy',
      swap: { kind: 'auto' },
      firewall: false,
      sshAllow: ['0.0.0.0/0', '::/0'],
      firewallPorts: [],
      reservedIp: { kind: 'none' },
      waitTimeoutMs: 600_000,
      cleanupOnFailure: true,
      knownHosts: [],
    });
  });

  it('accepts count 1 next to name (what a workflow default passes)', () => {
    expect(read({ name: 'web', count: '1' }).names).toEqual(['web']);
  });

  it('names a fleet <prefix>-1..N and takes the app from the prefix', () => {
    const i = read({ 'name-prefix': 'Shop-web', count: '3', 'api-endpoint': 'http://127.0.0.1:9/v2/' });
    expect(i.names).toEqual(['Shop-web-1', 'Shop-web-2', 'Shop-web-3']);
    expect(i.app).toBe('shop-web');
    expect(i.endpoint).toBe('http://127.0.0.1:9/v2');
  });

  it('reads every optional input', () => {
    const i = read({
      name: 'api.example.com',
      app: 'shop',
      image: '12345',
      tags: 'prod, team:web',
      'vpc-uuid': '5a4981aa-9653-4bd1-bef5-d6bff52042e4',
      monitoring: 'false',
      backups: 'true',
      ipv6: 'true',
      'ssh-public-key': KEY.publicKey,
      'ssh-key-ids': '123, aa:bb:cc:dd:ee:ff:00:11:22:33:44:55:66:77:88:99',
      swap: '512M',
      firewall: 'true',
      'ssh-allow': '203.0.113.0/24, 2001:db8::/32',
      'firewall-ports': '8080, 9000-9100, 53/udp',
      'reserved-ip': '203.0.113.7',
      'wait-timeout': '15m',
      'cleanup-on-failure': 'false',
      'known-hosts': '203.0.113.7 ' + OTHER.publicKey,
      'deploy-user': 'app',
      'user-data': '#cloud-config\nruncmd: [echo]',
    });
    expect(i).toMatchObject({
      app: 'shop',
      image: 12345,
      tags: ['prod', 'team:web'],
      vpcUuid: '5a4981aa-9653-4bd1-bef5-d6bff52042e4',
      monitoring: false,
      backups: true,
      ipv6: true,
      sshKeyIds: [123, 'aa:bb:cc:dd:ee:ff:00:11:22:33:44:55:66:77:88:99'],
      swap: { kind: 'size', bytes: 512 * 1024 ** 2, text: '512M' },
      firewall: true,
      sshAllow: ['203.0.113.0/24', '2001:db8::/32'],
      firewallPorts: [
        { protocol: 'tcp', ports: '8080' },
        { protocol: 'tcp', ports: '9000-9100' },
        { protocol: 'udp', ports: '53' },
      ],
      reservedIp: { kind: 'assign', ip: '203.0.113.7' },
      waitTimeoutMs: 900_000,
      cleanupOnFailure: false,
      deployUser: 'app',
      userData: '#cloud-config\nruncmd: [echo]',
    });
    expect(i.knownHosts).toHaveLength(1);
  });

  it.each<[Record<string, string>, string]>([
    [{}, 'one of the inputs "name" (one droplet) or "name-prefix" with "count" (a fleet) is required'],
    [{ name: 'a', 'name-prefix': 'b' }, 'inputs "name" and "name-prefix" cannot be used together'],
    [{ name: 'a', count: '2' }, 'input "count" goes with "name-prefix"'],
    [{ name: 'a', count: 'x' }, 'input "count" goes with "name-prefix"'],
    [{ name: 'web_1' }, 'input "name" has "web_1": not a valid hostname'],
    [{ name: '-web' }, 'input "name" has "-web": not a valid hostname'],
    [{ name: 'a'.repeat(64) }, 'not a valid hostname'],
    [{ 'name-prefix': 'web', count: '0' }, 'input "count" has "0": must be at least 1'],
    [{ 'name-prefix': 'web', count: '101' }, 'input "count" has "101": must be at most 100'],
    [{ 'name-prefix': 'web', count: 'two' }, 'input "count" has "two": expected a whole number'],
    [{ 'name-prefix': 'w'.repeat(60), count: '2' }, 'input "name-prefix"'],
    [{ name: 'web', app: 'My App' }, 'input "app" has "My App"'],
    [{ name: 'web', region: 'New York' }, 'input "region" has "New York": not a region slug'],
    [{ name: 'web', size: 'S_1GB' }, 'input "size" has "S_1GB": not a size slug'],
    [{ name: 'web', image: 'Ubuntu 24' }, 'input "image" has "Ubuntu 24"'],
    [{ name: 'web', tags: 'ok, not ok' }, 'input "tags" has "not ok"'],
    [{ name: 'web', 'vpc-uuid': 'default' }, 'input "vpc-uuid" has "default": not a VPC UUID'],
    [{ name: 'web', monitoring: 'yes' }, 'input "monitoring" has "yes": expected true or false'],
    [
      { name: 'web', 'ssh-public-key': 'ssh-ed25519 AAAAnotakey' },
      'input "ssh-public-key" has "ssh-ed25519 AAAAnotakey"',
    ],
    [
      { name: 'web', 'ssh-public-key': OTHER.publicKey },
      'input "ssh-public-key" is not the public half of "ssh-private-key"',
    ],
    [{ name: 'web', 'ssh-private-key': '' }, 'input "ssh-private-key" is empty'],
    [{ name: 'web', 'ssh-private-key': KEY.publicKey }, 'input "ssh-private-key" holds a public key'],
    [{ name: 'web', 'ssh-key-ids': 'my-key' }, 'input "ssh-key-ids" has "my-key"'],
    [{ name: 'web', 'deploy-user': 'root' }, 'input "deploy-user" has "root"'],
    [{ name: 'web', 'deploy-user': 'Deploy' }, 'input "deploy-user" has "Deploy"'],
    [{ name: 'web', swap: 'lots' }, 'input "swap" has "lots"'],
    [{ name: 'web', swap: '128G' }, 'input "swap" has "128G"'],
    [{ name: 'web', firewall: 'maybe' }, 'input "firewall" has "maybe": expected true or false'],
    [{ name: 'web', 'ssh-allow': '1.2.3.4' }, 'input "ssh-allow" needs "firewall: true"'],
    [{ name: 'web', firewall: 'true', 'ssh-allow': '1.2.3.4/33' }, 'input "ssh-allow" has "1.2.3.4/33"'],
    [{ name: 'web', firewall: 'true', 'firewall-ports': '70000' }, 'input "firewall-ports" has "70000"'],
    [{ name: 'web', firewall: 'true', 'firewall-ports': '90-80' }, 'input "firewall-ports" has "90-80"'],
    [{ name: 'web', 'reserved-ip': 'yes please' }, 'input "reserved-ip" has "yes please"'],
    [
      { 'name-prefix': 'web', count: '2', 'reserved-ip': 'create' },
      'input "reserved-ip" needs exactly one droplet, but 2',
    ],
    [{ name: 'web', 'wait-timeout': '5s' }, 'input "wait-timeout" has "5s": must be at least 10s'],
    [{ name: 'web', 'wait-timeout': 'soon' }, 'input "wait-timeout" has "soon"'],
    [{ name: 'web', 'known-hosts': 'not a line' }, 'input "known-hosts" line 1'],
    [{ name: 'web', 'api-endpoint': 'ftp://x' }, 'input "api-endpoint" has "ftp://x"'],
  ])('refuses %j', (inputs, message) => {
    expect(() => read(inputs)).toThrow(ConfigurationError);
    expect(() => read(inputs)).toThrow(message);
  });

  it('requires the token', () => {
    expect(() => readInputs({ getInput: (n) => (n === 'name' ? 'web' : '') })).toThrow('input "token" is required');
  });

  it('never shows the private key in an error', () => {
    try {
      read({
        name: 'web',
        'ssh-private-key': `-----BEGIN OPENSSH PRIVATE KEY-----\nsecretsecretsecret\n-----END OPENSSH PRIVATE KEY-----`,
      });
      expect.unreachable();
    } catch (e) {
      expect((e as Error).message).not.toContain('secretsecretsecret');
    }
  });
});

describe('action.yml', () => {
  it('documents exactly the inputs inputs.ts reads, and every output run.ts writes', async () => {
    const { readFileSync: read } = await import('node:fs');
    const { parse } = await import('yaml');
    const yml = parse(read(new URL('../../../actions/provision-droplet/action.yml', import.meta.url), 'utf8')) as {
      inputs: Record<string, { description: string; required?: boolean; default?: string }>;
      outputs: Record<string, { description: string }>;
    };
    const asked = new Set<string>();
    const all: Record<string, string> = {
      token: 't',
      name: 'web',
      'ssh-private-key': KEY.privateKey,
      'ssh-public-key': KEY.publicKey,
      firewall: 'true',
      'ssh-allow': '1.2.3.4',
      'firewall-ports': '8080',
      'user-data': '#cloud-config',
    };
    readInputs({ getInput: (n) => (asked.add(n), all[n] ?? '') });
    expect([...asked].sort()).toEqual(Object.keys(yml.inputs).sort());
    for (const [name, spec] of Object.entries(yml.inputs)) expect(spec.description.length, name).toBeGreaterThan(15);
    expect(Object.keys(yml.outputs).sort()).toEqual(
      ['created-count', 'droplets', 'firewall-id', 'ids', 'known-hosts', 'public-ips', 'reserved-ip'].sort(),
    );
  });
});
