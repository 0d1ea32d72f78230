// Services dropped from a release: which containers count, the all-profiles listing that
// keeps a service under a disabled profile, and the stop/remove by id (never volumes).
import { describe, expect, it } from 'vitest';

import type { Logger } from '../../../src/lib/action/logger.js';
import { render } from '../../../src/lib/commands/cmd.js';
import { COMPOSE_V1, COMPOSE_V2, type ComposeProject } from '../../../src/lib/compose/compose.js';
import type { ServiceState } from '../../../src/lib/compose/state.js';
import {
  declaredServices,
  droppedServices,
  parseServiceNames,
  removeDropped,
} from '../../../src/lib/rollout/dropped.js';
import { FakeHost } from '../../support/fake-host.js';

const quiet: Logger = { info: () => {}, warn: () => {}, error: () => {}, debug: () => {}, group: (_n, fn) => fn() };
const project: ComposeProject = {
  flavor: COMPOSE_V2,
  project: 'shop',
  files: ['/opt/shop/releases/r2/compose.yaml', '/opt/shop/releases/r2/release.pinned.yml'],
  envFile: '/opt/shop/releases/r2/.env',
  profiles: ['web'],
};

function state(id: string, service: string, extra: Partial<ServiceState> = {}): ServiceState {
  return {
    id,
    container: `shop-${service}-${id}`,
    service,
    project: 'shop',
    image: 'x',
    imageId: 'sha256:1',
    status: 'running',
    healthLog: [],
    failingStreak: 0,
    exitCode: 0,
    restartCount: 0,
    restartPolicy: '',
    startedAt: '',
    oneOff: false,
    number: 1,
    labels: {},
    ...extra,
  };
}

const STATES = [
  state('w1', 'web'),
  state('j1', 'jobs'),
  state('j2', 'jobs', { status: 'exited' }),
  state('m1', 'migrate', { oneOff: true, status: 'exited' }),
  state('d1', 'debug'),
];

describe('droppedServices', () => {
  it('every non-one-off container of a service the release does not declare, stopped ones too', () => {
    expect(droppedServices(STATES, new Set(['web'])).map((d) => [d.service, d.containers.map((c) => c.id)])).toEqual([
      ['debug', ['d1']],
      ['jobs', ['j1', 'j2']],
    ]);
    expect(droppedServices(STATES, new Set(['web', 'jobs', 'debug']))).toEqual([]);
  });
});

describe('declaredServices', () => {
  it('Compose v2 lists with every profile enabled; v1 lists every service by itself', () => {
    expect(render(declaredServices(project))).toBe(
      'docker compose --project-name shop --file /opt/shop/releases/r2/compose.yaml --file /opt/shop/releases/r2/release.pinned.yml --env-file /opt/shop/releases/r2/.env --profile \\* config --services',
    );
    expect(render(declaredServices({ ...project, flavor: COMPOSE_V1 }))).toBe(
      'docker-compose --project-name shop --file /opt/shop/releases/r2/compose.yaml --file /opt/shop/releases/r2/release.pinned.yml --env-file /opt/shop/releases/r2/.env config --services',
    );
  });

  it('parses one name a line, ignoring warnings', () => {
    expect([...parseServiceNames('web\njobs\n\ntime="x" level=warning msg="y"\ndebug\n')]).toEqual([
      'web',
      'jobs',
      'debug',
    ]);
  });
});

/** After a roll-out of a release whose enabled services are web alone. */
const AFTER_WEB = { project, states: STATES, active: new Set(['web']), stopTimeoutSeconds: 10 };

describe('removeDropped', () => {
  it('nothing outside the enabled services: not a single remote command', async () => {
    const host = new FakeHost();
    const removed = await removeDropped(
      host,
      { project, states: [state('w1', 'web')], active: new Set(['web']), stopTimeoutSeconds: 10 },
      { logger: quiet },
    );
    expect(removed).toEqual([]);
    expect(host.commands()).toEqual([]);
  });

  it('stops and removes the dropped service by id (no -v: volumes kept); a disabled-profile service stays', async () => {
    const host = new FakeHost().on(/config --services$/, { stdout: 'web\ndebug\n' }).on(/^docker stop/, { stdout: '' });
    const lines: string[] = [];
    const removed = await removeDropped(host, AFTER_WEB, { logger: { ...quiet, info: (m) => lines.push(m) } });
    expect(removed).toEqual([{ service: 'jobs', containers: ['shop-jobs-j1', 'shop-jobs-j2'] }]);
    expect(host.commands()).toEqual([
      expect.stringMatching(/--profile \\\* config --services$/),
      'docker stop --time 10 j1 j2 && docker rm j1 j2',
    ]);
    expect(lines).toEqual([
      'fake-1 (192.0.2.10): jobs: no longer in the release; stopping and removing shop-jobs-j1, shop-jobs-j2 (volumes kept)',
    ]);
  });

  it('several dropped services: one stop/remove for all their containers, one log line each', async () => {
    const host = new FakeHost().on(/config --services$/, { stdout: 'web\n' }).on(/^docker stop/, { stdout: '' });
    const lines: string[] = [];
    const removed = await removeDropped(host, AFTER_WEB, { logger: { ...quiet, info: (m) => lines.push(m) } });
    expect(removed).toEqual([
      { service: 'debug', containers: ['shop-debug-d1'] },
      { service: 'jobs', containers: ['shop-jobs-j1', 'shop-jobs-j2'] },
    ]);
    expect(host.commands()).toEqual([
      expect.stringMatching(/config --services$/),
      'docker stop --time 10 d1 j1 j2 && docker rm d1 j1 j2',
    ]);
    expect(lines.map((l) => l.split(': ')[1])).toEqual(['debug', 'jobs']);
  });

  it('removing fails: the error reaches the caller (who reports the services as left running)', async () => {
    const host = new FakeHost()
      .on(/config --services$/, { stdout: 'web\n' })
      .on(/^docker stop/, { code: 1, stderr: 'Error response from daemon: cannot stop container: j1\n' });
    await expect(removeDropped(host, AFTER_WEB, { logger: quiet })).rejects.toThrow(/cannot stop container/);
  });

  it('listing the services fails: nothing is removed, the error says why', async () => {
    const host = new FakeHost().on(/config --services$/, { code: 1, stderr: 'no such profile\n' });
    await expect(removeDropped(host, AFTER_WEB, { logger: quiet })).rejects.toThrow(
      "listing the release's services failed (exit 1): no such profile",
    );
    expect(host.commands().some((c) => c.startsWith('docker stop'))).toBe(false);
  });
});
