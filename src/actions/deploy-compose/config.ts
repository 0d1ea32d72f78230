// Reading a release's resolved Compose configuration (`config` output, both versions).

import { createHash } from 'node:crypto';

import { parse as parseYaml } from 'yaml';

/** A resolved config, parsed once for the readers below. */
export interface ParsedConfig {
  services?: Record<string, Record<string, unknown>>;
}

export function parseConfig(yamlText: string): ParsedConfig | null {
  return parseYaml(yamlText) as ParsedConfig | null;
}

const parsed = (config: string | ParsedConfig | null): ParsedConfig | null =>
  typeof config === 'string' ? parseConfig(config) : config;

/** The service name → image map of a resolved compose config (active profiles only). */
export function servicesFromConfig(
  config: string | ParsedConfig | null,
  profiles: readonly string[],
): Map<string, string> {
  const doc = parsed(config);
  const out = new Map<string, string>();
  for (const [name, svc] of Object.entries(doc?.services ?? {})) {
    const svcProfiles = Array.isArray(svc['profiles']) ? (svc['profiles'] as string[]) : [];
    if (svcProfiles.length && !svcProfiles.some((p) => profiles.includes(p))) continue;
    const image = svc['image'];
    if (typeof image !== 'string' || !image) {
      throw new Error(`service "${name}" has no image: deploy-compose runs images, it does not build them`);
    }
    out.set(name, image);
  }
  if (out.size === 0) throw new Error('the compose files define no services');
  return out;
}

/**
 * Per service, a hash of the content of the release files it bind-mounts (sources under
 * `releaseDir` in the resolved config; short and long volume syntax, Compose v1 and v2).
 */
export function bindMountHashes(
  config: string | ParsedConfig | null,
  releaseDir: string,
  files: readonly { path: string; content: Buffer | string }[],
): Record<string, string> {
  const doc = parsed(config);
  const out: Record<string, string> = {};
  for (const [name, svc] of Object.entries(doc?.services ?? {})) {
    const rels = new Set<string>();
    const volumes = Array.isArray(svc['volumes']) ? (svc['volumes'] as unknown[]) : [];
    for (const v of volumes) {
      let source: string | undefined;
      if (typeof v === 'string') source = v.split(':')[0];
      else if (v && typeof v === 'object' && (v as { type?: string }).type === 'bind')
        source = (v as { source?: string }).source;
      if (source && source.startsWith(`${releaseDir}/`))
        rels.add(source.slice(releaseDir.length + 1).replace(/\/+$/, ''));
    }
    if (rels.size === 0) continue;
    const matched = files
      .filter((f) => [...rels].some((r) => f.path === r || f.path.startsWith(`${r}/`)))
      .map((f) => `${f.path}\0${createHash('sha256').update(f.content).digest('hex')}`)
      .sort();
    out[name] = createHash('sha256')
      .update([...rels].sort().join('\n'))
      .update('\n')
      .update(matched.join('\n'))
      .digest('hex')
      .slice(0, 16);
  }
  return out;
}
