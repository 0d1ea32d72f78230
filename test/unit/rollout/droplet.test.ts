// The per-droplet engine against a fake Docker: a table of containers that the fake host
// updates as the rendered commands arrive (scale up, inspect, network disconnect, proxy
// reload, stop, rm).
import { describe, expect, it } from 'vitest';

import type { Logger } from '../../../src/lib/action/logger.js';
import { render, type Script } from '../../../src/lib/commands/cmd.js';
import { COMPOSE_V2, type ComposeProject } from '../../../src/lib/compose/compose.js';
import { rolloutDroplet, ServiceRolloutError } from '../../../src/lib/rollout/droplet.js';
import { parseServiceFacts, planServices } from '../../../src/lib/rollout/plan.js';
import {
  type ExecResult,
  RemoteCommandError,
  type RemoteHost,
  type RunOptions,
} from '../../../src/lib/ssh/executor.js';

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

/** The droplet's Docker networks: the /24 each hands out addresses from, and whether it was configured (ipam). */
const NETWORKS: Record<string, { prefix: string; configured: boolean }> = {
  shop_default: { prefix: '172.19.0', configured: false },
  shop_back: { prefix: '172.20.0', configured: true },
  shared_ext: { prefix: '172.21.0', configured: true },
};

function fakeDocker(opts: {
  newHealth: string;
  proxy?: boolean;
  failReload?: (nth: number) => boolean;
  /** The networks every web container is on (default: shop_default). */
  webNetworks?: string[];
  /** Networks on which `docker network connect --ip` fails even so. */
  refuseIp?: string[];
}) {
  const webNetworks = opts.webNetworks ?? ['shop_default'];
  const containers: C[] = [
    { id: 'old1', service: 'web', n: 1, hash: OLD, status: 'running', health: 'healthy', networks: [...webNetworks] },
    { id: 'old2', service: 'web', n: 2, hash: OLD, status: 'running', health: 'healthy', networks: [...webNetworks] },
  ];
  if (opts.proxy)
    containers.push({ id: 'px1', service: 'nginx', n: 1, hash: OLD, status: 'running', networks: ['shop_default'] });
  const ran: string[] = [];
  /** Each container as `docker stop` found it: id and the networks it was still on. */
  const stoppedAttached: [string, string[]][] = [];
  /** Each `docker network connect` that succeeded: container, network, fixed address. */
  const rejoined: [string, string, string][] = [];
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
          Networks: Object.fromEntries(
            c.networks.map((n) => [
              n,
              { IPAddress: `${NETWORKS[n]?.prefix ?? '10.9.9'}.${10 + containers.indexOf(c)}` },
            ]),
          ),
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
            networks: [...webNetworks],
          });
        }
        return ok();
      }
      const insp = /^docker inspect (.+)$/.exec(text);
      if (insp) return ok(inspect(containers.filter((c) => (insp[1] ?? '').split(' ').includes(c.id))));
      if (text.includes('docker network disconnect')) {
        // dropFromDns scripts: `disconnect N C && { connect [--ip A] N C 2>&1 || echo FAILED N C }`, in order
        let out = '';
        for (const m of text.matchAll(
          /docker network (disconnect|connect) (?:--ip (\S+) )?(?:--ip6 \S+ )?(\S+) (\S+)/g,
        )) {
          const [, verb, ip, network = '', id] = m;
          const c = containers.find((x) => x.id === id);
          if (!c) throw new Error(`no container ${id}`);
          if (verb === 'disconnect') {
            c.networks = c.networks.filter((n) => n !== network);
            continue;
          }
          if (ip && (!NETWORKS[network]?.configured || opts.refuseIp?.includes(network))) {
            out += `Error response from daemon: user specified IP address is supported only when connecting to networks with user configured subnets\n__ROLLOUT_RECONNECT_FAILED__ ${network} ${c.id}\n`;
            continue;
          }
          rejoined.push([c.id, network, ip ?? '']);
          c.networks = [...c.networks, network].sort();
        }
        return ok(out);
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
          if (i >= 0) {
            stoppedAttached.push([id, [...(containers[i] as C).networks]]);
            containers.splice(i, 1);
          }
        }
        return ok();
      }
      throw new Error(`unexpected command: ${text}`);
    },
    upload: () => Promise.reject(new Error('not used')),
    stream: () => Promise.reject(new Error('not used')),
    close: () => Promise.resolve(),
  };
  return { host, ran, containers, stoppedAttached, rejoined };
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

function recording() {
  const lines: string[] = [];
  const logger: Logger = {
    ...quiet,
    info: (m: string) => lines.push(`info ${m}`),
    warn: (m: string) => lines.push(`warn ${m}`),
  };
  return { lines, deps: { ...deps, logger } };
}

// web on the default network (automatic subnet), `back` (configured subnet) and an external one
const NET_CONFIG = `services:
  web:
    image: web
    deploy: {replicas: 2}
    healthcheck: {test: [CMD, "true"]}
    networks: {default: null, back: null, ext: null}
networks:
  default: {name: shop_default}
  back:
    name: shop_back
    ipam: {config: [{subnet: 172.20.0.0/24}]}
  ext: {name: shared_ext, external: true}
`;
const netServices = planServices(parseServiceFacts(NET_CONFIG), ['web'], new Map());

