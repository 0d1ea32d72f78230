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
  /**
   * Writable mounts two containers of the service would share (named volumes, bind mounts,
   * `volumes_from` without `:ro`), e.g. "volume pgdata at /var/lib/postgresql/data".
   * Absent when there are none (anonymous volumes and tmpfs are per container).
   */
  sharedData?: string[];
  /**
   * The networks the service's containers join (none with `network_mode`), with what the
   * Compose file says of each: Docker keeps a container's address when it joins again only on
   * a network with a configured subnet (src/lib/rollout/networks.ts).
   */
  networks: ServiceNetwork[];
}

export interface ServiceNetwork {
  /** The key in the Compose file (`default`, `back`). */
  key: string;
  /** Docker's name for it when the file gives one (`name:`; Compose v2's `config` always does). */
  name?: string;
  /** `external: true`: created outside Compose, so its subnet is not in the file. */
  external: boolean;
  /** `ipam.config[].subnet` entries (CIDR). */
  subnets: string[];
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

/** `./data`, `/srv`, `~/x` are host paths; anything else before the colon names a volume. */
function isHostPath(source: string): boolean {
  return /^([./~]|[A-Za-z]:[\\/])/.test(source);
}

/**
 * The writable mounts a second container of the service would share with the first.
 * Long syntax (Compose v2's `config` output): `type: volume` with a source (named; without
 * one it is anonymous, a fresh volume per container) or `type: bind`, unless `read_only`.
 * Short syntax (v1's output): `source:target[:mode]`, read-only when the mode has `ro`.
 */
function sharedDataOf(volumes: unknown, volumesFrom: unknown): string[] {
  const out: string[] = [];
  for (const v of Array.isArray(volumes) ? (volumes as unknown[]) : []) {
    if (typeof v === 'string') {
      const parts = v.split(':');
      if (parts.length < 2) continue; // "/data": anonymous
      const [source = '', target = ''] = parts;
      const mode = parts.slice(2).join(':');
      if (mode.split(',').includes('ro')) continue;
      out.push(`${isHostPath(source) ? 'bind mount' : 'volume'} ${source} at ${target}`);
      continue;
    }
    const m = asRecord(v);
    const type = String(m['type'] ?? 'volume');
    const source = typeof m['source'] === 'string' ? m['source'] : '';
    if (m['read_only'] === true || m['read_only'] === 'true') continue;
    if (type === 'volume' && source) out.push(`volume ${source} at ${String(m['target'] ?? '?')}`);
    else if (type === 'bind' && source) out.push(`bind mount ${source} at ${String(m['target'] ?? '?')}`);
  }
  for (const f of Array.isArray(volumesFrom) ? (volumesFrom as unknown[]) : []) {
    const text = String(f);
    if (/:ro$/.test(text)) continue;
    out.push(`volumes_from ${text.replace(/:rw$/, '')}`);
  }
  return out;
}

function truthy(v: unknown): boolean {
  return v === true || v === 'true' || (typeof v === 'object' && v !== null);
}

/** The service's networks: its `networks:` (list or map), `default` when absent, none with `network_mode`. */
function networksOf(s: Json, declared: Json): ServiceNetwork[] {
  if (s['network_mode'] !== undefined) return [];
  const raw = s['networks'];
  const keys = Array.isArray(raw) ? raw.map(String) : raw && typeof raw === 'object' ? Object.keys(raw) : ['default'];
  return keys.sort().map((key) => {
    const n = asRecord(declared[key]);
    const ipam = asRecord(n['ipam']);
    const subnets = (Array.isArray(ipam['config']) ? (ipam['config'] as unknown[]) : [])
      .map((c) => asRecord(c)['subnet'])
      .filter((x): x is string => typeof x === 'string' && x.includes('/'));
    const external = n['external'];
    const out: ServiceNetwork = { key, external: truthy(external), subnets };
    // Compose v1 spelled an external network's own name `external: {name: x}`
    const name = typeof n['name'] === 'string' ? n['name'] : asRecord(external)['name'];
    if (typeof name === 'string' && name) out.name = name;
    return out;
  });
}

/**
 * Service facts from `compose config` output (YAML from v1, YAML or JSON from v2). With
 * `activeProfiles`, services of profiles none of which is enabled are left out (Compose v1's
 * `config` prints them; v2's does not).
 */
export function parseServiceFacts(configText: string, activeProfiles?: readonly string[]): ServiceFacts[] {
  const doc = asRecord(parseYaml(configText));
  const services = asRecord(doc['services']);
  const declaredNetworks = asRecord(doc['networks']);
  const enabled = ([, raw]: [string, unknown]): boolean => {
    const profiles = asRecord(raw)['profiles'];
    if (!activeProfiles || !Array.isArray(profiles) || profiles.length === 0) return true;
    return profiles.some((p) => activeProfiles.includes(String(p)));
  };
  return Object.entries(services)
    .filter(enabled)
    .map(([name, raw]) => {
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
        networks: networksOf(s, declaredNetworks),
      };
      if (replicasRaw !== undefined && Number.isInteger(Number(replicasRaw))) facts.replicas = Number(replicasRaw);
      const shared = sharedDataOf(s['volumes'], s['volumes_from']);
      if (shared.length > 0) facts.sharedData = shared;
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
 * (`*` for all). start-first is refused where two copies cannot coexist (published host
 * ports, host networking, a fixed container name): those are recreated, and the reason says
 * so. A service that writes to shared data (a named volume, a writable bind mount — e.g.
 * PostgreSQL's data directory) is recreated too, so two containers never run on the same
 * data, unless start-first is asked for that service BY NAME (`db=start-first`; `*` does
 * not count).
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
    const own = strategies.get(name);
    const asked = own ?? strategies.get('*');
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
    const shared = f.sharedData ?? [];
    if (shared.length > 0 && own !== 'start-first') {
      return {
        name,
        strategy: 'recreate',
        reason: `writes to ${shared.join(', ')}: two containers must not run on the same data, so it is recreated (a brief gap; "strategy: ${name}=start-first" overrides)`,
        facts: f,
      };
    }
    return {
      name,
      strategy: 'start-first',
      reason:
        own === 'start-first' && shared.length > 0
          ? `strategy start-first was asked for it, although it writes to ${shared.join(', ')}`
          : asked
            ? 'strategy start-first was asked for'
            : 'no published host ports',
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
