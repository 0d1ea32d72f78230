// The one-step root action (a private bundle of deploy) on the lab: upload → migrate → roll out
// → gate → switch, under one lock; a release whose gate fails is not switched in and the
// previous release serves again.
import { rmSync } from 'node:fs';

import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import type { FixtureDroplet } from '../lab/fixture.js';
import { useLab } from '../lab/fixture.js';
import { httpGet, visibleLog } from '../support/deploy-compose-lab.js';
import {
  type AppVersion,
  type MigrateImages,
  NEW_SECRET,
  oneStepInputs,
  PG_PASSWORD,
  prepareMigrateImages,
  runEnv,
} from '../support/migrate-lab.js';
import { buildPrivateBundle } from '../support/private-bundle.js';
import { runAction } from '../support/run-action.js';

const lab = useLab();
let droplet: FixtureDroplet;
let images: MigrateImages;
let distRoot: string;

beforeAll(async () => {
  distRoot = buildPrivateBundle('deploy');
  images = prepareMigrateImages(lab, `root-${process.pid}`);
  droplet = await lab.createDroplet({ variant: 'trixie' });
}, 900_000);

afterAll(() => {
  if (distRoot) rmSync(distRoot, { recursive: true, force: true });
});

function oneStep(version: AppVersion, releaseId: string, gatePath: string) {
  return runAction('deploy', {
    distRoot,
    inputs: {
      ...oneStepInputs(lab, droplet, images, version, releaseId),
      'gate-url': `http://{host}${gatePath}`,
      'gate-expect-status': '200',
      'gate-timeout': '15s',
    },
    env: runEnv(`${releaseId}0000000`, '9'),
  });
}

describe('one-step deploy', () => {
  it('first release: migrates, starts, gates, switches', async () => {
    const r = await oneStep('v1', 'r1', '/healthz');
    expect(r.errors).toEqual([]);
    expect(r.outputs['release-id']).toBe('r1');
    expect(r.outputs['migrated']).toBe('true');
    expect(r.outputs['gate-passed']).toBe('true');
    expect(await httpGet(droplet, '/version')).toEqual({ status: 200, body: 'v1' });
    expect((await lab.exec(droplet, 'readlink /opt/shop/current')).stdout.trim()).toMatch(/r1$/);
    expect(visibleLog(r.log)).not.toContain(PG_PASSWORD);
    expect(visibleLog(r.log)).not.toContain(NEW_SECRET);
  });

  it('a release whose gate fails is not switched in; the previous release serves again', async () => {
    const r = await oneStep('v2', 'r2', '/no-such-page');
    expect(r.exitCode).toBe(1);
    const error = r.errors.join('\n');
    expect(error).toContain('health gate');
    expect(error).toContain('Release r2 was not switched in');
    expect(await httpGet(droplet, '/version')).toEqual({ status: 200, body: 'v1' });
    expect((await lab.exec(droplet, 'readlink /opt/shop/current')).stdout.trim()).toMatch(/r1$/);
    // the lock is free again: the next deploy goes through
    const ok = await oneStep('v2', 'r3', '/healthz');
    expect(ok.errors).toEqual([]);
    expect(await httpGet(droplet, '/version')).toEqual({ status: 200, body: 'v2' });
  });

  it('a failing migration stops before the roll-out: nothing switches', async () => {
    const r = await oneStep('bad', 'r4', '/healthz');
    expect(r.exitCode).toBe(1);
    expect(r.errors.join('\n')).toContain('relation "no_such_table" does not exist');
    expect(await httpGet(droplet, '/version')).toEqual({ status: 200, body: 'v2' });
    expect((await lab.exec(droplet, 'readlink /opt/shop/current')).stdout.trim()).toMatch(/r3$/);
  });
});
