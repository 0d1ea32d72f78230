// Pure planning for the rolling update: which services, in which order, with which strategy
// (from the release's resolved Compose configuration), and how a fleet is cut into batches.
import { parse as parseYaml } from 'yaml';

import { ConfigurationError } from '../action/errors.js';

export type Strategy = 'start-first' | 'recreate';
export const STRATEGIES: readonly Strategy[] = ['start-first', 'recreate'];

export interface ServiceFacts {
  name: string;
  /** Host ports the service publishes (`ports:` entries with a published port). */
  publishedPorts: string[];
  /** `network_mode: host` / `container_name:` also make two copies impossible. */
  pinnedIdentity?: string;
  /** deploy.replicas (or the legacy `scale:`), when set. */
  replicas?: number;
  dependsOn: string[];
  hasHealthcheck: boolean;
}

type Json = Record<string, unknown>;

function asRecord(v: unknown): Json {
  return v && typeof v === 'object' && !Array.isArray(v) ? (v as Json) : {};
}

function publishedOf(port: unknown): string | undefined {
  if (typeof port === 'number') return undefined; // container port only
  if (typeof port === 'string') {
    // [ip:]published:target[/proto] — a bare "80" publishes nothing fixed
    const parts = port.split('/')[0]?.split(':') ?? [];
    if (parts.length < 2) return undefined;
    const published = parts[parts.length - 2];
    return published ? port : undefined;
  }
  const p = asRecord(port);
  if (p['published'] !== undefined && p['published'] !== '' && p['published'] !== null) {
    return `${String(p['host_ip'] ? `${String(p['host_ip'])}:` : '')}${String(p['published'])}:${String(p['target'])}`;
  }
  return undefined;
}

/** Service facts from `compose config` output (YAML from v1, YAML or JSON from v2). */
export function parseServiceFacts(configText: string): ServiceFacts[] {
  const doc = asRecord(parseYaml(configText));
  const services = asRecord(doc['services']);
  return Object.entries(services).map(([name, raw]) => {
    const s = asRecord(raw);
    const ports = Array.isArray(s['ports']) ? (s['ports'] as unknown[]) : [];
    const dependsRaw = s['depends_on'];
    const dependsOn = Array.isArray(dependsRaw) ? dependsRaw.map(String) : Object.keys(asRecord(dependsRaw));
    const deploy = asRecord(s['deploy']);
    const replicasRaw = deploy['replicas'] ?? s['scale'];
    const facts: ServiceFacts = {
      name,
      publishedPorts: ports.map(publishedOf).filter((p): p is string => p !== undefined),
      dependsOn: dependsOn.sort(),
      hasHealthcheck: Boolean(s['healthcheck']) && !asRecord(s['healthcheck'])['disable'],
    };
    if (replicasRaw !== undefined && Number.isInteger(Number(replicasRaw))) facts.replicas = Number(replicasRaw);
    if (s['network_mode'] === 'host') facts.pinnedIdentity = 'network_mode: host';
    else if (typeof s['container_name'] === 'string') facts.pinnedIdentity = `container_name: ${s['container_name']}`;
    return facts;
  });
}

/** Dependencies first (depends_on), ties by name; a cycle is a configuration error. */
export function dependencyOrder(facts: readonly ServiceFacts[]): string[] {
  const byName = new Map(facts.map((f) => [f.name, f]));
  const order: string[] = [];
  const state = new Map<string, 'visiting' | 'done'>();
  const visit = (name: string, path: string[]): void => {
    const s = state.get(name);
    if (s === 'done') return;
    if (s === 'visiting') throw new ConfigurationError(`depends_on has a cycle: ${[...path, name].join(' → ')}`);
    state.set(name, 'visiting');
    for (const dep of byName.get(name)?.dependsOn ?? []) if (byName.has(dep)) visit(dep, [...path, name]);
    state.set(name, 'done');
    order.push(name);
  };
  for (const f of [...facts].sort((a, b) => a.name.localeCompare(b.name))) visit(f.name, []);
  return order;
}

export interface PlannedService {
  name: string;
  strategy: Strategy;
  /** Why the strategy is what it is (shown in the log and summary). */
  reason: string;
  facts: ServiceFacts;
}

