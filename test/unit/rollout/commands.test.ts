import { describe, expect, it } from 'vitest';

import { render } from '../../../src/lib/commands/cmd.js';
import { COMPOSE_V1, COMPOSE_V2, type ComposeProject } from '../../../src/lib/compose/compose.js';
import {
  configHashes,
  dropFromDns,
  parseConfigHashes,
  parseNetworks,
  parseReloadCommand,
  proxyReload,
  recreate,
  reloadProxies,
  removeContainers,
  scaleUp,
  stopContainers,
  stopRemove,
} from '../../../src/lib/rollout/commands.js';

const v2: ComposeProject = {
  flavor: COMPOSE_V2,
  project: 'shop',
  files: ['/opt/shop/releases/r2/compose.yml', '/opt/shop/releases/r2/release.pinned.yml'],
  envFile: '/opt/shop/releases/r2/.env',
};
const v1: ComposeProject = { flavor: COMPOSE_V1, project: 'shop', files: ['/opt/shop/releases/r2/compose.yml'] };
const B2 =
  'docker compose --project-name shop --file /opt/shop/releases/r2/compose.yml --file /opt/shop/releases/r2/release.pinned.yml --env-file /opt/shop/releases/r2/.env';
const B1 = 'docker-compose --project-name shop --file /opt/shop/releases/r2/compose.yml';

describe('rollout command builders', () => {
  it.each([
    ['config hashes v2', configHashes(v2), `${B2} config --hash \\*`],
    ['config hashes v1', configHashes(v1), `${B1} config --hash \\*`],
    ['scale up', scaleUp(v2, 'web', 4), `${B2} up --detach --no-deps --no-recreate --no-build --scale web\\=4 web`],
    ['scale up v1', scaleUp(v1, 'web', 2), `${B1} up --detach --no-deps --no-recreate --no-build --scale web\\=2 web`],
    ['recreate with count', recreate(v2, 'nginx', 1), `${B2} up --detach --no-deps --no-build --scale nginx\\=1 nginx`],
    ['recreate without count', recreate(v1, 'nginx', undefined), `${B1} up --detach --no-deps --no-build nginx`],
    ['proxy reload', proxyReload(v2, 'nginx', ['nginx', '-s', 'reload']), `${B2} exec -T nginx nginx -s reload`],
    ['stop + rm by id', stopRemove(['aaa', 'bbb'], 10), 'docker stop --time 10 aaa bbb && docker rm aaa bbb'],
  ])('%s', (_name, script, expected) => {
    expect(render(script)).toBe(expected);
  });

  it('drops a container from DNS on every network, keeping its addresses', () => {
    const script = dropFromDns('c1', [
      { network: 'shop_default', ipv4: '172.19.0.5' },
      { network: 'shop_back', ipv4: '172.20.0.3', ipv6: 'fd00::3' },
    ]);
    expect(render(script)).toBe(
      "{ docker network disconnect shop_default c1 && { { docker network connect --ip 172.19.0.5 shop_default c1 2>&1; } || echo '__ROLLOUT_RECONNECT_FAILED__ shop_default c1'; }; }" +
        ' ; ' +
        "{ docker network disconnect shop_back c1 && { { docker network connect --ip 172.20.0.3 --ip6 fd00\\:\\:3 shop_back c1 2>&1; } || echo '__ROLLOUT_RECONNECT_FAILED__ shop_back c1'; }; }",
    );
  });

  it('reloads every proxy container by id; the old containers are stopped and removed as separate steps', () => {
    expect(render(reloadProxies(['p1'], ['nginx', '-s', 'reload']))).toBe('docker exec p1 nginx -s reload');
    expect(render(reloadProxies(['p1', 'p2'], ['sh', '-c', 'kill -HUP 1; echo "$x"']))).toBe(
      'docker exec p1 sh -c \'kill -HUP 1; echo "$x"\' && docker exec p2 sh -c \'kill -HUP 1; echo "$x"\'',
    );
    expect(render(stopContainers(['c1', 'c2'], 10.4))).toBe('docker stop --time 10 c1 c2');
    expect(render(stopContainers(['c1'], -3))).toBe('docker stop --time 0 c1');
    expect(render(removeContainers(['c1', 'c2']))).toBe('docker rm c1 c2');
    // nothing here ever takes a container off a network
    expect(render(reloadProxies(['p1'], ['nginx', '-s', 'reload']))).not.toContain('network');
  });

  it('refuses empty proxy, stop and remove lists', () => {
    expect(() => reloadProxies([], ['x'])).toThrow(/no proxy container/);
    expect(() => reloadProxies(['p1'], [])).toThrow(/no reload command/);
    expect(() => stopContainers([], 10)).toThrow(/no containers/);
    expect(() => removeContainers([])).toThrow(/no containers/);
  });

  it('refuses a container with no network', () => {
    expect(() => dropFromDns('c1', [])).toThrow(/no network/);
  });

  it('parses config hashes', () => {
    const out =
      'nginx 95c95b7a90180707aae1807f2d1c1661346be97478cee5e76fe95da3493c9915\nweb 6f9c8978d9ac63bee2f7cb02888cb61232bd63828912a3843e29838372c271bc\n\nnoise\n';
    expect([...parseConfigHashes(out)]).toEqual([
      ['nginx', '95c95b7a90180707aae1807f2d1c1661346be97478cee5e76fe95da3493c9915'],
      ['web', '6f9c8978d9ac63bee2f7cb02888cb61232bd63828912a3843e29838372c271bc'],
    ]);
  });

  it('parses network attachments from docker inspect', () => {
    const json = JSON.stringify([
      {
        Id: 'a1',
        NetworkSettings: {
          Networks: {
            shop_default: { IPAddress: '172.19.0.5', GlobalIPv6Address: '' },
            shop_back: { IPAddress: '172.20.0.2' },
          },
        },
      },
      { Id: 'b2', NetworkSettings: { Networks: null } },
    ]);
    expect(Object.fromEntries(parseNetworks(json))).toEqual({
      a1: [
        { network: 'shop_back', ipv4: '172.20.0.2' },
        { network: 'shop_default', ipv4: '172.19.0.5' },
      ],
      b2: [],
    });
  });

  it.each([
    ['nginx -s reload', ['nginx', '-s', 'reload']],
    ["  caddy reload --config '/etc/caddy/Caddyfile' ", ['caddy', 'reload', '--config', '/etc/caddy/Caddyfile']],
  ])('reload command %j', (text, argv) => {
    expect(parseReloadCommand('proxy-reload', text)).toEqual(argv);
  });

  it.each(['nginx -s reload && rm -rf /', 'kill -HUP $(cat /run/nginx.pid)', 'a | b', '', '   '])(
    'rejects reload command %j',
    (text) => {
      expect(() => parseReloadCommand('proxy-reload', text)).toThrow(/proxy-reload/);
    },
  );
});
