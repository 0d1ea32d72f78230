// provision-droplet end to end: the BUNDLED action (dist/provision-droplet/index.js, run as the
// runner runs node24 actions) against the lab's DigitalOcean API fake, whose droplets are real
// containers running sshd + Docker and processing user_data like cloud-init.
import { spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import { fingerprintHex } from '../../src/lib/cloud-init/host-key.js';
import { createClient, type DigitalOceanClient } from '../../src/lib/digitalocean/client.js';
import { publicIpv4 } from '../../src/lib/digitalocean/types.js';
import { generateKeyPair, sshConnect, useLab } from '../lab/fixture.js';
import { visibleLog } from '../support/deploy-compose-lab.js';
import { buildPrivateBundle } from '../support/private-bundle.js';
import { type ActionRunResult, runAction } from '../support/run-action.js';

const lab = useLab();
const run = randomBytes(2).toString('hex');
const app = `pv${run}`;
const identity = generateKeyPair('provision-e2e');
let api: DigitalOceanClient;
const tmp = mkdtempSync(join(tmpdir(), 'ddlab-provision-'));
const keyFile = join(tmp, 'id');

interface DropletOut {
  id: number;
  name: string;
  public_ipv4: string;
  private_ipv4: string | null;
  region: string;
  size: string;
  status: string;
  created: boolean;
  host_key_fingerprint: string;
}

async function labControl(method: string, path: string, body?: unknown): Promise<unknown> {
  const base = lab.env.DIGITALOCEAN_API_URL.replace(/\/v2$/, '');
  const r = await fetch(`${base}${path}`, {
    method,
    headers: { authorization: `Bearer ${lab.env.DIGITALOCEAN_TOKEN}`, 'content-type': 'application/json' },
    ...(body === undefined ? {} : { body: JSON.stringify(body) }),
  });
  const text = await r.text();
  return text ? (JSON.parse(text) as unknown) : undefined;
}

async function violations(): Promise<{ operation: string; where: string; path: string; message: string }[]> {
  return ((await labControl('GET', '/_lab/tally')) as { violations: never[] }).violations;
}

function provision(inputs: Record<string, string>): Promise<ActionRunResult> {
  return runAction('provision-droplet', {
    distRoot,
    inputs: {
      token: lab.env.DIGITALOCEAN_TOKEN,
      'api-endpoint': lab.env.DIGITALOCEAN_API_URL,
      'ssh-private-key': identity.privateKey,
      region: 'nyc3',
      size: 's-1vcpu-1gb',
      image: 'ubuntu-24-04-x64',
      ...inputs,
    },
    timeoutMs: 400_000,
  });
}

/** OpenSSH itself, strict host key checking against a given known_hosts file. */
function opensshAsDeploy(ip: string, knownHosts: string, command: string): { code: number | null; out: string } {
  const kh = join(tmp, `kh-${randomBytes(3).toString('hex')}`);
  writeFileSync(kh, `${knownHosts}\n`);
  const r = spawnSync(
    'ssh',
    [
      '-i',
      keyFile,
      '-o',
      'IdentitiesOnly=yes',
      '-o',
      'BatchMode=yes',
      '-o',
      'StrictHostKeyChecking=yes',
      '-o',
      `UserKnownHostsFile=${kh}`,
      '-o',
      'GlobalKnownHostsFile=/dev/null',
      '-o',
      'ConnectTimeout=10',
      `deploy@${ip}`,
      command,
    ],
    { encoding: 'utf8', timeout: 30_000 },
  );
  return { code: r.status, out: `${r.stdout}${r.stderr}` };
}

const USER_DATA = [
  '#cloud-config',
  'write_files:',
  '  - path: /etc/provision-e2e-marker',
  '    content: extra-write-files-ran',
  'runcmd:',
  '  - echo extra-runcmd-ran > /var/tmp/provision-e2e-runcmd',
].join('\n');

let violationsBefore = 0;
// built from the sources into a private folder: never the shared dist/
let distRoot = '';

beforeAll(async () => {
  writeFileSync(keyFile, identity.privateKey, { mode: 0o600 });
  api = createClient({ token: lab.env.DIGITALOCEAN_TOKEN, endpoint: lab.env.DIGITALOCEAN_API_URL });
  const t = Date.now();
  distRoot = buildPrivateBundle('provision-droplet');
  console.log(`bundle built in ${((Date.now() - t) / 1000).toFixed(1)} s`);
  violationsBefore = (await violations()).length;
}, 300_000);

afterAll(async () => {
  await labControl('DELETE', '/_lab/faults');
  const mine = await api.listDropletsByTag(app);
  for (const r of await api.listReservedIps()) {
    if (r.droplet && mine.some((d) => d.id === r.droplet?.id)) await api.http.delete(`/reserved_ips/${r.ip}`);
  }
  for (const d of mine) await api.deleteDroplet(d.id);
  for (const f of await api.listFirewalls())
    if (f.name === `droplet-deploy-${app}`) await api.http.delete(`/firewalls/${f.id}`);
  rmSync(tmp, { recursive: true, force: true });
}, 120_000);

describe('provision-droplet (bundled) on the lab', () => {
  const fleet = {
    app,
    'name-prefix': `${app}-web`,
    count: '2',
    tags: 'e2e',
    firewall: 'true',
    'firewall-ports': '8080',
    'user-data': USER_DATA,
    'wait-timeout': '5m',
  };
  let first: ActionRunResult;

  it('provisions two droplets that are usable as deploy with the pinned host keys', async () => {
    first = await provision(fleet);
    expect(first.exitCode, first.log).toBe(0);
    console.log(`first run: ${(first.durationMs / 1000).toFixed(1)} s\n${first.summary}`);
    expect(first.outputs['created-count']).toBe('2');
    const droplets = JSON.parse(first.outputs['droplets'] ?? '[]') as DropletOut[];
    expect(droplets.map((d) => [d.name, d.created, d.status, d.region, d.size])).toEqual([
      [`${app}-web-1`, true, 'active', 'nyc3', 's-1vcpu-1gb'],
      [`${app}-web-2`, true, 'active', 'nyc3', 's-1vcpu-1gb'],
    ]);
    expect(first.outputs['ids']).toBe(droplets.map((d) => d.id).join(','));
    expect(first.outputs['public-ips']).toBe(droplets.map((d) => d.public_ipv4).join(','));
    const knownHosts = (first.outputs['known-hosts'] ?? '').split('\n');
    expect(knownHosts).toHaveLength(2);
    expect(first.summary).toContain(`| ${app}-web-1 |`);
    expect(visibleLog(first.log)).not.toContain(identity.privateKey.split('\n')[1]);
    expect(visibleLog(first.log)).not.toContain(lab.env.DIGITALOCEAN_TOKEN);

    for (const [i, d] of droplets.entries()) {
      const line = knownHosts[i] as string;
      expect(line.startsWith(`${d.public_ipv4} ssh-ed25519 `)).toBe(true);
      // OpenSSH with the output known_hosts and strict checking: works
      const ok = opensshAsDeploy(d.public_ipv4, line, 'id -un; id -nG; docker compose version; docker ps -q | wc -l');
      expect(ok.code, ok.out).toBe(0);
      expect(ok.out).toMatch(/^deploy\n.*\bdocker\b/m);
      expect(ok.out).toContain('Docker Compose version');
      // pinned from birth: the only host key the droplet offers is the one generated for it
      const scan = spawnSync('ssh-keyscan', ['-T', '10', d.public_ipv4], { encoding: 'utf8' });
      const offered = scan.stdout.split('\n').filter((l) => l && !l.startsWith('#'));
      expect(offered).toEqual([line]);
      // a wrong known_hosts (another key for the same address): refused
      const wrong = `${d.public_ipv4} ${generateKeyPair('impostor').publicKey.split(' ').slice(0, 2).join(' ')}`;
      const refused = opensshAsDeploy(d.public_ipv4, wrong, 'true');
      expect(refused.code).toBe(255);
      expect(refused.out).toContain('Host key verification failed');

      // swap, deploy user, the extra user-data (via node-ssh pinned to the output key)
      const ssh = await sshConnect({
        host: d.public_ipv4,
        username: 'deploy',
        privateKey: identity.privateKey,
        hostKey: line.split(' ').slice(1).join(' '),
      });
      try {
        const r = await ssh.execCommand(
          'ls -l /swapfile; grep swapfile /etc/fstab; getent passwd deploy; stat -c %U /opt/' +
            app +
            '; cat /etc/provision-e2e-marker /var/tmp/provision-e2e-runcmd; cloud-init status --long',
        );
        expect(r.stdout).toMatch(/-rw------- 1 root root 1073741824 .* \/swapfile/);
        expect(r.stdout).toContain('/swapfile none swap sw 0 0');
        expect(r.stdout).toMatch(/^deploy:x:\d+:\d+::\/home\/deploy:\/bin\/bash$/m);
        expect(r.stdout).toContain('\ndeploy\n');
        expect(r.stdout).toContain('extra-write-files-ran');
        expect(r.stdout).toContain('extra-runcmd-ran');
        expect(r.stdout).toContain('status: done');
      } finally {
        ssh.dispose();
      }

      // through the API: tags (app, extra, host key fingerprint recorded) and the firewall
      const fromApi = await api.getDroplet(d.id);
      expect(fromApi.tags).toEqual(
        expect.arrayContaining([app, 'e2e', `hostkey-sha256-${fingerprintHex(d.host_key_fingerprint)}`]),
      );
      expect(publicIpv4(fromApi)).toBe(d.public_ipv4);
    }
    const firewall = (await api.listFirewalls()).find((f) => f.name === `droplet-deploy-${app}`);
    expect(firewall?.id).toBe(first.outputs['firewall-id']);
    expect(firewall?.tags).toEqual([app]);
    expect(firewall?.inbound_rules.map((r) => `${r.protocol}/${r.ports}`).sort()).toEqual([
      'tcp/22',
      'tcp/443',
      'tcp/80',
      'tcp/8080',
    ]);
  });

  it('re-run: 0 created, same outputs', async () => {
    const again = await provision(fleet);
    expect(again.exitCode, again.log).toBe(0);
    console.log(`re-run: ${(again.durationMs / 1000).toFixed(1)} s`);
    expect(again.outputs['created-count']).toBe('0');
    for (const k of ['ids', 'public-ips', 'known-hosts', 'firewall-id'])
      expect(again.outputs[k], k).toBe(first.outputs[k]);
    const a = JSON.parse(first.outputs['droplets'] ?? '[]') as DropletOut[];
    const b = JSON.parse(again.outputs['droplets'] ?? '[]') as DropletOut[];
    expect(b).toEqual(a.map((d) => ({ ...d, created: false })));
    expect(again.log).not.toMatch(/created droplet/);
  });

  it('a known-hosts override that does not match the droplet is refused by the action', async () => {
    const ip = (first.outputs['public-ips'] ?? '').split(',')[0] as string;
    const wrong = `${ip} ${generateKeyPair('impostor').publicKey.split(' ').slice(0, 2).join(' ')}`;
    const r = await provision({ ...fleet, 'known-hosts': wrong });
    expect(r.exitCode).toBe(1);
    const error = r.errors.join('\n');
    expect(error).toContain(
      `droplet ${app}-web-1 (${ip}): step "ssh" refused: the droplet's host key is not the pinned one`,
    );
    expect(error).not.toContain('Cleanup');
    expect((await api.listDropletsByTag(app)).length).toBe(2);
  });

  it('survives a 429 storm on droplet creation', async () => {
    const { id } = (await labControl('POST', '/_lab/faults', {
      kind: 'rate_limit',
      count: 5,
      retryAfterSeconds: 1,
      method: 'POST',
      path: '/droplets$',
    })) as { id: number };
    const r = await provision({ app, name: `${app}-storm`, swap: 'off', 'wait-timeout': '5m' });
    const fault = ((await labControl('GET', '/_lab/faults')) as { faults: { id: number; hits: number }[] }).faults.find(
      (f) => f.id === id,
    );
    await labControl('DELETE', `/_lab/faults/${id}`);
    expect(r.exitCode, r.log).toBe(0);
    expect(fault?.hits).toBe(5);
    expect(r.outputs['created-count']).toBe('1');
    expect(r.log.match(/DigitalOcean API POST \/droplets: HTTP 429; retrying in 1s/g)).toHaveLength(5);
  });

  it('a 5xx on droplet creation is reconciled: exactly one droplet, no duplicate', async () => {
    const { id } = (await labControl('POST', '/_lab/faults', {
      kind: 'server_error',
      count: 1,
      status: 503,
      method: 'POST',
      path: '/droplets$',
    })) as { id: number };
    const r = await provision({ app, name: `${app}-flaky`, swap: 'off' });
    await labControl('DELETE', `/_lab/faults/${id}`);
    expect(r.exitCode, r.log).toBe(0);
    expect(r.outputs['created-count']).toBe('1');
    expect(r.log).toMatch(
      /create failed \(DigitalOcean API POST \/droplets failed: HTTP 503 .*\); nothing was created, trying again|the create request failed .* but the droplet exists/,
    );
    expect((await api.listDropletsByTag(app)).filter((d) => d.name === `${app}-flaky`)).toHaveLength(1);
  });

  it('reserved IP on a Debian 12 droplet (Compose v1): assigned, in known_hosts, reused on re-run', async () => {
    const inputs = { app, name: `${app}-rip`, image: 'debian-12-x64', 'reserved-ip': 'create', swap: '512M' };
    const r = await provision(inputs);
    expect(r.exitCode, r.log).toBe(0);
    const ip = r.outputs['reserved-ip'] ?? '';
    expect(ip).toMatch(/^\d+\.\d+\.\d+\.\d+$/);
    const dropletId = Number(r.outputs['ids']);
    expect((await api.getReservedIp(ip)).droplet?.id).toBe(dropletId);
    const lines = (r.outputs['known-hosts'] ?? '').split('\n');
    const publicIp = r.outputs['public-ips'] ?? '';
    expect(lines.map((l) => l.split(' ')[0])).toEqual([publicIp, ip]);
    expect(r.log).toMatch(/docker-compose version 1\.29/);
    const viaDroplet = opensshAsDeploy(publicIp, lines[0] as string, 'docker-compose version --short; ls -l /swapfile');
    expect(viaDroplet.code, viaDroplet.out).toBe(0);
    expect(viaDroplet.out).toMatch(/1\.29\.\d/);
    expect(viaDroplet.out).toMatch(/536870912 .* \/swapfile/);
    const again = await provision(inputs);
    expect(again.exitCode, again.log).toBe(0);
    expect(again.outputs['created-count']).toBe('0');
    expect(again.outputs['reserved-ip']).toBe(ip);
    expect(again.outputs['known-hosts']).toBe(r.outputs['known-hosts']);
  });

  it('a droplet that never becomes active: clear timeout error, and nothing left behind', async () => {
    const { id } = (await labControl('POST', '/_lab/faults', {
      kind: 'never_active',
      namePattern: `^${app}-stuck$`,
    })) as { id: number };
    const r = await provision({ app, name: `${app}-stuck`, 'wait-timeout': '20s' });
    await labControl('DELETE', `/_lab/faults/${id}`);
    expect(r.exitCode).toBe(1);
    const error = r.errors.join('\n');
    expect(error).toMatch(
      new RegExp(
        `provision-droplet failed: droplet ${app}-stuck \\(id \\d+\\): step "active" did not complete within 20s \\("wait-timeout"\\)`,
      ),
    );
    expect(error).toMatch(/last output:\nDigitalOcean action \d+ \(create\) is still "in-progress"/);
    expect(error).toMatch(
      new RegExp(`Cleanup: deleted the droplet\\(s\\) this run created: ${app}-stuck \\(id \\d+\\)`),
    );
    expect((await api.listDropletsByTag(app)).map((d) => d.name)).not.toContain(`${app}-stuck`);
  });

  it('a found droplet with no recorded host key is an error that says how to fix it', async () => {
    const { droplets } = await api.createDroplets({
      name: `${app}-foreign`,
      region: 'nyc3',
      size: 's-1vcpu-1gb',
      image: 'ubuntu-24-04-x64',
      tags: [app],
    });
    const foreign = droplets[0]!;
    for (let i = 0; i < 50 && !publicIpv4(await api.getDroplet(foreign.id)); i += 1)
      await new Promise((res) => setTimeout(res, 200));
    const ip = publicIpv4(await api.getDroplet(foreign.id));
    const r = await provision({ app, name: `${app}-foreign` });
    expect(r.exitCode).toBe(1);
    const error = r.errors.join('\n');
    expect(error).toContain(`droplet ${app}-foreign (id ${foreign.id}, ${ip}) exists but has no recorded host key`);
    expect(error).toContain(`"known-hosts: ${ip} ssh-ed25519 AAAA…"`);
    expect((await api.getDroplet(foreign.id)).id).toBe(foreign.id); // never deleted: this run did not create it
  });

  it('bad inputs fail before any API call, naming input and value', async () => {
    let requests = 0;
    const server = createServer((_req, res) => {
      requests += 1;
      res.writeHead(500).end();
    });
    await new Promise<void>((res) => server.listen(0, '127.0.0.1', res));
    const endpoint = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
    try {
      const cases: [Record<string, string>, string][] = [
        [{ name: 'web_1' }, 'input "name" has "web_1": not a valid hostname'],
        [{ 'name-prefix': 'web', count: '0' }, 'input "count" has "0": must be at least 1'],
        [{ 'name-prefix': 'web', count: '101' }, 'input "count" has "101": must be at most 100'],
        [{ name: 'web', region: 'New York' }, 'input "region" has "New York": not a region slug'],
        [{ name: 'web', size: 'S_1GB' }, 'input "size" has "S_1GB": not a size slug'],
        [{ name: 'web', firewall: 'maybe' }, 'input "firewall" has "maybe": expected true or false'],
        [
          { name: 'web', 'ssh-public-key': 'ssh-ed25519 AAAAnotakey' },
          'input "ssh-public-key" has "ssh-ed25519 AAAAnotakey"',
        ],
      ];
      for (const [inputs, message] of cases) {
        const r = await runAction('provision-droplet', {
          distRoot,
          inputs: {
            token: 'dop_v1_x',
            'api-endpoint': endpoint,
            'ssh-private-key': identity.privateKey,
            ...inputs,
          },
        });
        expect(r.exitCode, JSON.stringify(inputs)).toBe(1);
        expect(r.errors.join('\n')).toContain(`provision-droplet failed: ${message}`);
      }
      expect(requests).toBe(0);
    } finally {
      server.close();
    }
  });

  it('sent nothing the OpenAPI spec rejects', async () => {
    const mine = (await violations()).slice(violationsBefore);
    expect(mine).toEqual([]);
  });
});
