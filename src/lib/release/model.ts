// The release model on a droplet:
//   /opt/<app>/releases/<id>/     compose files, extra files, .env (0600), release.json, release.pinned.yml
//   /opt/<app>/current            symlink → releases/<id>, switched atomically after the services are up
//   /opt/<app>/deploys.log        one JSON object per line, append-only
//   /opt/<app>/.lock/             the deploy lock (src/lib/lock)
// The Compose project name is the app name for every release, so named volumes survive.

import { stringify } from 'yaml';

import { ConfigurationError } from '../action/errors.js';

export const DEFAULT_BASE_DIR = '/opt';
export const MANIFEST_FILE = 'release.json';
export const PINNED_FILE = 'release.pinned.yml';

export interface AppPaths {
  root: string;
  releases: string;
  current: string;
  deploysLog: string;
  lock: string;
  /** Scratch space of the running deploy (registry credentials, image tars); removed after. */
  scratch: string;
  /**
   * Symlink → the release Compose runs from (`--project-directory` under it). Switched just
   * before `up`, so bind-mount sources keep the same path across releases and a service is
   * recreated only when its files' content changed (see FILES_LABEL), not on every release.
   */
  live: string;
  release(id: string): string;
}

const NAME = /^[a-z0-9][a-z0-9_-]{0,62}$/;
const RELEASE_ID = /^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$/;

export function validateAppName(inputName: string, app: string): string {
  if (!NAME.test(app)) {
    throw new ConfigurationError(
      `input "${inputName}" has ${JSON.stringify(app)}: use lowercase letters, digits, "-" and "_" (it is the Compose project name and a folder name)`,
    );
  }
  return app;
}

export function validateReleaseId(inputName: string, id: string): string {
  if (!RELEASE_ID.test(id) || id === 'previous') {
    throw new ConfigurationError(
      `input "${inputName}" has ${JSON.stringify(id)}: a release id is 1-64 letters, digits, ".", "_" or "-" (not "previous")`,
    );
  }
  return id;
}

export function appPaths(app: string, baseDir = DEFAULT_BASE_DIR): AppPaths {
  const root = `${baseDir.replace(/\/+$/, '')}/${app}`;
  return {
    root,
    releases: `${root}/releases`,
    current: `${root}/current`,
    deploysLog: `${root}/deploys.log`,
    lock: `${root}/.lock`,
    scratch: `${root}/.deploy-tmp`,
    live: `${root}/live`,
    release: (id) => `${root}/releases/${id}`,
  };
}

export interface PinnedImage {
  service: string;
  /** The reference the compose file names, e.g. registry.example/shop/web:v2. */
  image: string;
  /** The local image id (sha256:…): what the release runs. */
  id: string;
  /** The registry digest reference (repo@sha256:…) when the image came from a registry. */
  repoDigest?: string;
}

export interface ReleaseManifest {
  version: 1;
  id: string;
  app: string;
  createdAt: string;
  sha: string;
  repo: string;
  runId: string;
  actor: string;
  /** Compose files relative to the release folder, in order. */
  composeFiles: string[];
  /** The env file relative to the release folder. */
  envFile: string;
  profiles: string[];
  images: PinnedImage[];
  delivery: string;
  /** Per service: hash of the content of the release files it bind-mounts (FILES_LABEL). */
  fileHashes?: Record<string, string>;
}

/** Label carrying the content hash of a service's bind-mounted release files. */
export const FILES_LABEL = 'com.droplet-deploy.files';

/** The override that makes Compose run exactly the pinned images (the same file on rollback). */
export function pinnedOverride(images: readonly PinnedImage[], fileHashes: Record<string, string> = {}): string {
  const services: Record<string, { image: string; labels?: Record<string, string> }> = {};
  for (const img of images) {
    const hash = fileHashes[img.service];
    services[img.service] = { image: img.id, ...(hash ? { labels: { [FILES_LABEL]: hash } } : {}) };
  }
  return `# Written by droplet-deploy: every service runs the image pinned when the release was made.\n${stringify({ services })}`;
}

