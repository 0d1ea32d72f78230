// deploy-compose's run() on a FakeHost, for unit tests: inputs with every field set, and the
// deps (io, connector, release files) around one fake droplet.
import type { ActionIo } from '../../src/lib/action/core.js';
import type { RegistryAuth } from '../../src/lib/images/registry.js';
import type { Inputs } from '../../src/actions/deploy-compose/inputs.js';
import type { Deps } from '../../src/actions/deploy-compose/types.js';
import type { FakeHost } from './fake-host.js';

export const FAKE_IMAGE = 'ghcr.io/acme/web:1.4';

export function fakeInputs(patch: Partial<Inputs> = {}): Inputs {
  return {
    targets: { kind: 'hosts', hosts: [{ host: '192.0.2.10', port: 22, user: 'root' }] },
    apiEndpoint: 'https://api.digitalocean.com',
    address: 'public',
    ssh: { user: 'root', port: 22, privateKey: 'not-a-real-key', insecure: true } as Inputs['ssh'],
    app: 'shop',
    composeFiles: ['compose.yaml'],
    files: [],
    workingDirectory: '.',
    env: new Map(),
    secrets: new Map(),
    images: 'registry',
    docr: false,
    keepReleases: 5,
    timeoutMs: 60_000,
    waitTimeoutMs: 60_000,
    profiles: [],
    lockTimeoutMs: 60_000,
    lockStaleAfterMs: 900_000,
    baseDir: '/opt',
    context: { repo: 'acme/shop', runId: '1', runAttempt: '1', actor: 'me', sha: 'abcdef0123', workspace: '/w' },
    ...patch,
  };
}

export interface FakeRun {
  deps: Deps;
  secrets: string[];
  log: string[];
  docrCalls(): number;
}

/** Deps for run() that connect to `host`; the release is one compose.yaml naming FAKE_IMAGE. */
export function fakeDeps(host: FakeHost, docr: RegistryAuth[] = []): FakeRun {
  const secrets: string[] = [];
  const log: string[] = [];
  const io: ActionIo = {
    getInput: () => '',
    setOutput: () => undefined,
    setSecret: (v) => secrets.push(v),
    saveState: () => undefined,
    getState: () => '',
    writeSummary: () => Promise.resolve(),
    logger: {
      info: (m) => log.push(m),
      warn: (m) => log.push(`warning: ${m}`),
      error: (m) => log.push(`error: ${m}`),
      debug: (m) => log.push(`debug: ${m}`),
      group: (_n, fn) => fn(),
    },
  };
  let docrCalls = 0;
  const deps: Deps = {
    io,
    connector: { connect: () => Promise.resolve(host), closeAll: () => Promise.resolve() },
    resolveTargets: () => Promise.reject(new Error('not used')),
    docrAuth: () => {
      docrCalls += 1;
      return Promise.resolve(docr);
    },
    readReleaseFiles: () => [
      {
        path: 'compose.yaml',
        content: Buffer.from(`services:\n  web:\n    image: ${FAKE_IMAGE}\n`),
        mode: 0o644,
        compose: true,
      },
    ],
    readEnvFile: () => '',
    now: () => Date.UTC(2026, 10, 22, 7, 0, 0),
    newToken: () => 'tok-1',
    sleep: () => Promise.resolve(),
  };
  return { deps, secrets, log, docrCalls: () => docrCalls };
}

/** The begin script's answer: Compose v2, the given current release, `config` resolved to `yaml`. */
export function beginReply(o: { yaml?: string; configExit?: number; current?: string; manifests?: string[] } = {}) {
  const yaml = o.yaml ?? `services:\n  web:\n    image: ${FAKE_IMAGE}\n`;
  return {
    stdout:
      `@@dd:locked\n@@dd:current\n${o.current ? `releases/${o.current}` : ''}\n@@dd:manifests\n${(o.manifests ?? []).join('\n')}\n` +
      `@@dd:log\n@@dd:dirs\n${o.current ?? ''}\n@@dd:compose\n2.29.7\nplugin\n@@dd:config\n${yaml}\n@@dd:config-exit ${o.configExit ?? 0}\n`,
  };
}

/** The files of an uncompressed tar (ustar headers; short ASCII names and contents here). */
export function untar(archive: string): Map<string, { content: string; mode: number }> {
  const out = new Map<string, { content: string; mode: number }>();
  for (let at = 0; at + 512 <= archive.length;) {
    const header = archive.slice(at, at + 512);
    const name = header.slice(0, 100).replace(/\0.*$/s, '');
    if (!name) break;
    const mode = parseInt(header.slice(100, 108).replace(/\0.*$/s, '').trim(), 8);
    const size = parseInt(header.slice(124, 136).replace(/\0.*$/s, '').trim(), 8);
    out.set(name, { content: archive.slice(at + 512, at + 512 + size), mode });
    at += 512 + Math.ceil(size / 512) * 512;
  }
  return out;
}
