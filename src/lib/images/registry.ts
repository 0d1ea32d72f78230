// `registry` delivery: the droplet pulls each image itself. Credentials (given, or
// DigitalOcean Container Registry's from the API) never reach argv: a docker config.json
// goes up over SFTP with mode 0600 into a scratch DOCKER_CONFIG folder that is removed
// after the pulls.

import { cmd, type Script, withEnv } from '../commands/cmd.js';
import type { RemoteHost } from '../ssh/executor.js';

export interface RegistryAuth {
  /** Registry host, e.g. registry.digitalocean.com */
  server: string;
  username: string;
  password: string;
}

export function dockerConfigJson(auths: readonly RegistryAuth[]): string {
  const out: Record<string, { auth: string }> = {};
  for (const a of auths)
    out[a.server] = { auth: Buffer.from(`${a.username}:${a.password}`, 'utf8').toString('base64') };
  return `${JSON.stringify({ auths: out })}\n`;
}

/** DigitalOcean Container Registry's host (the `auths` key its docker-credentials use). */
export const DOCR_HOST = 'registry.digitalocean.com';

/** Docker Hub's key in a docker config's `auths` (what `docker login` writes for it). */
export const DOCKER_HUB_AUTH_KEY = 'https://index.docker.io/v1/';

const DOCKER_HUB_HOSTS = new Set(['docker.io', 'index.docker.io', 'registry-1.docker.io', 'registry.hub.docker.com']);

/**
 * The `auths` key for a registry host as the `registry` input gives it (a host, host:port,
 * or a URL): Docker Hub's names map to its legacy key, others to the bare host[:port].
 * Undefined when it is not a registry host.
 */
