// rolling-update in swarm mode, end to end with the BUNDLED action on 3 lab droplets:
// swarm-init (first droplet manager, the others join over the lab network), the stack
// deployed, updated start-first, then an image that does not exist: Swarm rolls the update
// back and the action fails with the reason; the previous version keeps serving. The whole run
// holds the deploy lock on the manager (/opt/<app>/.lock), as the compose mode does.
import { randomBytes } from 'node:crypto';

import { beforeAll, describe, expect, it } from 'vitest';

import { type FixtureDroplet, useLab } from '../lab/fixture.js';
import { buildRollingUpdate, getText, labImages, rollingUpdate } from '../support/rolling-update-lab.js';

const lab = useLab();
const app = `sw${randomBytes(2).toString('hex')}`;
let ds: FixtureDroplet[] = [];

function inputs(release: string, webImage?: string): Record<string, string> {
  const { web, nginx } = labImages(lab);
  return {
    mode: 'swarm',
    'swarm-init': 'true',
    hosts: ds.map((d) => d.publicIpv4).join(','),
    'ssh-private-key': lab.identity.privateKey,
    'known-hosts': ds.map((d) => `${d.publicIpv4} ${d.hostKey}`).join('\n'),
    app,
    'compose-files': 'stack.yaml',
    files: 'nginx.conf',
    'working-directory': 'test/e2e/fixtures/rolling-update-swarm',
    env: `WEB_IMAGE=${webImage ?? web}\nNGINX_IMAGE=${nginx}\nRELEASE=${release}`,
    'release-id': release,
    'health-timeout': '150s',
  };
}

interface SvcOut {
  service: string;
  replicas: string;
  state: string;
  message: string;
}

beforeAll(async () => {
  buildRollingUpdate();
  ds = await Promise.all([1, 2, 3].map(() => lab.createDroplet({ variant: 'trixie' })));
}, 600_000);

describe('rolling-update mode swarm on 3 droplets', () => {
  it('sets up the swarm and deploys the stack', async () => {
    const r = await rollingUpdate(inputs('s1'));
    expect(r.exitCode, r.log).toBe(0);
    const nodes = await lab.exec(ds[0] as FixtureDroplet, "docker node ls --format '{{.Status}} {{.ManagerStatus}}'");
    expect(
      nodes.stdout
        .split('\n')
        .map((l) => l.trim())
        .filter(Boolean)
        .sort(),
    ).toEqual(['Ready', 'Ready', 'Ready Leader']);
    expect(await getText(`http://${ds[0]?.publicIpv4}/v.txt`)).toEqual({ status: 200, body: 's1' });
    expect(r.log).toContain(`holding the deploy lock /opt/${app}/.lock`);
    expect((await lab.exec(ds[0] as FixtureDroplet, `test -e /opt/${app}/.lock`)).code).not.toBe(0); // released
    const svcs = JSON.parse(r.outputs['services'] ?? '[]') as SvcOut[];
    expect(svcs.map((s) => [s.service, s.replicas]).sort()).toEqual([
      [`${app}_nginx`, '1/1'],
      [`${app}_web`, '2/2'],
    ]);
  });

  it('updates web start-first to s2 and waits until Swarm reports the update completed', async () => {
    const r = await rollingUpdate(inputs('s2'));
    expect(r.exitCode, r.log).toBe(0);
    const svcs = JSON.parse(r.outputs['services'] ?? '[]') as SvcOut[];
    expect(
      svcs.find((s) => s.service === `${app}_web`),
      `${r.outputs['services']}\n${r.log.slice(-2500)}`,
    ).toMatchObject({
      replicas: '2/2',
      state: 'completed',
    });
    expect(await getText(`http://${ds[0]?.publicIpv4}/v.txt`)).toEqual({ status: 200, body: 's2' });
  });

  it('an image that does not exist: Swarm rolls back, the action fails with the task errors, s2 keeps serving', async () => {
    const missing = `${lab.env.LAB_REGISTRY}/ddlab/web:does-not-exist-${app}`;
    const r = await rollingUpdate(inputs('s3', missing));
    expect(r.exitCode, `${r.outputs['services']}\n${r.log.slice(-2500)}`).toBe(1);
    const error = r.errors.join('\n');
    expect(error).toMatch(new RegExp(`rolling-update failed: Swarm rolled back ${app}_web`));
    expect(error).toContain('Task errors:');
    expect(error).toMatch(/does-not-exist/);
    expect(await getText(`http://${ds[0]?.publicIpv4}/v.txt`)).toEqual({ status: 200, body: 's2' });
    const svcs = JSON.parse(r.outputs['services'] ?? '[]') as SvcOut[];
    expect(svcs.find((s) => s.service === `${app}_web`)?.state).toBe('rollback_completed');
  });

  it('another deploy holds the lock on the manager: fails naming it, the stack is not touched', async () => {
    const m = ds[0] as FixtureDroplet;
    const holder = JSON.stringify({
      repo: 'acme/shop',
      runId: '9',
      actor: 'eve',
      sha: 'abcdef0',
      time: '2026-11-22T06:00:00Z',
      token: 'someone-else',
      action: 'deploy-compose',
    });
    await lab.exec(m, `mkdir -p /opt/${app}/.lock && cat > /opt/${app}/.lock/holder.json`, { stdin: holder });
    try {
      const before = (await lab.exec(m, `docker service inspect ${app}_web --format '{{.Version.Index}}'`)).stdout;
      const r = await rollingUpdate({ ...inputs('s4'), 'lock-timeout': '3s' });
      expect(r.exitCode, r.log).toBe(1);
      expect(r.errors.join('\n')).toMatch(/deploy lock: .* is held by eve \(deploy-compose run 9 of acme\/shop/);
      expect(r.log).not.toContain('docker stack deploy');
      expect((await lab.exec(m, `docker service inspect ${app}_web --format '{{.Version.Index}}'`)).stdout).toBe(
        before,
      );
      expect(await getText(`http://${m.publicIpv4}/v.txt`)).toEqual({ status: 200, body: 's2' });
      // still the other deploy's lock
      expect((await lab.exec(m, `cat /opt/${app}/.lock/holder.json`)).stdout).toContain('someone-else');
    } finally {
      await lab.exec(m, `rm -rf /opt/${app}/.lock`);
    }
  });
});
