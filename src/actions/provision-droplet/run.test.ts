import { describe, expect, it } from 'vitest';

import type { Logger } from '../../lib/action/logger.js';
import type { SummaryDocument } from '../../lib/action/summary.js';
import { generateHostKeyPair, hostKeyTag, hostPublicKeyTag, type HostKeyPair } from '../../lib/cloud-init/host-key.js';
import { ActionTimeoutError, DigitalOceanApiError } from '../../lib/digitalocean/errors.js';
import type {
  Action,
  CreateDropletsRequest,
  Droplet,
  Firewall,
  FirewallRequest,
  ReservedIp,
  Size,
  SshKey,
} from '../../lib/digitalocean/types.js';
import type { ExecResult, RemoteHost } from '../../lib/ssh/executor.js';
import { HostKeyMismatchError, parseKnownHosts } from '../../lib/ssh/host-keys.js';
import { render, type Script } from '../../lib/commands/cmd.js';
import type { Inputs } from './inputs.js';
import { autoSwapBytes, type Deps, md5Fingerprint, type ProvisionApi, run, trustForFound } from './run.js';

const USER_KEY = 'ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIGkZ7GqRTTdXs3R8QwKxjgLkQWmkHc8uV1l0QzH3Xy3a';

function inputs(over: Partial<Inputs> = {}): Inputs {
  return {
    token: 't',
    endpoint: 'http://127.0.0.1:1/v2',
    app: 'shop',
    names: ['shop-1', 'shop-2'],
    region: 'nyc3',
    size: 's-1vcpu-1gb',
    image: 'ubuntu-24-04-x64',
    tags: [],
    monitoring: true,
    backups: false,
    ipv6: false,
    sshPublicKey: USER_KEY,
    sshKeyIds: [],
    sshKeyName: 'droplet-deploy-shop',
    sshPrivateKey: '-----BEGIN OPENSSH PRIVATE KEY-----\nAAAAprivatekeyline\n-----END OPENSSH PRIVATE KEY-----\n',
    deployUser: 'deploy',
    swap: { kind: 'auto' },
    firewall: false,
    sshAllow: ['0.0.0.0/0', '::/0'],
    firewallPorts: [],
    reservedIp: { kind: 'none' },
    waitTimeoutMs: 60_000,
    cleanupOnFailure: true,
    knownHosts: [],
    ...over,
  };
}

/** A plain-object DigitalOcean: droplets become active on the first poll unless told otherwise. */
class FakeApi {
  droplets: Droplet[] = [];
  calls: string[] = [];
  requests: CreateDropletsRequest[] = [];
  sshKeys: SshKey[] = [];
  firewalls: Firewall[] = [];
  nextId = 100;
  createFailures: DigitalOceanApiError[] = [];
  createButFail = false;
  neverActive = new Set<string>();
  reservedIps: ReservedIp[] = [];

  droplet(name: string, tags: string[], n = this.nextId++): Droplet {
    return {
      id: n,
      name,
      status: 'new',
      memory: 1024,
      vcpus: 1,
      disk: 25,
      locked: false,
      created_at: '2026-01-01T00:00:00Z',
      region: { slug: 'nyc3' },
      size_slug: 's-1vcpu-1gb',
      image: { slug: 'ubuntu-24-04-x64' },
      tags,
      networks: { v4: [], v6: [] },
    };
  }

  api(): ProvisionApi {
    return apiOf(this);
  }
}

