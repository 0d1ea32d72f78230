// The DigitalOcean API fake with REAL droplets (Docker droplet backend), driven through dots-wrapper:
// - 3 droplets (2 trixie, 1 bookworm) created through the API, `active` via their create actions,
//   reachable over SSH with the key registered through /v2/account/keys;
// - a load balancer over 2 droplets answers from both; the app on one stopped → the LB stops sending
//   to it when its unhealthy threshold is reached; app restarted → back after the healthy threshold;
// - a 429 burst (switched on through the control endpoint) survived by a client honouring retry-after;
// - the spec-validation tally of the fake (must show 0 violations) is printed.
//
// The lab comes from the e2e global setup (`inject('lab')`); faults, member health and the tally
// are reached through the fake's control endpoints (/_lab/...), as the fake runs in the lab process.
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { request } from 'node:http';
import { createApiClient } from 'dots-wrapper';
import { NodeSSH } from 'node-ssh';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import type { LabEnv } from '../lab/contract.js';

let env: Pick<LabEnv, 'DIGITALOCEAN_API_URL' | 'DIGITALOCEAN_TOKEN' | 'LAB_APP_IMAGES'>;
let api: ReturnType<typeof createApiClient>;
let keyDir: string;
let privateKey: string;
let keyId: number | undefined;
const run = Math.random().toString(36).slice(2, 7);
const tag = `e2e-api-${run}`;
const sshSessions: NodeSSH[] = [];

interface Made {
  id: number;
  name: string;
  ip: string;
  ssh: NodeSSH;
}
const droplets: Made[] = [];

const origin = (): string => env.DIGITALOCEAN_API_URL.replace(/\/v2\/?$/, '');

async function lab<T>(method: string, path: string, body?: unknown): Promise<T> {
  const res = await fetch(origin() + path, {
    method,
    headers: { authorization: `Bearer ${env.DIGITALOCEAN_TOKEN}`, 'content-type': 'application/json' },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  const text = await res.text();
  if (!res.ok) throw new Error(`${method} ${path}: ${res.status} ${text}`);
  return (text ? JSON.parse(text) : undefined) as T;
}

async function until<T>(
  fn: () => Promise<T | undefined | false>,
  what: string,
  tries: number,
  everyMs: number,
): Promise<T> {
  for (let i = 0; i < tries; i++) {
    const v = await fn();
    if (v) return v;
    await new Promise((r) => setTimeout(r, everyMs));
  }
  throw new Error(`timed out waiting for ${what}`);
}

function httpGet(host: string, port = 80): Promise<{ status: number; body: string }> {
  return new Promise((resolve) => {
    const req = request({ host, port, path: '/', agent: false, timeout: 3000 }, (res) => {
      let body = '';
      res.on('data', (c: Buffer) => (body += c.toString()));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body: body.trim() }));
    });
    req.on('error', (e) => resolve({ status: 0, body: e.message }));
    req.on('timeout', () => req.destroy(new Error('timeout')));
    req.end();
  });
}

async function sh(d: Made, command: string): Promise<string> {
  const r = await d.ssh.execCommand(command);
  if (r.code !== 0) throw new Error(`${d.name}: ${command}: exit ${r.code}: ${r.stderr}`);
  return r.stdout.trim();
}

beforeAll(async () => {
  env = inject('lab');
  api = createApiClient({
    token: env.DIGITALOCEAN_TOKEN,
    endpoint: env.DIGITALOCEAN_API_URL,
    requestTimeoutInMs: 30_000,
  });
  keyDir = mkdtempSync(join(tmpdir(), 'ddlab-api-e2e-key-'));
  execFileSync('ssh-keygen', ['-q', '-t', 'ed25519', '-N', '', '-C', `e2e-${run}`, '-f', join(keyDir, 'id')]);
  privateKey = readFileSync(join(keyDir, 'id'), 'utf8');
  const pub = readFileSync(join(keyDir, 'id.pub'), 'utf8').trim();
  keyId = (await api.sshKey.createSshKey({ name: `e2e-${run}`, public_key: pub })).data.ssh_key.id;
}, 120_000);

afterAll(async () => {
  for (const s of sshSessions) s.dispose();
  if (api) {
    await api.droplet.deleteDropletsByTag({ tag_name: tag }).catch(() => undefined);
    if (keyId) await api.sshKey.destroySshKey({ ssh_key_id: keyId } as never).catch(() => undefined);
  }
  if (keyDir) rmSync(keyDir, { recursive: true, force: true });
}, 300_000);

