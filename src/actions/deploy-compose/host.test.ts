// One host's deploy on a fake droplet: the round trips in order (begin, pull, up + wait,
// finish — the lock handed off inside the last one), and what a failure at each stage leaves.
import { describe, expect, it } from 'vitest';

import { beginReply, FAKE_IMAGE, fakeDeps, fakeInputs } from '../../../test/support/deploy-compose-fake.js';
import { FakeHost } from '../../../test/support/fake-host.js';
import { run } from './run.js';

const ID = `sha256:${'1'.repeat(64)}`;
const DIGEST = `ghcr.io/acme/web@sha256:${'2'.repeat(64)}`;

function containers(health: string): string {
  return JSON.stringify([
    {
      Id: 'c1',
      Name: '/shop-web-1',
      Image: ID,
      State: { Status: 'running', ExitCode: 0, Health: { Status: health, Log: [] } },
      Config: {
        Image: FAKE_IMAGE,
        Labels: { 'com.docker.compose.project': 'shop', 'com.docker.compose.service': 'web' },
      },
    },
  ]);
}

/** What each command was, by its first recognisable part. */
function steps(host: FakeHost): string[] {
  return host.commands().map((c) => {
    if (c.includes('@@dd:config')) return 'begin';
    if (c.includes('docker pull')) return 'pull';
    if (c.includes('up --detach')) return 'up';
    if (c.includes('dd\\:switched')) return 'finish';
    return c;
  });
}

function droplet(begin = beginReply()): FakeHost {
  return new FakeHost()
    .on((c) => c.includes('@@dd:config'), begin)
    .on(/docker pull/, { stdout: `${ID} ["${DIGEST}"]\n` })
    .on(/up --detach/, { stdout: `@@dd:up-ok\n@@dd:states\n${containers('healthy')}\n` })
    .on((c) => c.includes('dd\\:switched'), { stdout: '@@dd:switched\n@@dd:unlocked\n' });
}

describe('deployHost', () => {
  it('a healthy deploy is four round trips; the lock goes with the finish script', async () => {
    const host = droplet();
    const [outcome] = await run(fakeInputs(), fakeDeps(host).deps);
    expect(steps(host)).toEqual(['begin', 'pull', 'up', 'finish']);
    expect(outcome).toMatchObject({ release: 'abcdef0', previous: undefined, action: 'deploy' });
    expect(outcome?.services).toEqual([
      { host: '192.0.2.10', name: 'web', image: FAKE_IMAGE, digest: DIGEST, state: 'running', health: 'healthy' },
    ]);
    const finish = host.calls.find((c) => c.command.includes('dd\\:switched'));
    expect(finish?.command).toContain('dd\\:unlocked');
    expect(JSON.parse(finish?.stdin ?? '{}')).toMatchObject({ release: 'abcdef0', result: 'success' });
  });

  it('an invalid compose file stops before any pull or switch: only the scratch folder and the lock go', async () => {
    const host = droplet(beginReply({ configExit: 15 }));
    await expect(run(fakeInputs(), fakeDeps(host).deps)).rejects.toThrow(/compose config/);
    expect(steps(host)).toEqual([
      'begin',
      'rm -rf /opt/shop/.deploy-tmp/tok-1',
      expect.stringMatching(/^grep -qF .*tok-1.* \/opt\/shop\/\.lock\/holder\.json && rm -rf \/opt\/shop\/\.lock/),
    ]);
  });

  it('a lock taken whose upload failed ("File exists" on stderr) is removed at once, not waited on', async () => {
    const host = new FakeHost().on((c) => c.includes('@@dd:config'), {
      code: 1,
      stdout: '@@dd:locked\n',
      stderr: "mkdir: cannot create directory '/opt/shop/.deploy-tmp/tok-1': File exists\n",
    });
    await expect(run(fakeInputs(), fakeDeps(host).deps)).rejects.toThrow(/upload.*File exists/s);
    expect(steps(host)).toEqual(['begin', 'rm -rf /opt/shop/.lock', expect.stringMatching(/^readlink/)]);
  });

  it('a service that turns unhealthy is not switched in; the failure is logged and the release removed', async () => {
    const host = droplet().on(/up --detach/, { stdout: `@@dd:up-ok\n@@dd:states\n${containers('unhealthy')}\n` });
    await expect(run(fakeInputs(), fakeDeps(host).deps)).rejects.toThrow(/service web is unhealthy/);
    const done = steps(host);
    // after up: the failing container's log tail, the project stopped (nothing served
    // before), then the failure logged and the release removed in one round trip, the lock
    expect(done).toEqual([
      'begin',
      'pull',
      'up',
      'docker logs --tail 20 shop-web-1 2>&1',
      expect.stringMatching(/^docker compose .* down --remove-orphans$/),
      '{ tee -a /opt/shop/deploys.log > /dev/null; } ; rm -rf /opt/shop/releases/abcdef0',
      expect.stringMatching(/^grep -qF tok-1 .* && rm -rf \/opt\/shop\/\.lock$/),
    ]);
    const failed = host.calls.find((c) => c.command.includes('tee -a /opt/shop/deploys.log'));
    expect(JSON.parse(failed?.stdin ?? '{}')).toMatchObject({ release: 'abcdef0', result: 'failed' });
  });
});
