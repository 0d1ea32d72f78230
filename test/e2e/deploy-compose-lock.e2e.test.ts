// deploy-compose's deploy lock with the BUNDLED action on a lab droplet: two deploys at once
// (the second waits, a third with a short lock-timeout fails naming the holder), a deploy
// killed mid-way (the post step clears its lock; without the post step staleness does).
import { randomBytes } from 'node:crypto';

import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import { type FixtureDroplet, useLab } from '../lab/fixture.js';
import {
  baseInputs,
  buildBundle,
  bundleRoot,
  deploy,
  httpGet,
  type LabApp,
  prepareApp,
} from '../support/deploy-compose-lab.js';
import { runAction } from '../support/run-action.js';

const lab = useLab();
let app: LabApp;
let d: FixtureDroplet;
const appName = 'locked';

beforeAll(async () => {
  buildBundle();
  app = prepareApp(lab, randomBytes(3).toString('hex'));
  app.publish('v1');
  d = await lab.createDroplet({ variant: 'trixie' });
  // a first release, so later deploys have something serving
  const first = await deploy(baseInputs(lab, d, app, appName));
  if (first.exitCode !== 0) throw new Error(first.log);
}, 600_000);

afterAll(() => app?.cleanup());

const lockExists = async (): Promise<boolean> => (await lab.exec(d, `test -d /opt/${appName}/.lock`)).code === 0;

describe('deploy lock', () => {
  it('two deploys at once: the second waits and proceeds; a third with a short lock-timeout fails naming the holder', async () => {
    const inputs: Record<string, string> = { ...baseInputs(lab, d, app, appName), 'lock-timeout': '3m' };
    // A holds the lock for a while: its web service sleeps 6 s before serving
    let holderSeen = false;
    let started!: () => void;
    const aStarted = new Promise<void>((r) => (started = r));
    const a = deploy(
      { ...inputs, env: `${inputs['env']}\nSTART_DELAY=6\nSTART_PERIOD=30s` },
      {
        onLine: (line) => {
          if (line.includes('starting release') && !holderSeen) {
            holderSeen = true;
            started();
          }
        },
      },
    );
    await aStarted;
    const b = deploy(inputs);
    const c = deploy({ ...inputs, 'lock-timeout': '1s' });
    const [ra, rb, rc] = await Promise.all([a, b, c]);
    const results = [ra, rb];
    expect(results.map((r) => r.exitCode)).toEqual([0, 0]);
    expect(holderSeen).toBe(true);
    expect(results.some((r) => r.log.includes('waiting for the deploy lock, held by tester-'))).toBe(true);
    expect(rc.exitCode).toBe(1);
    expect(rc.errors.join('\n')).toMatch(
      /step "lock": \/opt\/locked\/\.lock is held by tester-\d+ \(deploy-compose run \d+\.1 of acme\/shop, sha [0-9a-f]{7}, since .*\); waited \d+s \("lock-timeout"\)\..*Nothing was changed; release \w+ is still serving\./s,
    );
    expect(await lockExists()).toBe(false);
  });

  it('a deploy killed mid-way leaves its lock; the post step releases it', async () => {
    const inputs = baseInputs(lab, d, app, appName);
    const killed = await deploy(inputs, {
      onLine: (line, child) => {
        if (line.includes('starting release')) child.kill('SIGKILL');
      },
    });
    expect(killed.killed).toBe(true);
    expect(await lockExists()).toBe(true);
    expect(JSON.parse(killed.state['locks'] ?? '{}').hosts).toHaveLength(1);

    const post = await runAction('deploy-compose', {
      distRoot: bundleRoot(),
      entry: 'post',
      inputs,
      state: killed.state,
    });
    expect(post.exitCode, post.log).toBe(0);
    expect(post.log).toContain(`released the deploy lock /opt/${appName}/.lock on ${d.publicIpv4}`);
    expect(await lockExists()).toBe(false);

    const next = await deploy(inputs);
    expect(next.exitCode, next.log).toBe(0);
    expect((await httpGet(d, '/version.txt')).status).toBe(200);
  });

  it("without the post step, a killed deploy's lock is taken over once it is stale", async () => {
    const inputs = { ...baseInputs(lab, d, app, appName), 'lock-stale-after': '6s', 'lock-timeout': '60s' };
    const killed = await deploy(inputs, {
      onLine: (line, child) => {
        if (line.includes('starting release')) child.kill('SIGKILL');
      },
    });
    expect(killed.killed).toBe(true);
    expect(await lockExists()).toBe(true);
    const next = await deploy(inputs);
    expect(next.exitCode, next.log).toBe(0);
    expect(next.log).toMatch(/taking over a stale deploy lock held by tester-\d+ .*\(no heartbeat for \d+s\)/);
    expect(await lockExists()).toBe(false);
  });

  it('the post step after a normal run has nothing to release', async () => {
    const inputs = baseInputs(lab, d, app, appName);
    const main = await deploy(inputs);
    expect(main.exitCode).toBe(0);
    const post = await runAction('deploy-compose', {
      distRoot: bundleRoot(),
      entry: 'post',
      inputs,
      state: main.state,
    });
    expect(post.exitCode).toBe(0);
    expect(post.log).toContain('no deploy lock left to release');
  });
});