describe('rolloutDroplet start-first without a proxy', () => {
  it('network with an automatic subnet: the old containers are never disconnected; drained, then stopped gracefully still attached (and in DNS)', async () => {
    const f = fakeDocker({ newHealth: 'healthy' });
    const r = recording();
    sleeps.length = 0;
    const results = await rolloutDroplet(f.host, base, r.deps);
    expect(results[0]?.result).toBe('updated');
    const steps = f.ran.filter((t) => !t.startsWith('docker ps -aq'));
    expect(steps).toEqual([
      expect.stringContaining('config --hash'),
      expect.stringMatching(/--scale web\\=4 web$/),
      'docker inspect old1 old2',
      'docker stop --time 10 old1 old2 && docker rm old1 old2',
      expect.stringMatching(/--scale web\\=2 web$/),
    ]);
    // taken off the network, a container loses its address at once: a request it is answering is cut without a reset
    expect(f.ran.some((t) => t.includes('network disconnect') || t.includes('network connect'))).toBe(false);
    expect(f.stoppedAttached).toEqual([
      ['old1', ['shop_default']],
      ['old2', ['shop_default']],
    ]);
    expect(sleeps).toContain(3000);
    // one line for the network, not one per container
    expect(r.lines.filter((l) => l.includes('shop_default'))).toEqual([
      'info web-1: web: shop_default: the 2 old container(s) stay attached and in DNS until they are stopped gracefully (no configured subnet: Docker could not keep their address, and taking them off would cut the requests they are answering)',
    ]);
    expect(r.lines).toContain(
      'info web-1: web: draining 3s, then stopping the 2 old container(s) gracefully (they finish what is in flight; new connections to them are refused)',
    );
    expect(r.lines.some((l) => l.startsWith('warn'))).toBe(false);
  });

  it('networks with and without a configured subnet: only on the configured one do the old containers leave DNS and rejoin at their address', async () => {
    const f = fakeDocker({ newHealth: 'healthy', webNetworks: ['shared_ext', 'shop_back', 'shop_default'] });
    const r = recording();
    const results = await rolloutDroplet(f.host, { ...base, services: netServices }, r.deps);
    expect(results[0]?.result).toBe('updated');
    const drop = f.ran.filter((t) => t.includes('network disconnect'));
    // decided before anything is disconnected: one script, only shop_back, every old container
    expect(drop).toEqual([
      "{ docker network disconnect shop_back old1 && { { docker network connect --ip 172.20.0.10 shop_back old1 2>&1; } || echo '__ROLLOUT_RECONNECT_FAILED__ shop_back old1'; }; } ; " +
        "{ docker network disconnect shop_back old2 && { { docker network connect --ip 172.20.0.11 shop_back old2 2>&1; } || echo '__ROLLOUT_RECONNECT_FAILED__ shop_back old2'; }; }",
    ]);
    expect(f.rejoined).toEqual([
      ['old1', 'shop_back', '172.20.0.10'],
      ['old2', 'shop_back', '172.20.0.11'],
    ]);
    // drop → drain → stop, and each stopped on all its networks (shop_back again without aliases)
    const at = (p: string) => f.ran.findIndex((t) => t.startsWith(p));
    expect(at('{ docker network disconnect')).toBeLessThan(at('docker stop'));
    expect(f.stoppedAttached).toEqual([
      ['old1', ['shared_ext', 'shop_back', 'shop_default']],
      ['old2', ['shared_ext', 'shop_back', 'shop_default']],
    ]);
    expect(r.lines.filter((l) => /: (shared_ext|shop_back|shop_default): /.test(l))).toEqual([
      'info web-1: web: shared_ext: the 2 old container(s) stay attached and in DNS until they are stopped gracefully (an external network: its subnet is not in the Compose file: Docker could not keep their address, and taking them off would cut the requests they are answering)',
      'info web-1: web: shop_back: 2 old container(s) left DNS and rejoined at their address (configured subnet 172.20.0.0/24): requests in flight and cached answers still reach them',
      'info web-1: web: shop_default: the 2 old container(s) stay attached and in DNS until they are stopped gracefully (no configured subnet: Docker could not keep their address, and taking them off would cut the requests they are answering)',
    ]);
  });

  it('a configured subnet where Docker refuses the address anyway: one warning for the network, the roll-out goes on', async () => {
    const f = fakeDocker({ newHealth: 'healthy', webNetworks: ['shop_back'], refuseIp: ['shop_back'] });
    const r = recording();
    const results = await rolloutDroplet(f.host, { ...base, services: netServices }, r.deps);
    expect(results[0]?.result).toBe('updated');
    expect(r.lines.filter((l) => l.includes('shop_back'))).toEqual([
      'warn web-1: web: shop_back: 2 old container(s) could not rejoin at their address and are off the network: Error response from daemon: user specified IP address is supported only when connecting to networks with user configured subnets',
    ]);
    expect(f.ran).toContain('docker stop --time 10 old1 old2 && docker rm old1 old2');
  });
});

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

  it('with a proxy-service that has no running container: a warning, then the path without a proxy', async () => {
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
    expect(f.ran.some((t) => t.includes('network disconnect'))).toBe(false);
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
