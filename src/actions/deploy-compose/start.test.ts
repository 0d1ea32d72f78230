import { describe, expect, it } from 'vitest';

import { FakeHost } from '../../../test/support/fake-host.js';
import { render } from '../../lib/commands/cmd.js';
import { COMPOSE_V2 } from '../../lib/compose/compose.js';
import { appPaths } from '../../lib/release/model.js';
import { projectFor, releasesInUse } from './project.js';
import { runUp, upScript } from './start.js';

const paths = appPaths('shop');
const manifest = { composeFiles: ['deploy/compose.yaml'], envFile: 'deploy/.env', profiles: [] };

describe('start script', () => {
  const script = upScript({
    before: [],
    paths,
    id: 'b2',
    project: {
      ...projectFor(COMPOSE_V2, 'shop', paths.release('b2'), manifest, true),
      projectDirectory: '/opt/shop/live/deploy',
    },
    app: 'shop',
    settleMs: 60_000,
  });

  it('switches live, runs up, waits on the droplet, then reads the containers, in one command', () => {
    const text = render(script);
    expect(text).toMatch(
      /^\{ ln -sfn releases\/b2 \/opt\/shop\/live\.next && mv -Tf \/opt\/shop\/live\.next \/opt\/shop\/live && docker compose --project-name shop .* --project-directory \/opt\/shop\/live\/deploy .* up --detach --remove-orphans --no-build && echo .*up-ok && sh -c .* sh shop 60; \} ; echo .*states ; /s,
    );
  });

  it('shows Compose progress but never the container state (it holds the environment)', async () => {
    const host = new FakeHost().on(/up --detach/, {
      stdout: ' Container shop-web-1  Started\n@@dd:up-ok\n@@dd:states\n[{"Config":{"Env":["APP_SECRET=x"]}}]\n',
    });
    const shown: string[] = [];
    const up = await runUp(host, script, { stream: (l) => shown.push(l), timeoutMs: 1000 });
    expect(up).toEqual({ ok: true, inspect: '[{"Config":{"Env":["APP_SECRET=x"]}}]\n' });
    expect(shown).toEqual([' Container shop-web-1  Started']);
  });

  it('a failed up gives its stderr tail as the reason', async () => {
    const host = new FakeHost().on(/up --detach/, {
      code: 0,
      stdout: '@@dd:states\n[]\n',
      stderr: 'Error response from daemon: port is already allocated\n',
    });
    const up = await runUp(host, script, { stream: () => undefined, timeoutMs: 1000 });
    expect(up.ok).toBe(false);
    expect(up.reason).toBe('Error response from daemon: port is already allocated');
  });

  it('a failure that printed nothing before the container state never reports that state', async () => {
    const host = new FakeHost().on(/up --detach/, {
      code: 1,
      stdout: '@@dd:states\n[{"Config":{"Env":["APP_SECRET=hunter2"]}}]\n',
    });
    const up = await runUp(host, script, { stream: () => undefined, timeoutMs: 1000 });
    expect(up).toEqual({ ok: false, reason: 'exit 1', inspect: '[{"Config":{"Env":["APP_SECRET=hunter2"]}}]\n' });
  });
});

describe('releases in use', () => {
  it('names the release folders containers bind-mount directly (not through live)', () => {
    expect(
      releasesInUse(paths, [
        '/opt/shop/releases/a1/deploy/nginx.conf',
        '/opt/shop/live/deploy/nginx.conf',
        '/opt/shop/releases/a1/deploy/other.conf',
        '/srv/data',
      ]),
    ).toEqual(['a1']);
  });
});
