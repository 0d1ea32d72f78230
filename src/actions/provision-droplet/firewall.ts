import type { DigitalOceanClient } from '../../lib/digitalocean/client.js';
import type {
  Firewall,
  FirewallInboundRule,
  FirewallOutboundRule,
  FirewallRequest,
} from '../../lib/digitalocean/types.js';
import type { FirewallPort } from './inputs.js';

const ANYWHERE = ['0.0.0.0/0', '::/0'];

export function firewallName(app: string): string {
  return `droplet-deploy-${app}`;
}

/** The firewall we want for the app tag: SSH from `sshAllow`, 80/443 and extra ports from anywhere, all outbound. */
export function desiredFirewall(
  app: string,
  appTag: string,
  sshAllow: readonly string[],
  extra: readonly FirewallPort[],
): FirewallRequest {
  const inbound: FirewallInboundRule[] = [
    { protocol: 'tcp', ports: '22', sources: { addresses: [...sshAllow] } },
    { protocol: 'tcp', ports: '80', sources: { addresses: ANYWHERE } },
    { protocol: 'tcp', ports: '443', sources: { addresses: ANYWHERE } },
    ...extra.map((p): FirewallInboundRule => ({
      protocol: p.protocol,
      ports: p.ports,
      sources: { addresses: ANYWHERE },
    })),
  ];
  const outbound: FirewallOutboundRule[] = [
    { protocol: 'tcp', ports: '0', destinations: { addresses: ANYWHERE } },
    { protocol: 'udp', ports: '0', destinations: { addresses: ANYWHERE } },
    { protocol: 'icmp', ports: '0', destinations: { addresses: ANYWHERE } },
  ];
  return { name: firewallName(app), inbound_rules: inbound, outbound_rules: outbound, tags: [appTag] };
}

function ruleKey(
  protocol: string,
  ports: string,
  target: { addresses?: string[]; tags?: string[]; droplet_ids?: number[] },
): string {
  const p = ports === 'all' ? '0' : ports;
  return JSON.stringify([
    protocol,
    protocol === 'icmp' ? '0' : p,
    [...(target.addresses ?? [])].sort(),
    [...(target.tags ?? [])].sort(),
    [...(target.droplet_ids ?? [])].sort(),
  ]);
}

export function sameRules(current: Firewall, wanted: FirewallRequest): boolean {
  const a = (current.inbound_rules ?? []).map((r) => ruleKey(r.protocol, r.ports, r.sources)).sort();
  const b = wanted.inbound_rules.map((r) => ruleKey(r.protocol, r.ports, r.sources)).sort();
  const c = (current.outbound_rules ?? []).map((r) => ruleKey(r.protocol, r.ports, r.destinations)).sort();
  const d = wanted.outbound_rules.map((r) => ruleKey(r.protocol, r.ports, r.destinations)).sort();
  return JSON.stringify(a) === JSON.stringify(b) && JSON.stringify(c) === JSON.stringify(d);
}

export type FirewallApi = Pick<
  DigitalOceanClient,
  'listFirewalls' | 'createFirewall' | 'updateFirewall' | 'addTagsToFirewall'
>;

/** Creates the app's firewall, or brings an existing one (found by name) to the wanted rules and tag. */
export async function ensureFirewall(
  api: FirewallApi,
  wanted: FirewallRequest,
): Promise<{ firewall: Firewall; change: 'created' | 'updated' | 'unchanged' }> {
  const existing = (await api.listFirewalls()).filter((f) => f.name === wanted.name);
  if (existing.length > 1) {
    throw new Error(
      `${existing.length} firewalls are named "${wanted.name}" (${existing.map((f) => f.id).join(', ')}); delete the extra ones so the action knows which to manage`,
    );
  }
  const current = existing[0];
  if (!current) return { firewall: await api.createFirewall(wanted), change: 'created' };
  const tags = [...new Set([...(current.tags ?? []), ...(wanted.tags ?? [])])];
  if (!sameRules(current, wanted)) {
    const updated = await api.updateFirewall(current.id, {
      ...wanted,
      tags,
      droplet_ids: current.droplet_ids ?? [],
    });
    return { firewall: updated, change: 'updated' };
  }
  const missing = (wanted.tags ?? []).filter((t) => !(current.tags ?? []).includes(t));
  if (missing.length > 0) {
    await api.addTagsToFirewall(current.id, missing);
    return { firewall: { ...current, tags }, change: 'updated' };
  }
  return { firewall: current, change: 'unchanged' };
}
