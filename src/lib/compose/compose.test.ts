import { describe, expect, it } from 'vitest';

import { render } from '../commands/cmd.js';
import {
  COMPOSE_V1,
  COMPOSE_V2,
  type ComposeProject,
  configQuiet,
  configResolved,
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

describe('parseDetect', () => {
  it.each([
    ['2.26.1-4\n', true, { command: ['docker', 'compose'], version: '2.26.1-4', major: 2 }],
    ['v2.29.0\n', false, { command: ['docker-compose'], version: '2.29.0', major: 2 }],
    ['1.29.2\n', false, { command: ['docker-compose'], version: '1.29.2', major: 1 }],
  ])('parses %j', (stdout, plugin, expected) => {
    expect(parseDetect(stdout, plugin)).toEqual(expected);
  });
});
