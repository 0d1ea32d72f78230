// rolling-update's starter (deploy-compose's step 4) against a fake Docker: the order the
// one-step deploy relies on (the release's gate — `accept` — runs after every service rolled
// and before the services the release dropped are removed), and a failed roll-out that takes
// back a service the previous release does not have.
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

import { afterAll, describe, expect, it } from 'vitest';

import type { StartContext, StartOutcome } from '../../../src/actions/deploy-compose/run.js';
import { readInputs } from '../../../src/actions/rolling-update/inputs.js';
import { makeStarter, type StarterRecord } from '../../../src/actions/rolling-update/starter.js';
import type { Logger } from '../../../src/lib/action/logger.js';
import { render, type Script } from '../../../src/lib/commands/cmd.js';
import { COMPOSE_V2, type ComposeProject } from '../../../src/lib/compose/compose.js';
import type { ReleaseManifest } from '../../../src/lib/release/model.js';
import type { ExecResult, RemoteHost } from '../../../src/lib/ssh/executor.js';

const dir = mkdtempSync(join(tmpdir(), 'ru-starter-'));
execFileSync('ssh-keygen', ['-q', '-t', 'ed25519', '-N', '', '-C', 't', '-f', join(dir, 'k')]);
const key = readFileSync(join(dir, 'k'), 'utf8');
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const quiet: Logger = { info: () => {}, warn: () => {}, error: () => {}, debug: () => {}, group: (_n, fn) => fn() };
const r1: ComposeProject = { flavor: COMPOSE_V2, project: 'shop', files: ['/opt/shop/releases/r1/compose.yaml'] };
const r2: ComposeProject = { flavor: COMPOSE_V2, project: 'shop', files: ['/opt/shop/releases/r2/compose.yaml'] };
const OLD = 'a'.repeat(64);
const NEW = 'b'.repeat(64);
const HEALTHY = 'healthcheck: {test: [CMD, "true"]}';

interface C {
  id: string;
  service: string;
  hash: string;
  health: string;
}

/**
 * A droplet's Docker for project shop: `config` of each release, `config --hash`, `docker ps`
 * (the inspect JSON), `up --scale` adding containers (healthy unless `unhealthy` names the
 * service), stop/rm by id, `config --services` with every profile.
 */
function fakeDocker(o: { configs: Record<string, string>; running: C[]; unhealthy?: string }) {
  const containers = [...o.running];
  const ran: string[] = [];
  let seq = 0;
  const ok = (stdout = ''): ExecResult => ({ code: 0, stdout, stderr: '' });
  const release = (text: string): string => /releases\/(r\d)\//.exec(text)?.[1] ?? '?';
  const inspect = (list: C[]) =>
    JSON.stringify(
      list.map((c) => ({
        Id: c.id,
        Name: `/shop-${c.id}`,
        Image: 'sha256:1',
        RestartCount: 0,
        State: { Status: 'running', Health: { Status: c.health, FailingStreak: 0, Log: [] } },
        Config: {
          Image: c.service,
          Labels: {
            'com.docker.compose.project': 'shop',
            'com.docker.compose.service': c.service,
            'com.docker.compose.container-number': '1',
            'com.docker.compose.config-hash': c.hash,
          },
        },
        NetworkSettings: { Networks: {} },
      })),
    );
  const host: RemoteHost = {
    label: 'web-1',
    address: '127.0.10.2',
    run(script: Script) {
      const text = render(script);
      ran.push(text);
      if (text.endsWith(' config')) return Promise.resolve(ok(o.configs[release(text)]));
      if (text.endsWith('config --services')) {
        const names = (o.configs[release(text)] ?? '').match(/^ {2}\w+:/gm) ?? [];
        return Promise.resolve(ok(`${names.map((l) => l.trim().slice(0, -1)).join('\n')}\n`));
      }
      if (text.includes('config --hash')) return Promise.resolve(ok(`web ${NEW}\ncron ${NEW}\n`));
      if (text.startsWith('docker ps -aq')) return Promise.resolve(ok(inspect(containers)));
      if (text.startsWith('docker logs') || text.startsWith('docker inspect')) return Promise.resolve(ok(''));
      const scale = /--scale (\w+)\\=(\d+) \w+$/.exec(text);
      if (scale) {
        const [, service = '', want = '0'] = scale;
        for (let i = containers.filter((c) => c.service === service).length; i < Number(want); i += 1) {
          seq += 1;
          const health = service === o.unhealthy ? 'unhealthy' : 'healthy';
          containers.push({ id: `${service}-new${seq}`, service, hash: NEW, health });
        }
        return Promise.resolve(ok());
      }
      const stop = /^docker stop --time \d+ (.+?) && docker rm (.+)$/.exec(text);
      if (stop) {
        for (const id of (stop[1] ?? '').split(' ')) {
          const i = containers.findIndex((c) => c.id === id);
          if (i >= 0) containers.splice(i, 1);
        }
        return Promise.resolve(ok());
      }
      return Promise.reject(new Error(`unexpected command: ${text}`));
    },
    upload: () => Promise.reject(new Error('not used')),
    stream: () => Promise.reject(new Error('not used')),
    close: () => Promise.resolve(),
  };
  return { host, ran, containers };
}