function apiOf(self: FakeApi): ProvisionApi {
  const api: Partial<ProvisionApi> = {
    async listDropletsByTag(tag: string) {
      self.calls.push(`list ${tag}`);
      return self.droplets.filter((d) => d.tags.includes(tag));
    },
    async getDroplet(id: number) {
      const d = self.droplets.find((x) => x.id === id);
      if (!d) throw new DigitalOceanApiError('GET', `/droplets/${id}`, 404, 'not_found', 'nope', 'r', 1);
      if (!self.neverActive.has(d.name)) {
        d.status = 'active';
        d.networks.v4 = [
          { ip_address: `203.0.113.${d.id - 99}`, netmask: '255.255.255.0', gateway: '203.0.113.1', type: 'public' },
          { ip_address: `10.0.0.${d.id - 99}`, netmask: '255.255.0.0', gateway: '10.0.0.1', type: 'private' },
        ];
      }
      return structuredClone(d);
    },
    async createDroplets(req: CreateDropletsRequest) {
      self.calls.push(`create ${req.name}`);
      self.requests.push(req);
      const failure = self.createFailures.shift();
      if (failure && !self.createButFail) throw failure;
      const d = self.droplet(req.name as string, req.tags ?? []);
      self.droplets.push(d);
      if (failure) throw failure;
      return { droplets: [structuredClone(d)], actionIds: [d.id * 10] };
    },
    async deleteDroplet(id: number) {
      self.calls.push(`delete ${id}`);
      self.droplets = self.droplets.filter((d) => d.id !== id);
    },
    async waitForAction(id: number, options: { timeoutMs: number; label?: string }): Promise<Action> {
      const d = self.droplets.find((x) => x.id * 10 === id);
      if (d && self.neverActive.has(d.name)) {
        throw new ActionTimeoutError(id, 'create', options.label ?? '', 'in-progress', options.timeoutMs);
      }
      return { id, status: 'completed', type: 'create' };
    },
    async listSshKeys() {
      return self.sshKeys;
    },
    async createSshKey(name: string, publicKey: string) {
      self.calls.push(`create key ${name}`);
      const k = { id: 7, name, public_key: publicKey, fingerprint: md5Fingerprint(publicKey) };
      self.sshKeys.push(k);
      return k;
    },
    async listSizes(): Promise<Size[]> {
      return [{ slug: 's-1vcpu-1gb', memory: 1024, vcpus: 1, disk: 25, available: true, regions: ['nyc3', 'fra1'] }];
    },
    async tagDroplets(tag: string, ids: readonly number[]) {
      self.calls.push(`tag ${tag} ${ids.join(',')}`);
      for (const d of self.droplets) if (ids.includes(d.id)) d.tags.push(tag);
    },
    async listFirewalls() {
      return self.firewalls;
    },
    async createFirewall(req: FirewallRequest) {
      self.calls.push(`create firewall ${req.name}`);
      const f: Firewall = { id: 'fw1', droplet_ids: [], tags: [], ...req };
      self.firewalls.push(f);
      return f;
    },
    async updateFirewall(id: string, req: FirewallRequest) {
      self.calls.push(`update firewall ${id}`);
      const f: Firewall = { id, droplet_ids: [], tags: [], ...req };
      self.firewalls = [f];
      return f;
    },
    async listReservedIps() {
      return self.reservedIps;
    },
    async getReservedIp(ip: string) {
      const r = self.reservedIps.find((x) => x.ip === ip);
      if (!r) throw new DigitalOceanApiError('GET', `/reserved_ips/${ip}`, 404, 'not_found', 'no such IP', 'r', 1);
      return r;
    },
    async createReservedIp(target: { region: string } | { dropletId: number }) {
      self.calls.push(`reserve ${'region' in target ? target.region : target.dropletId}`);
      const r: ReservedIp = {
        ip: `198.51.100.${self.reservedIps.length + 1}`,
        region: { slug: 'nyc3' },
        droplet: null,
        locked: false,
      };
      self.reservedIps.push(r);
      return r;
    },
    async assignReservedIp(ip: string, dropletId: number): Promise<Action> {
      self.calls.push(`assign ${ip} ${dropletId}`);
      const r = self.reservedIps.find((x) => x.ip === ip)!;
      r.droplet = self.droplets.find((d) => d.id === dropletId) ?? null;
      return { id: 9, status: 'in-progress', type: 'assign_ip' };
    },
    async addTagsToFirewall(id: string, tags: readonly string[]) {
      self.calls.push(`tag firewall ${id} ${tags.join(',')}`);
    },
  };
  return api as ProvisionApi;
}

/** A droplet that answers like a finished cloud-init with Compose v2. */
function fakeHost(address: string, overrides: Partial<Record<string, ExecResult>> = {}): RemoteHost {
  return {
    label: address,
    address,
    async run(script: Script): Promise<ExecResult> {
      const c = render(script);
      return (
        overrides[c] ??
        (c.startsWith('docker compose')
          ? { code: 0, stdout: 'Docker Compose version v2.29.1\n', stderr: '' }
          : { code: 0, stdout: '', stderr: '' })
      );
    },
    upload: async () => undefined,
    stream: async () => ({ code: 0, stderr: '' }),
    close: async () => undefined,
  };
}