export function registryAuthKey(value: string | undefined): string | undefined {
  const text = (value ?? '').trim() || 'docker.io';
  const host = text
    .replace(/^https?:\/\//i, '')
    .replace(/\/.*$/, '')
    .toLowerCase();
  if (!/^[a-z0-9]([a-z0-9.-]*[a-z0-9])?(:\d{1,5})?$|^\[[0-9a-f:.]+\](:\d{1,5})?$/.test(host)) return undefined;
  return DOCKER_HUB_HOSTS.has(host) ? DOCKER_HUB_AUTH_KEY : host;
}

/** Reads `{"auths":{server:{auth}}}` as DigitalOcean's /v2/registry/docker-credentials returns it. */
export function authsFromDockerConfig(config: { auths: Record<string, { auth: string }> }): RegistryAuth[] {
  return Object.entries(config.auths).map(([server, { auth }]) => {
    const decoded = Buffer.from(auth, 'base64').toString('utf8');
    const colon = decoded.indexOf(':');
    return { server, username: decoded.slice(0, colon), password: decoded.slice(colon + 1) };
  });
}

/** The registry host part of an image reference (docker.io when none is named). */
export function registryOf(ref: string): string {
  const first = ref.split('/')[0] ?? '';
  if (ref.includes('/') && (first.includes('.') || first.includes(':') || first === 'localhost')) return first;
  return 'docker.io';
}

export function pullScript(ref: string, dockerConfigDir?: string): Script {
  const pull = cmd('docker', 'pull', '--quiet', ref);
  return dockerConfigDir ? withEnv({ DOCKER_CONFIG: dockerConfigDir }, pull) : pull;
}

export class ImageDeliveryError extends Error {
  override readonly name = 'ImageDeliveryError';
  constructor(
    readonly image: string,
    message: string,
  ) {
    super(message);
  }
}

export interface PullOptions {
  auths: readonly RegistryAuth[];
  /** Scratch folder on the droplet for the docker config (created and removed here). */
  scratchDir: string;
  onLine?: (line: string) => void;
  timeoutMs: number;
}

/** Pulls every image (digest references already present are not pulled again). */
export async function pullImages(host: RemoteHost, refs: readonly string[], options: PullOptions): Promise<void> {
  let configDir: string | undefined;
  if (options.auths.length) {
    configDir = `${options.scratchDir}/docker-config`;
    await host.run(cmd('mkdir', '-p', '-m', '0700', configDir), { timeoutMs: 30_000 });
    await host.upload(`${configDir}/config.json`, dockerConfigJson(options.auths), 0o600);
  }
  const pullOne = async (ref: string): Promise<void> => {
    if (ref.includes('@sha256:')) {
      const present = await host.run(cmd('docker', 'image', 'inspect', '--format', '{{.Id}}', ref), {
        allowFailure: true,
        timeoutMs: 30_000,
      });
      if (present.code === 0) return;
    }
    options.onLine?.(`pulling ${ref}`);
    const r = await host.run(pullScript(ref, configDir), {
      allowFailure: true,
      timeoutMs: options.timeoutMs,
      ...(options.onLine ? { onLine: (line: string) => options.onLine?.(line) } : {}),
    });
    if (r.code !== 0) {
      const why = (r.stderr.trim() || r.stdout.trim()).split('\n').slice(-3).join(' ');
      throw new ImageDeliveryError(ref, `pulling image ${ref} failed: ${why}`);
    }
  };
  try {
    // up to 3 pulls at once over the one connection (as `docker compose pull` does)
    for (let i = 0; i < refs.length; i += 3) {
      const results = await Promise.allSettled(refs.slice(i, i + 3).map(pullOne));
      const failed = results.find((r): r is PromiseRejectedResult => r.status === 'rejected');
      if (failed) throw failed.reason;
    }
  } finally {
    if (configDir) await host.run(cmd('rm', '-rf', configDir), { allowFailure: true, timeoutMs: 30_000 });
  }
}

export interface InspectedImage {
  ref: string;
  id: string;
  repoDigests: string[];
}

/** The local id and registry digests of each reference on the droplet; missing ones are listed. */
export async function inspectImages(
  host: RemoteHost,
  refs: readonly string[],
): Promise<{ found: Map<string, InspectedImage>; missing: string[] }> {
  const found = new Map<string, InspectedImage>();
  const missing: string[] = [];
  if (refs.length > 1) {
    // one round trip when every image is there (the usual case): lines come in argument order
    const all = await host.run(cmd('docker', 'image', 'inspect', '--format', '{{.Id}} {{json .RepoDigests}}', refs), {
      allowFailure: true,
      timeoutMs: 60_000,
    });
    const lines = all.stdout.trim().split('\n');
    if (all.code === 0 && lines.length === refs.length) {
      refs.forEach((ref, i) => found.set(ref, parseInspectLine(ref, lines[i] as string)));
      return { found, missing };
    }
  }
  for (const ref of refs) {
    const r = await host.run(cmd('docker', 'image', 'inspect', '--format', '{{.Id}} {{json .RepoDigests}}', ref), {
      allowFailure: true,
      timeoutMs: 30_000,
    });
    if (r.code !== 0) {
      missing.push(ref);
      continue;
    }
    found.set(ref, parseInspectLine(ref, r.stdout));
  }
  return { found, missing };
}

function parseInspectLine(ref: string, line: string): InspectedImage {
  const text = line.trim();
  const space = text.indexOf(' ');
  const id = space < 0 ? text : text.slice(0, space);
  let repoDigests: string[] = [];
  try {
    const parsed = JSON.parse(space < 0 ? '[]' : text.slice(space + 1)) as unknown;
    if (Array.isArray(parsed)) repoDigests = parsed.filter((d): d is string => typeof d === 'string');
  } catch {
    // no digests (a loaded or locally built image)
  }
  return { ref, id, repoDigests };
}

/** The digest reference for `ref` among an image's RepoDigests (same repository). */
export function repoDigestFor(ref: string, repoDigests: readonly string[]): string | undefined {
  const repo = ref.includes('@') ? ref.split('@')[0] : ref.replace(/:[^/:]+$/, '');
  return repoDigests.find((d) => d.split('@')[0] === repo) ?? repoDigests[0];
}
