// `registry` delivery: the droplet pulls each image itself. Credentials (given, or
// DigitalOcean Container Registry's from the API) never reach argv: a docker config.json
// goes up with mode 0600 (in the release archive) into the run's scratch space, and the
// pulls read it through DOCKER_CONFIG.

import { errorMessage } from '../action/errors.js';
import { and, cmd, or, type Script, withEnv } from '../commands/cmd.js';
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

export interface InspectedImage {
  ref: string;
  id: string;
  repoDigests: string[];
}

const INSPECT_FORMAT = '{{.Id}} {{json .RepoDigests}}';

/** `docker image inspect` of one or more references: one INSPECT_FORMAT line each, in argument order. */
function inspectScript(refs: string | readonly string[]): Script {
  return cmd('docker', 'image', 'inspect', '--format', INSPECT_FORMAT, refs);
}

/** Pull, then inspect; a digest reference already on the droplet is not pulled again. */
export function pullAndInspectScript(ref: string, dockerConfigDir?: string): Script {
  const pull = and(pullScript(ref, dockerConfigDir), inspectScript(ref));
  return ref.includes('@sha256:') ? or(inspectScript(ref), pull) : pull;
}

/** `<id> <json RepoDigests>` → the image (the last line of the output: a pull may print before it). */
export function parseInspectLine(ref: string, output: string): InspectedImage | undefined {
  const line = output.trim().split('\n').pop()?.trim() ?? '';
  const m = /^(sha256:[0-9a-f]{64})(?: (.*))?$/.exec(line);
  if (!m) return undefined;
  let repoDigests: string[] = [];
  try {
    const parsed = JSON.parse(m[2] ?? '[]') as unknown;
    if (Array.isArray(parsed)) repoDigests = parsed.filter((d): d is string => typeof d === 'string');
  } catch {
    // no digests (a loaded or locally built image)
  }
  return { ref, id: m[1] as string, repoDigests };
}

export interface PullAndInspectOptions {
  /** DOCKER_CONFIG folder on the droplet holding the registry credentials, if any. */
  dockerConfigDir?: string;
  /** Progress: `pulling <ref>`, the pulls' stderr lines, `<ref>: <short id>`. */
  onLine?: (line: string) => void;
  /** Per pull. */
  timeoutMs: number;
}

/** Pulls at once over the one connection (as `docker compose pull` does). */
const PULL_WORKERS = 3;

/**
 * Pulls and inspects every image, each in one command, by a pool of PULL_WORKERS: a slow
 * pull holds back no other. After a failure no further pull starts; the ones under way are
 * waited for (they may still read the credentials the caller removes afterwards), then the
 * first failure is thrown (ImageDeliveryError naming the image).
 */
export async function pullAndInspect(
  host: RemoteHost,
  refs: readonly string[],
  o: PullAndInspectOptions,
): Promise<Map<string, InspectedImage>> {
  const found = new Map<string, InspectedImage>();
  const pullOne = async (ref: string): Promise<void> => {
    o.onLine?.(`pulling ${ref}`);
    const r = await host.run(pullAndInspectScript(ref, o.dockerConfigDir), {
      allowFailure: true,
      timeoutMs: o.timeoutMs,
      onLine: (line, stream) => {
        if (stream === 'stderr') o.onLine?.(line);
      },
    });
    const image = r.code === 0 ? parseInspectLine(ref, r.stdout) : undefined;
    if (!image) {
      const why = (r.stderr.trim() || r.stdout.trim()).split('\n').slice(-3).join(' ');
      throw new ImageDeliveryError(ref, `pulling image ${ref} failed: ${why || `exit ${r.code}`}`);
    }
    o.onLine?.(`${ref}: ${image.id.slice(0, 19)}`);
    found.set(ref, image);
  };
  let next = 0;
  let failure: { error: unknown } | undefined;
  const worker = async (): Promise<void> => {
    while (!failure && next < refs.length) {
      const ref = refs[next++] as string;
      try {
        await pullOne(ref);
      } catch (error) {
        failure ??= { error };
      }
    }
  };
  await Promise.all(Array.from({ length: Math.min(PULL_WORKERS, refs.length) }, worker));
  if (failure) throw failure.error instanceof Error ? failure.error : new Error(errorMessage(failure.error));
  return found;
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
    const all = await host.run(inspectScript(refs), { allowFailure: true, timeoutMs: 60_000 });
    const lines = all.stdout.trim().split('\n');
    const images = refs.map((ref, i) => parseInspectLine(ref, lines[i] ?? ''));
    if (all.code === 0 && lines.length === refs.length && images.every((image) => image !== undefined)) {
      for (const image of images) found.set(image.ref, image);
      return { found, missing };
    }
  }
  for (const ref of refs) {
    const r = await host.run(inspectScript(ref), { allowFailure: true, timeoutMs: 30_000 });
    const image = r.code === 0 ? parseInspectLine(ref, r.stdout) : undefined;
    if (image) found.set(ref, image);
    else missing.push(ref);
  }
  return { found, missing };
}

/** The digest reference for `ref` among an image's RepoDigests (same repository). */
export function repoDigestFor(ref: string, repoDigests: readonly string[]): string | undefined {
  const repo = ref.includes('@') ? ref.split('@')[0] : ref.replace(/:[^/:]+$/, '');
  return repoDigests.find((d) => d.split('@')[0] === repo) ?? repoDigests[0];
}
