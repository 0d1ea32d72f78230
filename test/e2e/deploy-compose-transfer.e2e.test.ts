// deploy-compose `images: transfer` with the BUNDLED action: images go from this machine's
// Docker (the "runner") to the droplet over SSH, only the layers the droplet lacks; a
// rollback afterwards runs the pinned image ids without any transfer.
import { randomBytes } from 'node:crypto';

import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import { type FixtureDroplet, useLab } from '../lab/fixture.js';
import { buildBundle, buildWebImage, deploy, docker, FIXTURE_DIR, httpGet } from '../support/deploy-compose-lab.js';

const lab = useLab();
const ns = randomBytes(3).toString('hex');
const name = `ddlab-e2e-${ns}/tweb`;
let tags: { v1: string; v2: string };

beforeAll(() => {
  buildBundle();
  // 3 layers: the lab's web image, a 2 MB payload shared by both, the version file
  tags = {
    v1: buildWebImage(lab.info.images.web, name, 'v1', 2_000_000),
    v2: '',
  };
  // v2 = v1's payload layer + another version file: retag the payload stage by building FROM v1
  docker(['build', '-q', '-t', `${name}:v2`, '-'], `FROM ${tags.v1}\nRUN echo 'version v2' > /www/version.txt\n`);
  tags.v2 = `${name}:v2`;
}, 300_000);

afterAll(() => {
  if (tags?.v2) docker(['rmi', tags.v1, tags.v2]);
});

function inputs(d: FixtureDroplet, tag: string): Record<string, string> {
  return {
    hosts: d.publicIpv4,
    'ssh-private-key': lab.identity.privateKey,
    'known-hosts': `${d.publicIpv4} ${d.hostKey}`,
    app: 'tshop',
    'compose-files': 'deploy/single.yaml',
    'working-directory': FIXTURE_DIR,
    env: `WEB_IMAGE=${tag}`,
    images: 'transfer',
    'wait-timeout': '60s',
  };
}

describe.each(['trixie', 'bookworm'] as const)('images: transfer on %s', (variant) => {
  it('sends the image, then only the changed layer; rollback needs no transfer', async () => {
    const d = await lab.createDroplet({ variant });
    const env = { PATH: `/usr/bin:${process.env['PATH'] ?? ''}` };
    const first = await deploy(inputs(d, tags.v1), { env });
    expect(first.exitCode, first.log).toBe(0);
    expect(await httpGet(d, '/version.txt')).toEqual({ status: 200, body: 'version v1' });
    const sent1 = Number(/transfer: (\d+) bytes sent/.exec(first.log)?.[1]);
    expect(sent1).toBeGreaterThan(2_000_000);

    const second = await deploy(inputs(d, tags.v2), { env });
    expect(second.exitCode, second.log).toBe(0);
    expect(await httpGet(d, '/version.txt')).toEqual({ status: 200, body: 'version v2' });
    expect(second.log).toMatch(/droplet has 3 of 4 layers; sending 1/);
    const sent2 = Number(/transfer: (\d+) bytes sent/.exec(second.log)?.[1]);
    expect(sent2).toBeLessThan(100_000);

    const back = await deploy({ ...inputs(d, tags.v2), 'rollback-to': 'previous' }, { env });
    expect(back.exitCode, back.log).toBe(0);
    expect(back.log).not.toContain('transfer:');
    expect(await httpGet(d, '/version.txt')).toEqual({ status: 200, body: 'version v1' });
    await lab.destroy(d);
  });
});
