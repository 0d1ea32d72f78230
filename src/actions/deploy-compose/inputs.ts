import { ConfigurationError } from '../../lib/action/errors.js';
import type { InputGetter } from '../../lib/action/inputs.js';
import { InputReader, requireOneOf } from '../../lib/action/inputs.js';
import { parseInteger } from '../../lib/action/parsers.js';
import { DOCR_HOST, registryAuthKey } from '../../lib/images/registry.js';
import { DEFAULT_BASE_DIR, validateAppName, validateReleaseId } from '../../lib/release/model.js';
import { readSshInputs, type SshInputs } from '../../lib/ssh/inputs.js';
import { parseEndpoint, type SshEndpoint } from '../../lib/ssh/target.js';

export type Targets =
  { kind: 'hosts'; hosts: SshEndpoint[] } | { kind: 'tag'; tag: string } | { kind: 'ids'; ids: number[] };

export type Delivery = 'registry' | 'transfer' | 'none';

export interface RunContext {
  repo: string;
  runId: string;
  runAttempt: string;
  actor: string;
  sha: string;
  workspace: string;
}

export interface Inputs {
  targets: Targets;
  /** DigitalOcean token (droplet-tag / droplet-ids, DOCR credentials). */
  token?: string;
  apiEndpoint: string;
  /** Which droplet address to connect to when targets come from the API. */
  address: 'public' | 'private';
  ssh: SshInputs;
  app: string;
  /** Local paths (relative to workingDirectory), in order. */
  composeFiles: string[];
  files: string[];
  workingDirectory: string;
  env: Map<string, string>;
  envFile?: string;
  secrets: Map<string, string>;
  releaseId?: string;
  images: Delivery;
  /**
   * Credentials for the pulls from the `registry` / `registry-username` / `registry-password`
   * inputs; `server` is already the docker config `auths` key (Docker Hub: https://index.docker.io/v1/).
   */
  registry?: { server: string; username: string; password: string };
  /** Log in to DigitalOcean Container Registry with credentials from the API. */
  docr: boolean;
  keepReleases: number;
  timeoutMs: number;
  waitTimeoutMs: number;
  profiles: string[];
  rollbackTo?: string;
  lockTimeoutMs: number;
  lockStaleAfterMs: number;
  baseDir: string;
  context: RunContext;
}

export const DEFAULT_COMPOSE_FILES = ['compose.yaml', 'compose.yml', 'docker-compose.yaml', 'docker-compose.yml'];

function relativePath(name: string, value: string): string {
  const v = value.trim().replace(/^\.\//, '');
  if (!v || v.startsWith('/') || v.split('/').includes('..')) {
    throw new ConfigurationError(
      `input "${name}" has ${JSON.stringify(value)}: give a path inside the working directory (no leading "/" or "..")`,
    );
  }
  return v;
}

function readTargets(r: InputReader, user: string, port: number): Targets {
  const which = requireOneOf(r, ['hosts', 'droplet-tag', 'droplet-ids']);
  if (which === 'hosts') {
    return {
      kind: 'hosts',
      hosts: r.list('hosts').map((h) => {
        const e = parseEndpoint('hosts', h, user);
        return /:\d+$|\]:\d+$/.test(h.trim()) ? e : { ...e, port };
      }),
    };
  }
  if (which === 'droplet-tag') return { kind: 'tag', tag: r.required('droplet-tag') };
  return { kind: 'ids', ids: r.list('droplet-ids').map((id) => parseInteger('droplet-ids', id, { min: 1 })) };
}