describe('API fake with real droplets', () => {
  it('creates 3 droplets through dots-wrapper; they go active through their create actions and answer SSH with the registered key', async () => {
    const fingerprint = (await api.sshKey.getSshKey({ ssh_key_id: keyId! } as never)).data as {
      ssh_key: { fingerprint: string };
    };
    const trixie = await api.droplet.createDroplets({
      names: [`api-${run}-1`, `api-${run}-2`],
      region: 'fra1',
      size: 's-1vcpu-1gb',
      image: 'ubuntu-24-04-x64',
      ssh_keys: [keyId!],
      tags: [tag],
    });
    const bookworm = await api.droplet.createDroplet({
      name: `api-${run}-3`,
      region: 'fra1',
      size: 's-1vcpu-1gb',
      image: 'debian-12-x64',
      ssh_keys: [fingerprint.ssh_key.fingerprint],
      tags: [tag],
    });
    const multi = trixie.data as unknown as {
      droplets: { id: number; name: string; status: string }[];
      links: { actions: { id: number }[] };
    };
    const single = bookworm.data as unknown as {
      droplet: { id: number; name: string; status: string };
      links: { actions: { id: number }[] };
    };
    const created = [...multi.droplets, single.droplet];
    expect(created.map((d) => d.status)).toEqual(['new', 'new', 'new']);
    const actionIds = [...multi.links.actions, ...single.links.actions].map((a) => a.id);
    expect(actionIds).toHaveLength(3);
    for (const id of actionIds) {
      const a = await until(
        async () => {
          const act = (await api.action.getAction({ action_id: id })).data.action;
          return act.status !== 'in-progress' ? act : undefined;
        },
        `action ${id}`,
        240,
        500,
      );
      expect(a.status).toBe('completed');
    }
    for (const d of created) {
      const full = (await api.droplet.getDroplet({ droplet_id: d.id })).data.droplet;
      expect(full.status).toBe('active');
      const ip = full.networks.v4.find((n) => n.type === 'public')!.ip_address;
      expect(ip).toMatch(/^127\./);
      expect(full.networks.v4.find((n) => n.type === 'private')!.ip_address).not.toMatch(/^127\./);
      const ssh = new NodeSSH();
      sshSessions.push(ssh);
      await ssh.connect({ host: ip, username: 'root', privateKey, readyTimeout: 20_000 });
      droplets.push({ id: d.id, name: d.name, ip, ssh });
    }
    expect(await sh(droplets[0]!, 'docker compose version --short')).toMatch(/^v?2\./);
    expect(await sh(droplets[2]!, 'docker-compose version --short')).toMatch(/^1\./);
    const listed = await api.droplet.listDroplets({ tag_name: tag, per_page: 2 });
    expect(listed.data.meta?.total).toBe(3);
  });

  it('a load balancer over 2 droplets answers from both, drains a stopped app at its unhealthy threshold, takes it back', async () => {
    expect(droplets).toHaveLength(3);
    const web = env.LAB_APP_IMAGES.split(',').find((i) => /\/web(:|$)/.test(i));
    expect(web, `a web image in LAB_APP_IMAGES (${env.LAB_APP_IMAGES})`).toBeTruthy();
    const [a, b] = droplets as [Made, Made];
    for (const d of [a, b]) {
      await sh(d, `docker pull -q ${web!} >/dev/null`);
      await sh(
        d,
        `docker run -d --name web --init -p 80:80 -e NAME=${d.name} ${web!} /bin/busybox sh -c 'echo "$NAME" > /www/index.html && exec /bin/busybox httpd -f -p 80 -h /www' >/dev/null`,
      );
      await until(async () => (await httpGet(d.ip)).body === d.name, `${d.name} app`, 40, 250);
    }
    const hc = {
      protocol: 'http',
      port: 80,
      path: '/',
      check_interval_seconds: 3,
      response_timeout_seconds: 2,
      healthy_threshold: 2,
      unhealthy_threshold: 3,
    };
    const created = await api.loadBalancer.createLoadBalancer({
      name: `lb-${run}`,
      region: 'fra1',
      forwarding_rules: [{ entry_protocol: 'http', entry_port: 80, target_protocol: 'http', target_port: 80 }],
      health_check: hc,
      droplet_ids: [a.id, b.id],
    } as never);
    const lbId = created.data.load_balancer.id!;
    try {
      const lb = await until(
        async () => {
          const l = (await api.loadBalancer.getLoadBalancer({ load_balancer_id: lbId })).data.load_balancer;
          return l.status === 'active' ? l : undefined;
        },
        'lb active',
        40,
        250,
      );
      const health = async () =>
        (
          await lab<{
            droplets: {
              droplet_id: number;
              status: string;
              consecutive_failures: number;
              consecutive_successes: number;
            }[];
          }>('GET', `/_lab/load_balancers/${lbId}/health`)
        ).droplets;
      const member = async (id: number) => (await health()).find((h) => h.droplet_id === id)!;
      await until(async () => (await health()).every((h) => h.status === 'healthy'), 'both members healthy', 60, 500);
      const spread = async (n: number) => {
        const seen: Record<string, number> = {};
        for (let i = 0; i < n; i++) {
          const r = await httpGet(lb.ip!);
          const k = r.status === 200 ? r.body : `HTTP ${r.status}`;
          seen[k] = (seen[k] ?? 0) + 1;
        }
        return seen;
      };
      expect(await spread(6)).toEqual({ [a.name]: 3, [b.name]: 3 });

      await sh(b, 'docker stop -t 2 web >/dev/null');
      const down = await until(
        async () => ((await member(b.id)).status === 'unhealthy' ? member(b.id) : undefined),
        'b unhealthy',
        60,
        500,
      );
      // taken out exactly when `unhealthy_threshold` consecutive checks failed (checks run every 3 s)
      expect(down.consecutive_failures).toBeGreaterThanOrEqual(hc.unhealthy_threshold);
      expect(down.consecutive_failures).toBeLessThanOrEqual(hc.unhealthy_threshold + 1);
      expect(await spread(6)).toEqual({ [a.name]: 6 });

      await sh(b, 'docker start web >/dev/null');
      const up = await until(
        async () => ((await member(b.id)).status === 'healthy' ? member(b.id) : undefined),
        'b healthy again',
        60,
        500,
      );
      expect(up.consecutive_successes).toBeGreaterThanOrEqual(hc.healthy_threshold);
      expect(await spread(6)).toEqual({ [a.name]: 3, [b.name]: 3 });
    } finally {
      await api.loadBalancer.deleteLoadBalancer({ load_balancer_id: lbId });
    }
  });

  it('a 429 burst is survived by a client honouring retry-after', async () => {
    const fault = await lab<{ id: number }>('POST', '/_lab/faults', {
      kind: 'rate_limit',
      count: 3,
      retryAfterSeconds: 1,
      method: 'GET',
      path: '^/v2/droplets$',
    });
    let limited = 0;
    let result: Awaited<ReturnType<typeof api.droplet.listDroplets>> | undefined;
    for (let i = 0; i < 10 && !result; i++) {
      try {
        result = await api.droplet.listDroplets({ tag_name: tag });
      } catch (e) {
        const r = (e as { response?: { status: number; headers: Record<string, string> } }).response;
        if (r?.status !== 429) throw e;
        limited++;
        expect(r.headers['ratelimit-limit']).toMatch(/^\d+$/);
        await new Promise((res) => setTimeout(res, Number(r.headers['retry-after']) * 1000));
      }
    }
    expect(limited).toBe(3);
    expect(result!.data.droplets).toHaveLength(3);
    await lab('DELETE', `/_lab/faults/${fault.id}`);
  });

  it('the fake validated every request and response against the OpenAPI spec: 0 violations', async () => {
    const tally = await lab<{
      requests: number;
      responses: number;
      violations: unknown[];
      warnings?: unknown[];
      stats: Record<string, number>;
    }>('GET', '/_lab/tally');
    console.log(
      `[lab-api e2e] spec tally: ${JSON.stringify({ requests: tally.requests, responses: tally.responses, violations: tally.violations.length, warnings: tally.warnings?.length ?? 0, ...tally.stats })}`,
    );
    if (tally.violations.length) console.log(JSON.stringify(tally.violations, null, 2));
    if (tally.warnings?.length) console.log(`[lab-api e2e] request warnings: ${JSON.stringify(tally.warnings)}`);
    expect(tally.requests).toBeGreaterThan(0);
    expect(tally.violations).toEqual([]);
  });
});