export function parseManifest(text: string): ReleaseManifest | undefined {
  try {
    const m = JSON.parse(text) as Partial<ReleaseManifest>;
    if (m.version !== 1 || typeof m.id !== 'string' || !Array.isArray(m.images) || !Array.isArray(m.composeFiles))
      return undefined;
    return m as ReleaseManifest;
  } catch {
    return undefined;
  }
}

export type DeployAction = 'deploy' | 'rollback';
export type DeployResult = 'success' | 'failed';

/** One line of deploys.log. */
export interface DeployLogEntry {
  time: string;
  app: string;
  action: DeployAction;
  result: DeployResult;
  release: string;
  /** The release serving before this one (what `rollback-to: previous` goes back to). */
  previous: string | null;
  /** The release serving after this entry. */
  serving: string | null;
  sha: string;
  repo: string;
  runId: string;
  actor: string;
  durationSeconds: number;
  images: Record<string, string>;
  error?: string;
}

export function parseDeployLog(text: string): DeployLogEntry[] {
  const out: DeployLogEntry[] = [];
  for (const line of text.split('\n')) {
    if (!line.trim()) continue;
    try {
      const e = JSON.parse(line) as DeployLogEntry;
      if (typeof e.release === 'string') out.push(e);
    } catch {
      // a torn line (a killed writer) is skipped, the log stays usable
    }
  }
  return out;
}

/**
 * What `rollback-to: previous` means: the release that was serving before the current
 * one was switched in (from the log), else the newest other kept release.
 */
export function previousRelease(
  current: string | undefined,
  log: readonly DeployLogEntry[],
  kept: readonly ReleaseManifest[],
): string | undefined {
  const keptIds = new Set(kept.map((m) => m.id));
  if (current) {
    for (let i = log.length - 1; i >= 0; i -= 1) {
      const e = log[i] as DeployLogEntry;
      if (e.result === 'success' && e.release === current) {
        if (e.previous && e.previous !== current && keptIds.has(e.previous)) return e.previous;
        break;
      }
    }
  }
  const others = [...kept].filter((m) => m.id !== current).sort((a, b) => b.createdAt.localeCompare(a.createdAt));
  return others[0]?.id;
}

export interface PrunePlan {
  remove: string[];
  keep: string[];
  /** Image ids pinned only by removed releases. */
  images: string[];
}

/** Keeps the newest `keep` releases plus every release in `alwaysKeep` (current, previous). */
export function planPrune(
  manifests: readonly ReleaseManifest[],
  dirs: readonly string[],
  keep: number,
  alwaysKeep: readonly (string | undefined)[],
): PrunePlan {
  const byId = new Map(manifests.map((m) => [m.id, m]));
  const ordered = [...dirs].sort((a, b) => (byId.get(b)?.createdAt ?? '').localeCompare(byId.get(a)?.createdAt ?? ''));
  const must = new Set(alwaysKeep.filter((x): x is string => Boolean(x)));
  const keepIds = new Set<string>([...must]);
  for (const id of ordered) {
    if (keepIds.size >= Math.max(keep, must.size)) break;
    keepIds.add(id);
  }
  const remove = ordered.filter((id) => !keepIds.has(id));
  const keptImages = new Set([...keepIds].flatMap((id) => byId.get(id)?.images.map((i) => i.id) ?? []));
  const images = [
    ...new Set(remove.flatMap((id) => byId.get(id)?.images.map((i) => i.id) ?? []).filter((i) => !keptImages.has(i))),
  ];
  return { remove, keep: ordered.filter((id) => keepIds.has(id)), images };
}

/** A .env line Compose v2 and v1 read back to exactly `value`. */
export function envLine(key: string, value: string): string {
  if (!/^[A-Za-z_][A-Za-z0-9_.-]*$/.test(key))
    throw new ConfigurationError(`env name ${JSON.stringify(key)} is not valid`);
  if (!value.includes("'") && !value.includes('\n')) return `${key}='${value}'`;
  const escaped = value.replace(/\\/g, '\\\\').replace(/"/g, '\\"').replace(/\n/g, '\\n');
  return `${key}="${escaped}"`;
}

export function envFileContent(entries: ReadonlyMap<string, string>): string {
  return [...entries].map(([k, v]) => envLine(k, v)).join('\n') + (entries.size ? '\n' : '');
}