const inputs = readInputs(
  {
    getInput: (name) =>
      ({
        hosts: '127.0.10.2',
        'ssh-private-key': key,
        'insecure-skip-host-key-check': 'true',
        app: 'shop',
        'health-timeout': '30s',
        'health-interval': '1s',
        'drain-time': '0s',
      })[name] ?? '',
  },
  { GITHUB_SHA: '3f2a1c9e00', GITHUB_REPOSITORY: 'acme/shop' },
);

function context(host: RemoteHost): StartContext {
  return {
    host,
    target: { host: '127.0.10.2', port: 22, user: 'root', label: 'web-1' },
    log: quiet,
    flavor: COMPOSE_V2,
    project: r2,
    manifest: { id: 'r2' } as ReleaseManifest,
    previous: r1,
    action: 'deploy',
  };
}

const sleep = (): Promise<void> => Promise.resolve();

describe('rolling-update starter: the release gate (accept) before the dropped services go', () => {
  // r1 had web and jobs; r2 drops jobs
  const configs = {
    r1: `services:\n  web: {image: web, ${HEALTHY}}\n  jobs: {image: jobs}\n`,
    r2: `services:\n  web: {image: web, ${HEALTHY}}\n`,
  };
  const running = (): C[] => [
    { id: 'web-old', service: 'web', hash: OLD, health: 'healthy' },
    { id: 'jobs-old', service: 'jobs', hash: OLD, health: 'healthy' },
  ];

  it('a refused release: its outcome is returned and the dropped service is still there', async () => {
    const d = fakeDocker({ configs, running: running() });
    const refused: StartOutcome = { ok: false, reason: 'health gate: /ready 503', previousServing: false };
    let jobsAtGate: string[] = [];
    const records = new Map<string, StarterRecord>();
    const outcome = await makeStarter(inputs, records, sleep, () => {
      jobsAtGate = d.containers.filter((c) => c.service === 'jobs').map((c) => c.id);
      return Promise.resolve(refused);
    })(context(d.host));
    expect(outcome).toBe(refused);
    expect(jobsAtGate).toEqual(['jobs-old']);
    expect(d.containers.map((c) => c.id).sort()).toEqual(['jobs-old', 'web-new1']);
    expect(d.ran.some((t) => t.endsWith('config --services'))).toBe(false);
    expect(records.get('web-1')?.removed).toBeUndefined();
  });

  it('an accepted release: the gate sees the rolled service, then the dropped one is removed', async () => {
    const d = fakeDocker({ configs, running: running() });
    const atGate: string[][] = [];
    const records = new Map<string, StarterRecord>();
    const outcome = await makeStarter(inputs, records, sleep, () => {
      atGate.push(d.containers.map((c) => c.id).sort());
      return Promise.resolve(undefined);
    })(context(d.host));
    expect(atGate).toEqual([['jobs-old', 'web-new1']]);
    expect(outcome.ok).toBe(true);
    expect(outcome.ok && outcome.states.map((s) => s.id)).toEqual(['web-new1']);
    expect(records.get('web-1')?.removed).toEqual([{ service: 'jobs', containers: ['shop-jobs-old'] }]);
    expect(d.containers.map((c) => c.id)).toEqual(['web-new1']);
  });
});

describe('rolling-update starter: a failed roll-out', () => {
  it('a service the release added is removed when the rolled services go back (the previous release lacks it)', async () => {
    // r2 adds cron (rolled first, by name) and breaks web
    const d = fakeDocker({
      configs: {
        r1: `services:\n  web: {image: web, ${HEALTHY}}\n`,
        r2: `services:\n  web: {image: web, ${HEALTHY}}\n  cron: {image: cron, ${HEALTHY}}\n`,
      },
      running: [{ id: 'web-old', service: 'web', hash: OLD, health: 'healthy' }],
      unhealthy: 'web',
    });
    const records = new Map<string, StarterRecord>();
    const outcome = await makeStarter(inputs, records, sleep)(context(d.host));
    expect(outcome).toMatchObject({ ok: false, previousServing: true });
    expect(!outcome.ok && outcome.reason).toMatch(/^on web-1: service "web" failed: .*; cron rolled back$/);
    const record = records.get('web-1');
    expect(record?.services.map((s) => [s.service, s.result])).toEqual([
      ['cron', 'updated'],
      ['web', 'failed'],
    ]);
    expect(record?.rolledBack).toEqual([]);
    expect(record?.removed).toEqual([{ service: 'cron', containers: ['shop-cron-new1'] }]);
    // the droplet is as before: r1's web only
    expect(d.containers.map((c) => c.id)).toEqual(['web-old']);
    expect(d.ran).toContain(
      'docker compose --project-name shop --file /opt/shop/releases/r1/compose.yaml --profile \\* config --services',
    );
  });
});
