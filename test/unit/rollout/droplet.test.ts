// The per-droplet engine against a fake Docker: a table of containers that the fake host
// updates as the rendered commands arrive (scale up, inspect, network disconnect, proxy
// reload, stop, rm).
import { describe, expect, it } from 'vitest';

import type { Logger } from '../../../src/lib/action/logger.js';
import { render, type Script } from '../../../src/lib/commands/cmd.js';
import { COMPOSE_V2, type ComposeProject } from '../../../src/lib/compose/compose.js';
import { rolloutDroplet, ServiceRolloutError } from '../../../src/lib/rollout/droplet.js';
import { parseServiceFacts, planServices } from '../../../src/lib/rollout/plan.js';
import { type ExecResult, RemoteCommandError, type RemoteHost, type RunOptions } from '../../../src/lib/ssh/executor.js';

interface C {
  id: string;
  service: string;
  n: number;
  hash: string;
  status: string;
  health?: string;
  networks: string[];
}

const quiet: Logger = { info: () => {}, warn: () => {}, error: () => {}, debug: () => {}, group: (_n, fn) => fn() };
const next: ComposeProject = { flavor: COMPOSE_V2, project: 'shop', files: ['/opt/shop/releases/r2/compose.yaml'] };
const NEW = 'b'.repeat(64);
const OLD = 'a'.repeat(64);

function fakeDocker(opts: { newHealth: string; proxy?: boolean; failReload?: (nth: number) => boolean }) {
  const containers: C[] = [
    { id: 'old1', service: 'web', n: 1, hash: OLD, status: 'running', health: 'healthy', networks: ['shop_default'] },
    { id: 'old2', service: 'web', n: 2, hash: OLD, status: 'running', health: 'healthy', networks: ['shop_default'] },
  ];
  if (opts.proxy)
    containers.push({ id: 'px1', service: 'nginx', n: 1, hash: OLD, status: 'running', networks: ['shop_default'] });
  const ran: string[] = [];
  /** Each container as `docker stop` found it: id and the networks it was still on. */
  const stoppedAttached: [string, string[]][] = [];
  let reloads = 0;
  let seq = 0;
  const ok = (stdout = ''): ExecResult => ({ code: 0, stdout, stderr: '' });
  const inspect = (list: C[]) =>
    JSON.stringify(
      list.map((c) => ({
        Id: c.id,
        Name: `/shop-${c.service}-${c.n}`,
        Image: 'sha256:1',
        RestartCount: 0,
        State: { Status: c.status, ...(c.health ? { Health: { Status: c.health, FailingStreak: 0, Log: [] } } : {}) },
        Config: {
          Image: 'web',
          Labels: {
            'com.docker.compose.project': 'shop',
            'com.docker.compose.service': c.service,
            'com.docker.compose.container-number': String(c.n),
            'com.docker.compose.config-hash': c.hash,
          },
        },
        NetworkSettings: {
          Networks: Object.fromEntries(c.networks.map((n, i) => [n, { IPAddress: `172.19.0.${10 + i}` }])),
        },
      })),
    );
  const host: RemoteHost = {
    label: 'web-1',
    address: '127.0.10.2',
    async run(script: Script, options?: RunOptions) {
      const text = render(script);
      ran.push(text);
      if (text.startsWith('docker logs')) return ok('httpd: listening\n');
      if (text.includes('config --hash')) return ok(`web ${NEW}\nnginx ${OLD}\n`);
      if (text.startsWith('docker ps -aq')) return ok(inspect(containers));
      const scale = /--scale web\\=(\d+) web$/.exec(text);
      if (scale) {
        const want = Number(scale[1]);
        const mine = containers.filter((c) => c.service === 'web');
        for (let i = mine.length; i < want; i += 1) {
          seq += 1;
          containers.push({
            id: `new${seq}`,
            service: 'web',
            n: 2 + seq,
            hash: NEW,
            status: 'running',
            health: opts.newHealth,
            networks: ['shop_default'],
          });
        }
        return ok();
      }
      const insp = /^docker inspect (.+)$/.exec(text);
      if (insp) return ok(inspect(containers.filter((c) => (insp[1] ?? '').split(' ').includes(c.id))));
      if (text.includes('docker network disconnect')) {
        for (const m of text.matchAll(/docker network disconnect (\S+) (\S+)/g)) {
          const c = containers.find((x) => x.id === m[2]);
          if (c) c.networks = c.networks.filter((n) => n !== m[1]);
        }
        return ok(
          text.includes('connect --ip')
            ? 'Error response from daemon: user specified IP address is supported only when connecting to networks with user configured subnets\n__ROLLOUT_RECONNECT_FAILED__ x y\n'
            : '',
        );
      }
      if (/^docker exec px1 nginx -s reload$/.test(text)) {
        reloads += 1;
        if (!opts.failReload?.(reloads)) return ok();
        const failed: ExecResult = { code: 1, stdout: '', stderr: 'nginx: [emerg] bad config\n' };
        if (options?.allowFailure) return failed;
        throw new RemoteCommandError('web-1', text, failed);
      }
      const stopOnly = /^docker stop --time \d+ ([^&]+)$/.exec(text);
      if (stopOnly) {
        for (const id of (stopOnly[1] ?? '').split(' ')) {
          const c = containers.find((x) => x.id === id);
          if (c) {
            stoppedAttached.push([c.id, [...c.networks]]);
            c.status = 'exited';
          }
        }
        return ok();
      }
      const rm = /^docker rm ([^&]+)$/.exec(text);
      if (rm) {
        for (const id of (rm[1] ?? '').split(' ')) {
          const i = containers.findIndex((c) => c.id === id && c.status === 'exited');
          if (i >= 0) containers.splice(i, 1);
          else throw new Error(`docker rm of a running container ${id}`);
        }
        return ok();
      }
      const stop = /^docker stop --time \d+ (.+?) && docker rm (.+)$/.exec(text);
      if (stop) {
        for (const id of (stop[1] ?? '').split(' ')) {
          const i = containers.findIndex((c) => c.id === id);
          if (i >= 0) containers.splice(i, 1);
        }
        return ok();
      }
      throw new Error(`unexpected command: ${text}`);
    },
    upload: () => Promise.reject(new Error('not used')),
    stream: () => Promise.reject(new Error('not used')),
    close: () => Promise.resolve(),
  };
  return { host, ran, containers, stoppedAttached };
}