export function readInputs(io: { getInput: InputGetter }, env: NodeJS.ProcessEnv = process.env): Inputs {
  const r = new InputReader((name) => io.getInput(name));
  const ssh = readSshInputs(r);
  const targets = readTargets(r, ssh.user, ssh.port);
  const token = r.optional('token');
  if (targets.kind !== 'hosts' && !token) {
    throw new ConfigurationError(
      `input "token" is required with "${targets.kind === 'tag' ? 'droplet-tag' : 'droplet-ids'}"`,
    );
  }
  const images = r.enum<Delivery>('images', ['registry', 'transfer', 'none'], 'registry');
  const username = r.optional('registry-username');
  const password = r.optional('registry-password');
  if (username && !password) {
    throw new ConfigurationError(
      'input "registry-username" is set but "registry-password" is empty: inputs "registry-username" and "registry-password" go together: give both or neither',
    );
  }
  if (password && !username) {
    throw new ConfigurationError(
      'input "registry-password" is set but "registry-username" is empty: inputs "registry-username" and "registry-password" go together: give both or neither',
    );
  }
  if (username?.includes(':')) {
    throw new ConfigurationError(`input "registry-username" has ${JSON.stringify(username)}: it cannot contain ":"`);
  }
  const registryRaw = r.optional('registry');
  const server = registryAuthKey(registryRaw);
  if (!server) {
    throw new ConfigurationError(
      `input "registry" has ${JSON.stringify(registryRaw)}: expected a registry host such as ghcr.io or registry.example:5000`,
    );
  }
  const docr = r.bool('docr-login', false);
  if (docr && !token)
    throw new ConfigurationError('input "docr-login" needs "token" to fetch the registry credentials');
  if (docr && username && server === DOCR_HOST) {
    throw new ConfigurationError(
      `inputs "registry-username"/"registry-password" (registry ${DOCR_HOST}) and "docr-login: true" both give credentials for ${DOCR_HOST}: use one or the other`,
    );
  }
  const rollbackRaw = r.optional('rollback-to');
  const rollbackTo =
    rollbackRaw === undefined
      ? undefined
      : rollbackRaw === 'previous'
        ? 'previous'
        : validateReleaseId('rollback-to', rollbackRaw);
  const releaseRaw = r.optional('release-id');
  const timeoutMs = r.duration('timeout', '15m', { minMs: 10_000 });
  return {
    targets,
    ...(token ? { token } : {}),
    apiEndpoint: r.string('api-endpoint', 'https://api.digitalocean.com'),
    address: r.enum('address', ['public', 'private'] as const, 'public'),
    ssh,
    app: validateAppName('app', r.required('app')),
    composeFiles: r.list('compose-files').map((f) => relativePath('compose-files', f)),
    files: r.list('files').map((f) => relativePath('files', f)),
    workingDirectory: r.string('working-directory', '.'),
    env: r.map('env'),
    ...(r.has('env-file') ? { envFile: r.required('env-file') } : {}),
    secrets: r.map('secrets', { secret: true }),
    ...(releaseRaw ? { releaseId: validateReleaseId('release-id', releaseRaw) } : {}),
    images,
    ...(username && password ? { registry: { server, username, password } } : {}),
    docr,
    keepReleases: r.int('keep-releases', 5, { min: 1, max: 100 }),
    timeoutMs,
    waitTimeoutMs: r.duration('wait-timeout', '3m', { minMs: 1000 }),
    profiles: r.list('profiles'),
    ...(rollbackTo ? { rollbackTo } : {}),
    lockTimeoutMs: r.duration('lock-timeout', '5m'),
    lockStaleAfterMs: r.duration('lock-stale-after', '15m', { minMs: 5000 }),
    baseDir: r.string('deploy-root', DEFAULT_BASE_DIR),
    context: {
      repo: env['GITHUB_REPOSITORY'] ?? '',
      runId: env['GITHUB_RUN_ID'] ?? '',
      runAttempt: env['GITHUB_RUN_ATTEMPT'] ?? '',
      actor: env['GITHUB_ACTOR'] ?? '',
      sha: env['GITHUB_SHA'] ?? '',
      workspace: env['GITHUB_WORKSPACE'] ?? process.cwd(),
    },
  };
}