/**
 * The services to roll, in order. `requested` (the `services` input) keeps the user's order;
 * empty means every service in dependency order. `strategies` overrides per service
 * (`*` for all); start-first is refused where two copies cannot coexist (published host
 * ports, host networking, a fixed container name): those are recreated, and the reason says so.
 */
export function planServices(
  facts: readonly ServiceFacts[],
  requested: readonly string[],
  strategies: ReadonlyMap<string, Strategy>,
): PlannedService[] {
  const byName = new Map(facts.map((f) => [f.name, f]));
  for (const name of [...requested, ...[...strategies.keys()].filter((k) => k !== '*')]) {
    if (!byName.has(name)) {
      throw new ConfigurationError(
        `service "${name}" is not in the release's Compose file (it has: ${[...byName.keys()].sort().join(', ')})`,
      );
    }
  }
  const names = requested.length > 0 ? [...new Set(requested)] : dependencyOrder(facts);
  return names.map((name) => {
    const f = byName.get(name) as ServiceFacts;
    const asked = strategies.get(name) ?? strategies.get('*');
    const blocker =
      f.publishedPorts.length > 0 ? `publishes host port ${f.publishedPorts.join(', ')}` : f.pinnedIdentity;
    if (asked === 'recreate')
      return { name, strategy: 'recreate', reason: 'strategy recreate was asked for', facts: f };
    if (blocker) {
      return {
        name,
        strategy: 'recreate',
        reason: `${blocker}: two copies cannot run side by side, so it is recreated (a brief gap)`,
        facts: f,
      };
    }
    return {
      name,
      strategy: 'start-first',
      reason: asked ? 'strategy start-first was asked for' : 'no published host ports',
      facts: f,
    };
  });
}

/** `web=start-first, worker=recreate` lines, or one strategy for all. */
export function parseStrategies(inputName: string, text: string): Map<string, Strategy> {
  const map = new Map<string, Strategy>();
  const items = text
    .split(/[\n,]/)
    .map((s) => s.trim())
    .filter(Boolean);
  for (const item of items) {
    const [left, right] = item.includes('=') ? item.split('=', 2).map((s) => s.trim()) : ['*', item];
    const service = left as string;
    const strategy = right as string;
    if (!(STRATEGIES as readonly string[]).includes(strategy)) {
      throw new ConfigurationError(
        `input "${inputName}" has ${JSON.stringify(item)}: strategy must be one of ${STRATEGIES.join(', ')}`,
      );
    }
    if (map.has(service)) throw new ConfigurationError(`input "${inputName}": "${service}" appears twice`);
    map.set(service, strategy as Strategy);
  }
  return map;
}

export type BatchSize = { kind: 'count'; count: number } | { kind: 'percent'; percent: number };

export function parseBatchSize(inputName: string, text: string): BatchSize {
  const v = text.trim();
  const pct = /^(\d+(?:\.\d+)?)%$/.exec(v);
  if (pct) {
    const percent = Number(pct[1]);
    if (!(percent > 0 && percent <= 100))
      throw new ConfigurationError(
        `input "${inputName}" has ${JSON.stringify(text)}: a percentage must be above 0 and at most 100`,
      );
    return { kind: 'percent', percent };
  }
  if (/^\d+$/.test(v) && Number(v) >= 1) return { kind: 'count', count: Number(v) };
  throw new ConfigurationError(
    `input "${inputName}" has ${JSON.stringify(text)}: expected a count (2) or a percentage (25%)`,
  );
}

/** Droplets per batch: a percentage rounds up, never below 1 nor above the fleet. */
export function batchCount(size: BatchSize, fleet: number): number {
  if (fleet <= 0) return 0;
  const n = size.kind === 'count' ? size.count : Math.ceil((size.percent / 100) * fleet - 1e-9);
  return Math.min(fleet, Math.max(1, n));
}

export function planBatches<T>(items: readonly T[], size: BatchSize): T[][] {
  const per = batchCount(size, items.length);
  const out: T[][] = [];
  for (let i = 0; i < items.length; i += per) out.push(items.slice(i, i + per));
  return out;
}