const CONFIG =
  'services:\n  web:\n    image: web\n    deploy: {replicas: 2}\n    healthcheck: {test: [CMD, "true"]}\n  nginx:\n    image: nginx\n    ports: ["80:80"]\n';
const services = planServices(parseServiceFacts(CONFIG), ['web'], new Map());
const sleeps: number[] = [];
const base = {
  app: 'shop',
  next,
  services,
  drainMs: 3000,
  stopTimeoutSeconds: 10,
  gate: { deadlineMs: 5000, intervalMs: 1000, successes: 1 },
};
let clock = 0;
const deps = {
  logger: quiet,
  sleep: async (ms: number) => {
    sleeps.push(ms);
    clock += ms;
  },
  now: () => clock,
};

describe('rolloutDroplet start-first', () => {
  it('with a proxy: starts 2 new beside 2 old, gates them, reloads the proxy, drains, stops the old ones still attached, reloads again, removes them', async () => {
    const f = fakeDocker({ newHealth: 'healthy', proxy: true });
    sleeps.length = 0;
    const results = await rolloutDroplet(
      f.host,
      { ...base, proxy: { service: 'nginx', reload: ['nginx', '-s', 'reload'] } },
      deps,
    );
    expect(results.map((r) => [r.service, r.strategy, r.result, r.oldContainers, r.newContainers])).toEqual([
      ['web', 'start-first', 'updated', ['shop-web-1', 'shop-web-2'], ['shop-web-3', 'shop-web-4']],
    ]);
    const steps = f.ran.filter((t) => !t.startsWith('docker ps -aq') && !t.startsWith('docker inspect'));
    expect(steps).toEqual([
      expect.stringContaining('config --hash'),
      expect.stringMatching(/up --detach --no-deps --no-recreate --no-build --scale web\\=4 web$/),
      'docker exec px1 nginx -s reload',
      'docker stop --time 10 old1 old2',
      'docker exec px1 nginx -s reload',
      'docker rm old1 old2',
      expect.stringMatching(/--scale web\\=2 web$/),
    ]);
    // never off a network while they may be answering: an in-flight request would be cut without a reset
    expect(f.ran.some((t) => t.includes('network disconnect'))).toBe(false);
    expect(f.stoppedAttached).toEqual([
      ['old1', ['shop_default']],
      ['old2', ['shop_default']],
    ]);
    // drain-time between the first reload and the stop
    const drainAt = steps.indexOf('docker stop --time 10 old1 old2');
    expect(drainAt).toBeGreaterThan(steps.indexOf('docker exec px1 nginx -s reload'));
    expect(sleeps).toContain(3000);
    expect(f.containers.filter((c) => c.service === 'web').map((c) => c.id)).toEqual(['new1', 'new2']);
  });

  it('with a proxy whose first reload fails: the new containers are removed, the old ones were never touched and keep serving', async () => {
    const f = fakeDocker({ newHealth: 'healthy', proxy: true, failReload: (n) => n === 1 });
    const error = await rolloutDroplet(
      f.host,
      { ...base, proxy: { service: 'nginx', reload: ['nginx', '-s', 'reload'] } },
      deps,
    ).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(ServiceRolloutError);
    expect((error as ServiceRolloutError).message).toBe(
      'on web-1: service "web" failed: reloading proxy nginx failed (exit 1: nginx: [emerg] bad config); the new containers were removed and the 2 old one(s) kept serving',
    );
    expect(f.ran).toContain('docker stop --time 10 new1 new2 && docker rm new1 new2');
    expect(f.ran.some((t) => /old1|old2/.test(t) && !t.startsWith('docker inspect'))).toBe(false);
    expect(f.containers.filter((c) => c.service === 'web').map((c) => [c.id, c.status, c.networks])).toEqual([
      ['old1', 'running', ['shop_default']],
      ['old2', 'running', ['shop_default']],
    ]);
  });

  it('with a proxy whose second reload fails (the old containers already stopped): a warning, the service is updated', async () => {
    const f = fakeDocker({ newHealth: 'healthy', proxy: true, failReload: (n) => n === 2 });
    const warnings: string[] = [];
    const results = await rolloutDroplet(
      f.host,
      { ...base, proxy: { service: 'nginx', reload: ['nginx', '-s', 'reload'] } },
      { ...deps, logger: { ...quiet, warn: (m: string) => warnings.push(m) } },
    );
    expect(results[0]?.result).toBe('updated');
    expect(warnings).toEqual([
      'web-1: reloading proxy nginx after the old web container(s) stopped failed: nginx: [emerg] bad config',
    ]);
    expect(f.ran).toContain('docker rm old1 old2');
    expect(f.containers.filter((c) => c.service === 'web').map((c) => c.id)).toEqual(['new1', 'new2']);
  });

  it('with a proxy-service that has no running container: a warning, and the old containers leave DNS at their address (no proxy path)', async () => {
    const f = fakeDocker({ newHealth: 'healthy' });
    const warnings: string[] = [];
    const results = await rolloutDroplet(
      f.host,
      { ...base, proxy: { service: 'nginx', reload: ['nginx', '-s', 'reload'] } },
      { ...deps, logger: { ...quiet, warn: (m: string) => warnings.push(m) } },
    );
    expect(results[0]?.result).toBe('updated');
    expect(warnings).toEqual(['web-1: proxy-service nginx has no running container; not reloading it']);
    expect(f.ran.some((t) => t.startsWith('docker exec'))).toBe(false);
    expect(f.ran.filter((t) => /^docker network disconnect shop_default old[12] && /.test(t))).toHaveLength(2);
    expect(f.ran).toContain('docker stop --time 10 old1 old2 && docker rm old1 old2');
  });

  it('never healthy: the new containers are removed, the old ones never leave DNS, the error names the service', async () => {
    const f = fakeDocker({ newHealth: 'unhealthy' });
    const error = await rolloutDroplet(f.host, base, deps).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(ServiceRolloutError);
    expect((error as ServiceRolloutError).message).toBe(
      'on web-1: service "web" failed: shop-web-3 is unhealthy; the new containers were removed and the 2 old one(s) kept serving',
    );
    expect(f.ran.some((t) => t.includes('network disconnect'))).toBe(false);
    expect(f.ran).toContain('docker stop --time 10 new1 new2 && docker rm new1 new2');
    expect(f.containers.map((c) => [c.id, c.networks])).toEqual([
      ['old1', ['shop_default']],
      ['old2', ['shop_default']],
    ]);
  });

  it('an unchanged service (same config hash and count) is left running', async () => {
    const f = fakeDocker({ newHealth: 'healthy' });
    for (const c of f.containers) c.hash = NEW;
    const results = await rolloutDroplet(f.host, base, deps);
    expect(results[0]?.result).toBe('unchanged');
    expect(f.ran.some((t) => t.includes('--scale'))).toBe(false);
  });
});
