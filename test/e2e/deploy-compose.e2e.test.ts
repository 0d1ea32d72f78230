// deploy-compose end to end with the BUNDLED action (dist/deploy-compose/index.js and
// post/index.js run as child processes the way the runner runs them) against lab droplets:
// a two-service stack (busybox web behind nginx, a named volume with data) deployed as
// releases v1 → v2 → rollback, on Compose v2 (trixie) and v1 (bookworm).
import { randomBytes } from 'node:crypto';

import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import { type FixtureDroplet, useLab } from '../lab/fixture.js';
import {
  baseInputs,
  buildBundle,
  deploy,
  httpGet,
  type LabApp,
  prepareApp,
  SECRET_VALUE,
  visibleLog,
} from '../support/deploy-compose-lab.js';

const lab = useLab();
let app: LabApp;

beforeAll(() => {
  buildBundle();
  app = prepareApp(lab, randomBytes(3).toString('hex'));
}, 300_000);

afterAll(() => app?.cleanup());

describe.each(['trixie', 'bookworm'] as const)('deploy-compose on %s', (variant) => {
  let d: FixtureDroplet;
  const appName = `shop${variant === 'trixie' ? '2' : '1'}`;

  beforeAll(async () => {
    d = await lab.createDroplet({ variant });
  }, 300_000);

  it('deploys v1, then v2 with the volume intact, then rolls back to v1 from pinned digests', async () => {
    const inputs = baseInputs(lab, d, app, appName);

    app.publish('v1');
    // sample the droplet's process list during the whole first deploy
    const samples: string[] = [];
    let sampling = true;
    const sampler = (async () => {
      while (sampling) {
        const ps = await lab.exec(d, 'ps -eo args');
        samples.push(ps.stdout);
        await new Promise((r) => setTimeout(r, 150));
      }
    })();
    const first = await deploy(inputs, { sha: 'a1a1a1a1a1a1' });
    sampling = false;
    await sampler;
    expect(first.exitCode, first.log).toBe(0);
    expect(first.outputs['release-id']).toBe('a1a1a1a');
    expect(first.outputs['previous-release-id']).toBe('');
    expect(await httpGet(d, '/version.txt')).toEqual({ status: 200, body: 'version v1' });
    const data = await httpGet(d, '/data/created');
    expect(data.status).toBe(200);
    const services = JSON.parse(first.outputs['services'] ?? '[]') as {
      name: string;
      health: string;
      digest: string;
    }[];
    expect(services.map((s) => s.name).sort()).toEqual(['nginx', 'web']);
    expect(services.find((s) => s.name === 'web')?.health).toBe('healthy');
    expect(first.summary).toContain('| web |');

    // secrets: never in the droplet's argv, never in the visible log; .env is 0600
    expect(samples.length).toBeGreaterThan(3);
    expect(samples.join('\n')).not.toContain(SECRET_VALUE);
    expect(visibleLog(first.log)).not.toContain(SECRET_VALUE);
    const mode = await lab.exec(d, `stat -c %a /opt/${appName}/current/deploy/.env`);
    expect(mode.stdout.trim()).toBe('600');
    const inContainer = await lab.exec(
      d,
      `docker exec ${appName}${variant === 'trixie' ? '-web-1' : '_web_1'} /bin/busybox env`,
    );
    expect(inContainer.stdout).toContain(`APP_SECRET=${SECRET_VALUE}`);

    app.publish('v2');
    const second = await deploy(inputs, { sha: 'b2b2b2b2b2b2' });
    expect(second.exitCode, second.log).toBe(0);
    expect(second.outputs['release-id']).toBe('b2b2b2b');
    expect(second.outputs['previous-release-id']).toBe('a1a1a1a');
    expect(await httpGet(d, '/version.txt')).toEqual({ status: 200, body: 'version v2' });
    expect(await httpGet(d, '/data/created')).toEqual(data);

    // the tag still points at v2: the rollback must run the digests pinned in release a1a1a1a
    const back = await deploy({ ...inputs, 'rollback-to': 'previous' });
    expect(back.exitCode, back.log).toBe(0);
    expect(back.outputs['release-id']).toBe('a1a1a1a');
    expect(back.outputs['previous-release-id']).toBe('b2b2b2b');
    expect(await httpGet(d, '/version.txt')).toEqual({ status: 200, body: 'version v1' });
    expect(await httpGet(d, '/data/created')).toEqual(data);
    const current = await lab.exec(d, `readlink /opt/${appName}/current`);
    expect(current.stdout.trim()).toBe('releases/a1a1a1a');
    const log = await lab.exec(d, `cat /opt/${appName}/deploys.log`);
    const entries = log.stdout
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l) as { action: string; release: string; result: string });
    expect(entries.map((e) => [e.action, e.release, e.result])).toEqual([
      ['deploy', 'a1a1a1a', 'success'],
      ['deploy', 'b2b2b2b', 'success'],
      ['rollback', 'a1a1a1a', 'success'],
    ]);
    expect(back.summary).toContain('rolled back to a1a1a1a');
  });

  it('a broken compose file fails at "compose config" and the serving release keeps serving', async () => {
    const r = await deploy({ ...baseInputs(lab, d, app, appName), 'compose-files': 'deploy/broken.yaml' });
    expect(r.exitCode).toBe(1);
    expect(r.errors.join('\n')).toMatch(
      /deploy-compose failed: host [\d.]+, step "compose config": .*imagee.*Nothing was changed; release a1a1a1a is still serving\./s,
    );
    expect(await httpGet(d, '/version.txt')).toEqual({ status: 200, body: 'version v1' });
    const releases = await lab.exec(d, `ls /opt/${appName}/releases`);
    expect(releases.stdout.trim().split('\n').sort()).toEqual(['a1a1a1a', 'b2b2b2b']);
  });

  it('a missing image fails at "deliver images" and the serving release keeps serving', async () => {
    const inputs = baseInputs(lab, d, app, appName);
    const missing = `${lab.env.LAB_REGISTRY}/ddlab-e2e-nope/web:missing`;
    const r = await deploy({ ...inputs, env: `WEB_IMAGE=${missing}\nNGINX_IMAGE=${app.nginxRef}` });
    expect(r.exitCode).toBe(1);
    expect(r.errors.join('\n')).toMatch(/step "deliver images": pulling image .*nope\/web:missing failed/);
    expect(r.errors.join('\n')).toContain('Nothing was changed; release a1a1a1a is still serving.');
    expect(await httpGet(d, '/version.txt')).toEqual({ status: 200, body: 'version v1' });
  });

  it('a service that never becomes healthy is reported with its health log; the previous release is brought back', async () => {
    app.publish('v2');
    const inputs = baseInputs(lab, d, app, appName);
    const r = await deploy({
      ...inputs,
      env: `${inputs['env']}\nHEALTH_PATH=/does-not-exist`,
      'wait-timeout': '40s',
    });
    expect(r.exitCode).toBe(1);
    const error = r.errors.join('\n');
    expect(error).toMatch(/step "wait for services": service web is unhealthy/);
    expect(error).toContain('Release');
    expect(error).toMatch(/release a1a1a1a was brought back up and is serving/i);
    expect(error).toContain('health log');
    expect(await httpGet(d, '/version.txt')).toEqual({ status: 200, body: 'version v1' });
    const current = await lab.exec(d, `readlink /opt/${appName}/current`);
    expect(current.stdout.trim()).toBe('releases/a1a1a1a');
  });
});
