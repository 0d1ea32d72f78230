import { describe, expect, it } from 'vitest';

import type { NetworkAttachment } from '../../../src/lib/rollout/commands.js';
import { dockerNetworkName, inSubnets, planNetworks } from '../../../src/lib/rollout/networks.js';
import type { ServiceNetwork } from '../../../src/lib/rollout/plan.js';

describe('dockerNetworkName', () => {
  it.each([
    [{ key: 'default', external: false, subnets: [] }, 'shop_default'],
    [{ key: 'back', name: 'custom', external: false, subnets: [] }, 'custom'],
    [{ key: 'ext', external: true, subnets: [] }, 'ext'],
    [{ key: 'ext', name: 'shared', external: true, subnets: [] }, 'shared'],
  ] as [ServiceNetwork, string][])('%j → %s', (n, name) => {
    expect(dockerNetworkName('shop', n)).toBe(name);
  });
});

describe('inSubnets', () => {
  it.each([
    ['172.20.0.5', ['172.20.0.0/24'], true],
    ['172.20.1.5', ['172.20.0.0/24'], false],
    ['172.20.1.5', ['10.0.0.0/8', '172.20.0.0/16'], true],
    ['fd00:20::5', ['172.20.0.0/16', 'fd00:20::/64'], true],
    ['fd00:21::5', ['fd00:20::/64'], false],
    ['172.20.0.5', ['fd00:20::/64'], false],
    ['172.20.0.5', ['172.20.0.0'], false],
    ['172.20.0.5', ['172.20.0.0/x', 'nonsense/8', '172.20.0.0/99'], false],
    ['not-an-ip', ['0.0.0.0/0'], false],
  ])('%s in %j: %s', (ip, subnets, expected) => {
    expect(inSubnets(ip, subnets)).toBe(expected);
  });
});

describe('planNetworks', () => {
  const declared: ServiceNetwork[] = [
    { key: 'default', name: 'shop_default', external: false, subnets: [] },
    { key: 'back', name: 'shop_back', external: false, subnets: ['172.20.0.0/24'] },
    { key: 'v6', name: 'shop_v6', external: false, subnets: ['172.22.0.0/24'] },
    { key: 'ext', name: 'shared', external: true, subnets: [] },
  ];
  const on = (list: NetworkAttachment[][]): Map<string, NetworkAttachment[]> =>
    new Map(list.map((l, i) => [`c${i + 1}`, l]));

  it("rejoin only where a configured subnet holds every old container's addresses; host, none and bridge left out", () => {
    const plan = planNetworks(
      'shop',
      declared,
      on([
        [
          { network: 'shop_default', ipv4: '172.19.0.4' },
          { network: 'shop_back', ipv4: '172.20.0.4' },
          { network: 'shared', ipv4: '172.30.0.4' },
          { network: 'bridge', ipv4: '172.17.0.4' },
        ],
        [
          { network: 'shop_default', ipv4: '172.19.0.5' },
          { network: 'shop_back', ipv4: '172.20.0.5' },
          { network: 'shop_v6', ipv4: '172.22.0.5', ipv6: 'fd00:22::5' },
          { network: 'stray', ipv4: '172.23.0.5' },
        ],
      ]),
    );
    expect(plan).toEqual([
      {
        network: 'shared',
        action: 'stay',
        containers: 1,
        why: 'an external network: its subnet is not in the Compose file',
      },
      { network: 'shop_back', action: 'rejoin', containers: 2, subnets: ['172.20.0.0/24'] },
      { network: 'shop_default', action: 'stay', containers: 2, why: 'no configured subnet' },
      {
        network: 'shop_v6',
        action: 'stay',
        containers: 1,
        why: 'address fd00:22::5 is outside its configured subnet(s) 172.22.0.0/24',
      },
      {
        network: 'stray',
        action: 'stay',
        containers: 1,
        why: "not one of the service's networks in the release's Compose file: its subnet is not known",
      },
    ]);
  });

  it('an address outside the configured subnet (the network differs from the file), or none: stay', () => {
    expect(
      planNetworks(
        'shop',
        declared,
        on([[{ network: 'shop_back', ipv4: '172.20.0.4' }], [{ network: 'shop_back', ipv4: '172.21.0.4' }]]),
      ),
    ).toEqual([
      {
        network: 'shop_back',
        action: 'stay',
        containers: 2,
        why: 'address 172.21.0.4 is outside its configured subnet(s) 172.20.0.0/24',
      },
    ]);
    expect(planNetworks('shop', declared, on([[{ network: 'shop_back' }]]))).toEqual([
      { network: 'shop_back', action: 'stay', containers: 1, why: 'no address to keep' },
    ]);
    expect(planNetworks('shop', declared, on([[], [{ network: 'host' }]]))).toEqual([]);
  });
});