interface Harness {
  fake: FakeApi;
  deps: Deps;
  outputs: Record<string, string>;
  logs: string[];
  secrets: string[];
  keys: HostKeyPair[];
  trusted: Map<string, string[]>;
  summary: SummaryDocument[];
}

function harness(connect?: Deps['connect']): Harness {
  const fake = new FakeApi();
  const outputs: Record<string, string> = {};
  const logs: string[] = [];
  const secrets: string[] = [];
  const keys: HostKeyPair[] = [];
  const trusted = new Map<string, string[]>();
  const summary: SummaryDocument[] = [];
  let clock = 0;
  const logger: Logger = {
    info: (m) => logs.push(m),
    warn: (m) => logs.push(`WARN ${m}`),
    error: (m) => logs.push(`ERROR ${m}`),
    debug: () => undefined,
    group: (_n, fn) => fn(),
  };
  const deps: Deps = {
    io: {
      setOutput: (k, v) => (outputs[k] = v),
      setSecret: (v) => secrets.push(v),
      writeSummary: async (d) => void summary.push(d),
      logger,
    },
    api: fake.api(),
    connect:
      connect ??
      (async (target, trust) => {
        trusted.set(target.host, trust.fingerprints);
        return fakeHost(target.host);
      }),
    generateHostKey: () => {
      const k = generateHostKeyPair();
      keys.push(k);
      return k;
    },
    sleep: async (ms) => void (clock += ms),
    now: () => clock,
  };
  return { fake, deps, outputs, logs, secrets, keys, trusted, summary };
}

