import { describe, expect, it } from 'vitest';

import { render } from '../commands/cmd.js';
import { composeFromProbe, probeScript } from './compose.js';
import { parseInspect, settleScript } from './state.js';

describe('Compose probe + config in one command', () => {
  it('passes the project as positional arguments to a fixed script', () => {
    const text = render(
      probeScript({ project: 'shop', files: ['/x/compose.yaml'], envFile: '/x/.env', profiles: ['jobs'] }, '/x/probe'),
    );
    expect(text).toMatch(
      /^sh -c .* sh config \/x\/probe --project-name shop --file \/x\/compose\.yaml --env-file \/x\/\.env --profile jobs$/s,
    );
    expect(render(probeScript())).toMatch(/ sh probe$/);
  });

  it('its version lines read as the flavour (v2 plugin, v1 standalone)', () => {
    expect(composeFromProbe('2.26.1\nplugin')?.command).toEqual(['docker', 'compose']);
    expect(composeFromProbe('1.29.2')?.command).toEqual(['docker-compose']);
    expect(composeFromProbe('')).toBeUndefined();
  });
});

describe('settle on the droplet', () => {
  it('waits on the project (Compose name) for whole seconds of the bound', () => {
    expect(render(settleScript('My.Shop', 2500))).toMatch(/ sh myshop 2$/);
  });
});

describe('bind sources', () => {
  it('lists the bind mounts a container was created with', () => {
    const [s] = parseInspect(
      JSON.stringify([
        {
          Id: 'c1',
          Name: '/shop-nginx-1',
          State: { Status: 'running' },
          Config: { Labels: { 'com.docker.compose.service': 'nginx' } },
          Mounts: [
            { Type: 'bind', Source: '/opt/shop/live/deploy/nginx.conf' },
            { Type: 'volume', Source: '/var/lib/docker/volumes/shop_data/_data' },
          ],
        },
      ]),
    );
    expect(s?.bindSources).toEqual(['/opt/shop/live/deploy/nginx.conf']);
  });
});
