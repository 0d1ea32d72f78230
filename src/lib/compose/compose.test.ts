import { describe, expect, it } from 'vitest';

import { render } from '../commands/cmd.js';
import { FakeHost } from '../../../test/support/fake-host.js';
import {
  COMPOSE_V1,
  COMPOSE_V2,
  type ComposeProject,
  configQuiet,
  configResolved,
  detectCompose,
  down,
  parseDetect,
  pull,
  upDetached,
} from './compose.js';

const files = ['/opt/shop/releases/r1/deploy/compose.yaml', '/opt/shop/releases/r1/release.pinned.yml'];
const v2: ComposeProject = {
  flavor: COMPOSE_V2,
  project: 'shop',
  files,
  envFile: '/opt/shop/releases/r1/deploy/.env',
  profiles: ['web'],
};
const v1: ComposeProject = { ...v2, flavor: COMPOSE_V1, profiles: [] };
const base2 =
  'docker compose --project-name shop --file /opt/shop/releases/r1/deploy/compose.yaml --file /opt/shop/releases/r1/release.pinned.yml --env-file /opt/shop/releases/r1/deploy/.env --profile web';
const base1 =
  'docker-compose --project-name shop --file /opt/shop/releases/r1/deploy/compose.yaml --file /opt/shop/releases/r1/release.pinned.yml --env-file /opt/shop/releases/r1/deploy/.env';

describe('compose builders', () => {
  it.each([
    ['config --quiet (v2)', configQuiet(v2), `${base2} config --quiet`],
    ['config (v1)', configResolved(v1), `${base1} config`],
    ['pull (v2)', pull(v2, ['web']), `${base2} pull --quiet web`],
    ['up (v2)', upDetached(v2), `${base2} up --detach --remove-orphans --no-build`],
    ['up (v1)', upDetached(v1), `${base1} up --detach --remove-orphans --no-build`],
    ['down keeps volumes (v1)', down(v1), `${base1} down --remove-orphans`],
  ])('%s', (_name, script, expected) => {
    expect(render(script)).toBe(expected);
  });
});

describe('detectCompose', () => {
  it.each([
    ['2.26.1-4\n', true, { command: ['docker', 'compose'], version: '2.26.1-4', major: 2 }],
    ['v2.29.0\n', false, { command: ['docker-compose'], version: '2.29.0', major: 2 }],
    ['1.29.2\n', false, { command: ['docker-compose'], version: '1.29.2', major: 1 }],
  ])('parses %j', (stdout, plugin, expected) => {
    expect(parseDetect(stdout, plugin)).toEqual(expected);
  });

  it('prefers the v2 plugin, falls back to docker-compose, and asks once per host', async () => {
    const host = new FakeHost()
      .on('docker compose version --short', { code: 125, stderr: "docker: 'compose' is not a docker command." })
      .on('docker-compose version --short', { stdout: '1.29.2\n' });
    expect((await detectCompose(host)).major).toBe(1);
    expect((await detectCompose(host)).major).toBe(1);
    expect(host.commands()).toEqual(['docker compose version --short', 'docker-compose version --short']);
  });

  it('says clearly when neither works', async () => {
    const host = new FakeHost()
      .on('docker compose version --short', { code: 125, stderr: 'not a docker command' })
      .on('docker-compose version --short', { code: 127, stderr: 'docker-compose: not found' });
    await expect(detectCompose(host)).rejects.toThrow(
      /neither `docker compose` \(Compose v2\) nor `docker-compose` \(v1\) works/,
    );
  });
});