describe('provision-droplet run', () => {
  it('creates the missing droplets, each with its own pinned host key, and outputs them', async () => {
    const h = harness();
    const out = await run(inputs(), h.deps);
    expect(h.fake.calls).toEqual(['list shop', 'create key droplet-deploy-shop', 'create shop-1', 'create shop-2']);
    const [r1, r2] = h.fake.requests;
    expect(r1?.tags).toEqual(['shop', hostKeyTag(h.keys[0]!.fingerprint), hostPublicKeyTag(h.keys[0]!.publicKey)]);
    expect(r2?.tags).toEqual(['shop', hostKeyTag(h.keys[1]!.fingerprint), hostPublicKeyTag(h.keys[1]!.publicKey)]);
    expect(r1?.user_data).toContain(h.keys[0]!.publicKey);
    expect(r1?.user_data).not.toContain(h.keys[1]!.publicKey);
    expect(r1?.user_data).toContain('size: 1073741824'); // auto swap for a 1 GB droplet
    expect(r1).toMatchObject({
      region: 'nyc3',
      size: 's-1vcpu-1gb',
      image: 'ubuntu-24-04-x64',
      ssh_keys: [7],
      monitoring: true,
    });
    expect(out.createdCount).toBe(2);
    expect(h.outputs).toEqual({
      droplets: JSON.stringify([
        {
          id: 100,
          name: 'shop-1',
          public_ipv4: '203.0.113.1',
          private_ipv4: '10.0.0.1',
          region: 'nyc3',
          size: 's-1vcpu-1gb',
          status: 'active',
          created: true,
          host_key_fingerprint: h.keys[0]!.fingerprint,
        },
        {
          id: 101,
          name: 'shop-2',
          public_ipv4: '203.0.113.2',
          private_ipv4: '10.0.0.2',
          region: 'nyc3',
          size: 's-1vcpu-1gb',
          status: 'active',
          created: true,
          host_key_fingerprint: h.keys[1]!.fingerprint,
        },
      ]),
      ids: '100,101',
      'public-ips': '203.0.113.1,203.0.113.2',
      'known-hosts': `203.0.113.1 ${h.keys[0]!.publicKey}\n203.0.113.2 ${h.keys[1]!.publicKey}`,
      'created-count': '2',
      'firewall-id': '',
      'reserved-ip': '',
    });
    // SSH trusted exactly the generated key of each droplet
    expect(h.trusted.get('203.0.113.1')).toEqual([h.keys[0]!.fingerprint]);
    expect(h.trusted.get('203.0.113.2')).toEqual([h.keys[1]!.fingerprint]);
    // the host private keys and the user's key were registered for masking
    expect(h.secrets).toContain('AAAAprivatekeyline');
    expect(h.secrets).toContain(h.keys[0]!.privateKey.split('\n')[1]);
    expect(h.summary[0]?.markdown).toContain('| shop-1 | 100 | 203.0.113.1 | 10.0.0.1 | nyc3 | s-1vcpu-1gb | yes |');
  });

  it('is idempotent: a re-run finds the droplets by name + app tag, creates nothing and gives the same outputs', async () => {
    const h = harness();
    await run(inputs(), h.deps);
    const first = { ...h.outputs };
    h.fake.calls = [];
    await run(inputs(), h.deps);
    expect(h.fake.calls).toEqual(['list shop']);
    expect(h.outputs['created-count']).toBe('0');
    for (const k of ['ids', 'public-ips', 'known-hosts']) expect(h.outputs[k]).toBe(first[k]);
    expect(JSON.parse(h.outputs['droplets'] ?? '')).toEqual(
      (JSON.parse(first['droplets'] ?? '') as object[]).map((d) => ({ ...d, created: false })),
    );
  });

  it('creates only the missing one of a fleet', async () => {
    const h = harness();
    await run(inputs({ names: ['shop-1'] }), h.deps);
    h.fake.calls = [];
    await run(inputs({ names: ['shop-1', 'shop-2'] }), h.deps);
    expect(h.fake.calls.filter((c) => c.startsWith('create'))).toEqual(['create shop-2']);
    expect(h.outputs['created-count']).toBe('1');
  });

  it('reuses an account SSH key with the same fingerprint', async () => {
    const h = harness();
    h.fake.sshKeys = [
      { id: 55, name: 'mine', public_key: `${USER_KEY} me@laptop`, fingerprint: md5Fingerprint(USER_KEY) },
    ];
    await run(inputs({ names: ['shop-1'] }), h.deps);
    expect(h.fake.calls).not.toContain('create key droplet-deploy-shop');
    expect(h.fake.requests[0]?.ssh_keys).toEqual([55]);
  });

  it('after a 5xx on create, re-lists by the host key tag: adopts a droplet that was made anyway', async () => {
    const h = harness();
    h.fake.createFailures = [new DigitalOceanApiError('POST', '/droplets', 500, 'server_error', 'boom', 'r', 1)];
    h.fake.createButFail = true;
    await run(inputs({ names: ['shop-1'] }), h.deps);
    expect(h.fake.calls.filter((c) => c.startsWith('create shop'))).toEqual(['create shop-1']);
    expect(h.fake.droplets).toHaveLength(1);
    expect(h.logs.join('\n')).toContain('the create request failed');
  });

  it('after a 5xx on create that made nothing, tries again', async () => {
    const h = harness();
    h.fake.createFailures = [new DigitalOceanApiError('POST', '/droplets', 503, 'unavailable', 'later', 'r', 1)];
    await run(inputs({ names: ['shop-1'] }), h.deps);
    expect(h.fake.calls.filter((c) => c.startsWith('create shop'))).toEqual(['create shop-1', 'create shop-1']);
    expect(h.fake.droplets).toHaveLength(1);
  });

  it('deletes the droplets it created when one never becomes active, and says so', async () => {
    const h = harness();
    h.fake.neverActive.add('shop-2');
    const error = (await run(inputs(), h.deps).catch((e: unknown) => e)) as Error;
    expect(error.message).toBe(
      'droplet shop-2 (id 101): step "active" did not complete within 1m ("wait-timeout"); last output:\n' +
        'DigitalOcean action 1010 (create) is still "in-progress"\n' +
        'Cleanup: deleted the droplet(s) this run created: shop-1 (id 100), shop-2 (id 101).',
    );
    expect(h.fake.droplets).toEqual([]);
  });

  it('leaves them when cleanup-on-failure is false, and never deletes droplets it found', async () => {
    const h = harness();
    await run(inputs({ names: ['shop-1'] }), h.deps);
    h.fake.neverActive.add('shop-2');
    const error = (await run(inputs({ cleanupOnFailure: true }), h.deps).catch((e: unknown) => e)) as Error;
    expect(error.message).toContain('Cleanup: deleted the droplet(s) this run created: shop-2 (id 101).');
    expect(h.fake.droplets.map((d) => d.name)).toEqual(['shop-1']);

    const h2 = harness();
    h2.fake.neverActive.add('shop-1');
    const e2 = (await run(inputs({ names: ['shop-1'], cleanupOnFailure: false }), h2.deps).catch(
      (e: unknown) => e,
    )) as Error;
    expect(e2.message).toContain('were left in place ("cleanup-on-failure" is false): shop-1 (id 100)');
    expect(h2.fake.droplets).toHaveLength(1);
  });

  it('refuses a found droplet with no recorded host key before creating anything', async () => {
    const h = harness();
    const d = h.fake.droplet('shop-1', ['shop']);
    h.fake.droplets.push(d);
    await h.deps.api.getDroplet(d.id);
    const error = (await run(inputs(), h.deps).catch((e: unknown) => e)) as Error;
    expect(error.name).toBe('ConfigurationError');
    expect(error.message).toContain('droplet shop-1 (id 100, 203.0.113.1) exists but has no recorded host key');
    expect(error.message).toContain('"known-hosts: 203.0.113.1 ssh-ed25519 AAAA…"');
    expect(h.fake.calls.some((c) => c.startsWith('create'))).toBe(false);
  });

  it('fails a droplet whose SSH host key is not the pinned one, naming it and the step', async () => {
    const h = harness(async (target) => {
      throw new HostKeyMismatchError(target.host, 22, { type: 'ssh-ed25519', fingerprint: 'SHA256:other' }, []);
    });
    const error = (await run(inputs({ names: ['shop-1'] }), h.deps).catch((e: unknown) => e)) as Error;
    expect(error.message).toMatch(
      /^1 droplet\(s\) not usable:\ndroplet shop-1 \(203\.0\.113\.1\): step "ssh" refused: the droplet's host key is not the pinned one/,
    );
    expect(error.message).toContain('Cleanup: deleted');
  });

  it('waits for SSH until the deadline, then reports the last error', async () => {
    const h = harness(async () => {
      throw new Error('connect ECONNREFUSED');
    });
    const error = (await run(inputs({ names: ['shop-1'], waitTimeoutMs: 30_000 }), h.deps).catch(
      (e: unknown) => e,
    )) as Error;
    expect(error.message).toMatch(
      /step "ssh" did not succeed within the wait \(\d+ attempts\); last output:\nconnect ECONNREFUSED/,
    );
  });

  it('reports a cloud-init error with its long status', async () => {
    const h = harness(async (target) =>
      fakeHost(target.host, {
        'cloud-init status --wait': { code: 1, stdout: '', stderr: '' },
        'cloud-init status --long 2>&1': { code: 1, stdout: 'status: error\nerrors:\n\t- runcmd failed', stderr: '' },
      }),
    );
    const error = (await run(inputs({ names: ['shop-1'] }), h.deps).catch((e: unknown) => e)) as Error;
    expect(error.message).toContain(
      'step "cloud-init" finished with an error; last output:\nstatus: error\nerrors:\n\t- runcmd failed',
    );
  });

  it('accepts Compose v1 and fails clearly when neither works', async () => {
    const h = harness(async (target) =>
      fakeHost(target.host, {
        'docker compose version || docker-compose version': {
          code: 127,
          stdout: '',
          stderr: 'docker-compose: not found',
        },
      }),
    );
    const error = (await run(inputs({ names: ['shop-1'] }), h.deps).catch((e: unknown) => e)) as Error;
    expect(error.message).toContain(
      'step "docker compose" failed for user deploy: neither "docker compose version" nor "docker-compose version" works',
    );
  });

  it('creates the app firewall once, then leaves it alone', async () => {
    const h = harness();
    await run(inputs({ firewall: true, firewallPorts: [{ protocol: 'tcp', ports: '8080' }] }), h.deps);
    expect(h.fake.calls).toContain('create firewall droplet-deploy-shop');
    const fw = h.fake.firewalls[0]!;
    expect(fw.tags).toEqual(['shop']);
    expect(fw.inbound_rules.map((r) => `${r.protocol}/${r.ports}`)).toEqual([
      'tcp/22',
      'tcp/80',
      'tcp/443',
      'tcp/8080',
    ]);
    expect(h.outputs['firewall-id']).toBe('fw1');
    h.fake.calls = [];
    await run(inputs({ firewall: true, firewallPorts: [{ protocol: 'tcp', ports: '8080' }] }), h.deps);
    expect(h.fake.calls).toEqual(['list shop']);
    await run(inputs({ firewall: true, sshAllow: ['198.51.100.0/24'] }), h.deps);
    expect(h.fake.calls).toContain('update firewall fw1');
  });

  it('creates a reserved IP once, assigns it, and lists it in known_hosts', async () => {
    const h = harness();
    await run(inputs({ names: ['shop-1'], reservedIp: { kind: 'create' } }), h.deps);
    expect(h.fake.calls.slice(-2)).toEqual(['reserve nyc3', 'assign 198.51.100.1 100']);
    expect(h.outputs['reserved-ip']).toBe('198.51.100.1');
    expect(h.outputs['known-hosts']).toBe(`203.0.113.1 ${h.keys[0]!.publicKey}\n198.51.100.1 ${h.keys[0]!.publicKey}`);
    h.fake.calls = [];
    await run(inputs({ names: ['shop-1'], reservedIp: { kind: 'create' } }), h.deps);
    expect(h.fake.calls).toEqual(['list shop']);
    expect(h.outputs['reserved-ip']).toBe('198.51.100.1');
  });

  it('assigns an existing reserved IP, and leaves it when it already points at the droplet', async () => {
    const h = harness();
    h.fake.reservedIps.push({ ip: '198.51.100.77', region: { slug: 'nyc3' }, droplet: null, locked: false });
    await run(inputs({ names: ['shop-1'], reservedIp: { kind: 'assign', ip: '198.51.100.77' } }), h.deps);
    expect(h.fake.calls).toContain('assign 198.51.100.77 100');
    h.fake.calls = [];
    await run(inputs({ names: ['shop-1'], reservedIp: { kind: 'assign', ip: '198.51.100.77' } }), h.deps);
    expect(h.fake.calls).toEqual(['list shop']);
  });

  it('adds tags given later to found droplets', async () => {
    const h = harness();
    await run(inputs(), h.deps);
    h.fake.calls = [];
    await run(inputs({ tags: ['prod'] }), h.deps);
    expect(h.fake.calls).toEqual(['list shop', 'tag prod 100,101']);
  });
});

