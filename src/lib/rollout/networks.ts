// Without a proxy to reload, what happens to an old container on each of its networks before
// it is stopped (commands.ts, step 3b). Decided BEFORE anything is disconnected, from the
// release's resolved Compose config:
//  - rejoin: the network has a configured subnet (ipam.config[].subnet) holding the
//    container's address: it leaves and joins again at the SAME address without its aliases
//    (dropFromDns), so it leaves Docker's DNS while a request in flight, or a client holding a
//    cached answer, still reaches it;
//  - stay: anything else. Docker accepts a fixed address only on a network with a
//    user-configured subnet (`docker network inspect` cannot tell: it reports the subnet
//    Docker picked by itself just like a configured one), so a container taken off such a
//    network comes back at another address or not at all, and every request in flight to it
//    is cut WITHOUT a reset (its address vanishes: the client hangs until its read timeout).
//    It stays attached, and in DNS, until it is stopped gracefully: it then stops listening
//    (a resolver-based proxy re-sends a refused connect), finishes what is in flight, and
//    leaves DNS when it exits.
import { BlockList, isIPv4, isIPv6 } from 'node:net';

import type { NetworkAttachment } from './commands.js';
import type { ServiceNetwork } from './plan.js';

/** Networks no container is rolled on by name (no DNS of their own or no address). */
export const UNTOUCHED_NETWORKS: readonly string[] = ['host', 'none', 'bridge'];

export type NetworkHandling =
  | { network: string; action: 'rejoin'; containers: number; subnets: string[] }
  | { network: string; action: 'stay'; containers: number; why: string };

/** Docker's name of a Compose network (Compose v1's `config` gives no `name:`). */
export function dockerNetworkName(project: string, n: ServiceNetwork): string {
  return n.name ?? (n.external ? n.key : `${project}_${n.key}`);
}

/** Whether `ip` lies in one of `subnets` (CIDR) of its own family; malformed entries never match. */
export function inSubnets(ip: string, subnets: readonly string[]): boolean {
  const family = isIPv4(ip) ? 'ipv4' : isIPv6(ip) ? 'ipv6' : undefined;
  if (!family) return false;
  for (const subnet of subnets) {
    const [base = '', prefixText = ''] = subnet.split('/');
    const prefix = Number(prefixText);
    if (!/^\d+$/.test(prefixText) || (family === 'ipv4' ? !isIPv4(base) : !isIPv6(base))) continue;
    const list = new BlockList();
    try {
      list.addSubnet(base, prefix, family);
    } catch {
      continue;
    }
    if (list.check(ip, family)) return true;
  }
  return false;
}

/**
 * For every network the old containers are on (host, none and the default bridge left out),
 * in name order: rejoin or stay (see the top of this file).
 */
export function planNetworks(
  project: string,
  declared: readonly ServiceNetwork[],
  attachments: ReadonlyMap<string, readonly NetworkAttachment[]>,
): NetworkHandling[] {
  const by = new Map<string, NetworkAttachment[]>();
  for (const list of attachments.values())
    for (const a of list) {
      if (UNTOUCHED_NETWORKS.includes(a.network)) continue;
      by.set(a.network, [...(by.get(a.network) ?? []), a]);
    }
  return [...by.keys()].sort().map((network): NetworkHandling => {
    const on = by.get(network) ?? [];
    const stay = (why: string): NetworkHandling => ({ network, action: 'stay', containers: on.length, why });
    const cfg = declared.find((n) => dockerNetworkName(project, n) === network);
    if (!cfg) return stay("not one of the service's networks in the release's Compose file: its subnet is not known");
    if (cfg.subnets.length === 0)
      return stay(cfg.external ? 'an external network: its subnet is not in the Compose file' : 'no configured subnet');
    for (const a of on) {
      const addresses = [a.ipv4, a.ipv6].filter((x): x is string => Boolean(x));
      if (addresses.length === 0) return stay('no address to keep');
      const outside = addresses.find((ip) => !inSubnets(ip, cfg.subnets));
      if (outside) return stay(`address ${outside} is outside its configured subnet(s) ${cfg.subnets.join(', ')}`);
    }
    return { network, action: 'rejoin', containers: on.length, subnets: [...cfg.subnets] };
  });
}
