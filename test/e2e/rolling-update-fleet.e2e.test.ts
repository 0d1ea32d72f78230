// rolling-update across a fleet behind the lab's load balancer (the DO API fake forwards for
// real, with DigitalOcean's health check semantics), with the BUNDLED action:
//   - 4 droplets made through the API (tagged), r1 on all of them, all in the LB;
//   - r2 with batch-size 2 and load-balancer-id under 40 req/s through the LB: no request fails,
//     every droplet ends on r2;
//   - r3 whose web never becomes healthy: the action stops after the first batch and all 4
//     droplets still serve r2 (checked on each droplet), every one back in the LB.
import { execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';

import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';

import { startLoad } from '../../bench/rolling-update-load.js';
import { generateKeyPair } from '../lab/fixture.js';
import {
  buildRollingUpdate,
  getText,
  labImages,
  rollingUpdate,
  RU_FIXTURE_DIR,
} from '../support/rolling-update-lab.js';

const env = inject('lab');
const run = randomBytes(2).toString('hex');
const tag = `ru-fleet-${run}`;
const app = `rf${run}`;
const identity = generateKeyPair(`ru-fleet-${run}`);
let keyId: number | undefined;
let droplets: { id: number; name: string; ip: string }[] = [];
let knownHosts = '';
const lbId = env.LAB_LOAD_BALANCER_ID;

async function api<T>(method: string, path: string, body?: unknown): Promise<T> {
  const res = await fetch(`${env.DIGITALOCEAN_API_URL}${path}`, {
    method,
    headers: { authorization: `Bearer ${env.DIGITALOCEAN_TOKEN}`, 'content-type': 'application/json' },
    ...(body === undefined ? {} : { body: JSON.stringify(body) }),
  });
  const text = await res.text();
  if (!res.ok) throw new Error(`${method} ${path}: ${res.status} ${text}`);
  return (text ? JSON.parse(text) : {}) as T;
}

async function until<T>(what: string, fn: () => Promise<T | undefined>, tries: number, everyMs: number): Promise<T> {
  for (let i = 0; i < tries; i += 1) {
    const v = await fn();
    if (v !== undefined) return v;
    await new Promise((r) => setTimeout(r, everyMs));
  }
  throw new Error(`timed out waiting for ${what}`);
}

async function lbHealth(): Promise<{ droplet_id: number; status: string }[]> {
  const origin = new URL(env.DIGITALOCEAN_API_URL).origin;
  const res = await fetch(`${origin}/_lab/load_balancers/${lbId}/health`, {
    headers: { authorization: `Bearer ${env.DIGITALOCEAN_TOKEN}` },
  });
  return ((await res.json()) as { droplets: { droplet_id: number; status: string }[] }).droplets;
}

function inputs(release: string, extraEnv = ''): Record<string, string> {
  const { web, nginx } = labImages({ env } as never);
  return {
    'droplet-tag': tag,
    token: env.DIGITALOCEAN_TOKEN,
    'api-endpoint': env.DIGITALOCEAN_API_URL,
    'ssh-private-key': identity.privateKey,
    'known-hosts': knownHosts,
    app,
    'compose-files': 'compose.yaml',
    files: 'nginx.conf',
    'working-directory': RU_FIXTURE_DIR,
    env: `WEB_IMAGE=${web}\nNGINX_IMAGE=${nginx}\nRELEASE=${release}${extraEnv ? `\n${extraEnv}` : ''}`,
    'release-id': release,
    'health-timeout': '40s',
    'lb-drain-time': '2s',
  };
}

interface DropletOut {
  droplet: string;
  id: number;
  batch: number;
  before: string | null;
  after: string | null;
  result: string;
}

beforeAll(async () => {
  buildRollingUpdate();
  keyId = (
    await api<{ ssh_key: { id: number } }>('POST', '/account/keys', { name: tag, public_key: identity.publicKey })
  ).ssh_key.id;
  await api('POST', '/droplets', {
    names: [1, 2, 3, 4].map((i) => `${tag}-${i}`),
    region: 'nyc3',
    size: 's-1vcpu-1gb',
    image: 'ubuntu-24-04-x64',
    ssh_keys: [keyId],
    tags: [tag],
  });
  const listed = await until(
    '4 active droplets',
    async () => {
      const l = await api<{
        droplets: {
          id: number;
          name: string;
          status: string;
          networks: { v4: { type: string; ip_address: string }[] };
        }[];
      }>('GET', `/droplets?tag_name=${tag}`);
      return l.droplets.length === 4 && l.droplets.every((d) => d.status === 'active') ? l.droplets : undefined;
    },
    240,
    500,
  );
  droplets = listed
    .map((d) => ({ id: d.id, name: d.name, ip: d.networks.v4.find((n) => n.type === 'public')?.ip_address ?? '' }))
    .sort((a, b) => a.name.localeCompare(b.name));
  // the droplets' host keys, read on loopback (what a user gets from provision-droplet's outputs)
  knownHosts = await until(
    'host keys',
    async () => {
      try {
        const out = execFileSync('ssh-keyscan', ['-T', '5', '-t', 'ed25519', ...droplets.map((d) => d.ip)], {
          encoding: 'utf8',
          stdio: ['ignore', 'pipe', 'ignore'],
        });
        return out.trim().split('\n').length === 4 ? out : undefined;
      } catch {
        return undefined;
      }
    },
    60,
    1000,
  );
}, 600_000);

afterAll(async () => {
  if (droplets.length)
    await api('DELETE', `/load_balancers/${lbId}/droplets`, { droplet_ids: droplets.map((d) => d.id) }).catch(
      () => undefined,
    );
  await api('DELETE', `/droplets?tag_name=${tag}`).catch(() => undefined);
  if (keyId) await api('DELETE', `/account/keys/${keyId}`).catch(() => undefined);
}, 300_000);

async function releases(): Promise<string[]> {
  return Promise.all(droplets.map(async (d) => (await getText(`http://${d.ip}/v.txt`)).body));
}

describe('rolling-update across 4 droplets behind the load balancer', () => {
  it('r1 everywhere, then all 4 join the load balancer and turn healthy', async () => {
    const r = await rollingUpdate({ ...inputs('r1'), 'batch-size': '100%' });
    expect(r.exitCode, r.log).toBe(0);
    expect(r.outputs['updated-count']).toBe('4');
    expect(await releases()).toEqual(['r1', 'r1', 'r1', 'r1']);
    await api('POST', `/load_balancers/${lbId}/droplets`, { droplet_ids: droplets.map((d) => d.id) });
    await until(
      '4 healthy LB members',
      async () => {
        const h = (await lbHealth()).filter((m) => droplets.some((d) => d.id === m.droplet_id));
        return h.length === 4 && h.every((m) => m.status === 'healthy') ? true : undefined;
      },
      60,
      1000,
    );
  });

  it('r2 in batches of 2 through the load balancer under load: no request fails, all 4 on r2', async () => {
    const lb = await api<{ load_balancer: { ip: string; droplet_ids: number[] } }>('GET', `/load_balancers/${lbId}`);
    const load = startLoad({
      url: `http://${lb.load_balancer.ip}/v.txt`,
      ratePerSecond: 40,
      timeoutMs: 3000,
      slowMs: 250,
      maxRequests: 20_000,
      maxDurationMs: 400_000,
    });
    const t0 = performance.now();
    const timeline: string[] = [];
    const r = await rollingUpdate(
      { ...inputs('r2'), services: 'web, worker', 'batch-size': '2', 'load-balancer-id': lbId },
      {
        onLine: (line) =>
          void (
            /batch|web:|worker:|proxy/.test(line) && timeline.push(`${Math.round(performance.now() - t0)} ${line}`)
          ),
      },
    );
    const stats = await load.stop();
    const failures = stats.incidents.filter((i) => i.outcome !== 'slow');
    expect(r.exitCode, r.log).toBe(0);
    expect(stats.total).toBeGreaterThan(200);
    expect(stats.failed, `${JSON.stringify({ ...stats, incidents: failures })}\n${timeline.join('\n')}`).toBe(0);
    expect(await releases()).toEqual(['r2', 'r2', 'r2', 'r2']);
    const out = JSON.parse(r.outputs['droplets'] ?? '[]') as DropletOut[];
    expect(out.map((d) => [d.droplet, d.batch, d.before, d.after, d.result])).toEqual(
      droplets.map((d, i) => [d.name, i < 2 ? 1 : 2, 'r1', 'r2', 'updated']),
    );
    expect(r.outputs['updated-count']).toBe('4');
    // batch 1 left the LB while batch 2 served, and came back
    expect(r.log).toMatch(/batch 1\/2: removing .* from the load balancer/);
    expect(r.log).toMatch(/batch 2\/2: adding .* back to the load balancer/);
  });

  it('a release that never turns healthy stops after the first batch; all 4 droplets still serve r2, all in the LB', async () => {
    const r = await rollingUpdate({
      ...inputs('r3', 'HEALTH_PATH=/nope'),
      services: 'web, worker',
      'batch-size': '2',
      'load-balancer-id': lbId,
      'health-timeout': '8s',
    });
    expect(r.exitCode).toBe(1);
    const error = r.errors.join('\n');
    expect(error).toMatch(/rolling-update failed: batch 1\/2: .*service "web" failed/s);
    expect(error).toContain('Every droplet serves the previous release.');
    const out = JSON.parse(r.outputs['droplets'] ?? '[]') as DropletOut[];
    expect(out.map((d) => [d.batch, d.result])).toEqual([
      [1, 'failed'],
      [1, 'failed'],
      [2, 'not-started'],
      [2, 'not-started'],
    ]);
    expect(r.outputs['updated-count']).toBe('0');
    expect(await releases()).toEqual(['r2', 'r2', 'r2', 'r2']);
    const lb = await api<{ load_balancer: { droplet_ids: number[] } }>('GET', `/load_balancers/${lbId}`);
    expect([...lb.load_balancer.droplet_ids].sort()).toEqual(droplets.map((d) => d.id).sort());
  });
});