describe('trustForFound', () => {
  const base = new FakeApi().droplet('web-1', []);
  base.networks.v4 = [{ ip_address: '203.0.113.9', netmask: '', gateway: '', type: 'public' }];

  it('trusts the key recorded in the tags', () => {
    const k = generateHostKeyPair();
    const t = trustForFound({ ...base, tags: [hostKeyTag(k.fingerprint), hostPublicKeyTag(k.publicKey)] }, []);
    expect(t).toEqual({
      publicKeys: [k.publicKey],
      fingerprint: k.fingerprint,
      trust: { knownHosts: [], fingerprints: [k.fingerprint] },
    });
  });

  it('lets known-hosts override the tags', () => {
    const k = generateHostKeyPair();
    const other = generateHostKeyPair();
    const kh = parseKnownHosts(`203.0.113.9 ${other.publicKey}\n198.51.100.1 ${k.publicKey}`);
    const t = trustForFound({ ...base, tags: [hostKeyTag(k.fingerprint), hostPublicKeyTag(k.publicKey)] }, kh);
    expect(typeof t === 'object' && t.publicKeys).toEqual([other.publicKey]);
    expect(typeof t === 'object' && t.trust.knownHosts).toHaveLength(1);
  });

  it('refuses contradicting tags', () => {
    const k = generateHostKeyPair();
    const other = generateHostKeyPair();
    const t = trustForFound({ ...base, tags: [hostKeyTag(other.fingerprint), hostPublicKeyTag(k.publicKey)] }, []);
    expect(t).toMatch(/its tags record two different host keys/);
  });
});

describe('helpers', () => {
  it.each([
    [512, 1024 ** 3],
    [1024, 1024 ** 3],
    [2048, 2 * 1024 ** 3],
    [4096, 0],
  ])('auto swap for %i MB RAM → %i bytes', (mb, bytes) => {
    expect(autoSwapBytes(mb)).toBe(bytes);
  });

  it('computes the MD5 fingerprint DigitalOcean lists keys by', () => {
    expect(md5Fingerprint(USER_KEY)).toMatch(/^([0-9a-f]{2}:){15}[0-9a-f]{2}$/);
  });
});
