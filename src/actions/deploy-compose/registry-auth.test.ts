// The registry-username / registry-password inputs (and docr-login) end up as one docker
// config in the upload archive (0600), the pulls use it through DOCKER_CONFIG, and the
// password is in no command, no logged command and no log line.
import { describe, expect, it } from 'vitest';

import { FakeHost } from '../../../test/support/fake-host.js';
import type { ActionIo } from '../../lib/action/core.js';
import { ConfigurationError } from '../../lib/action/errors.js';
import type { RegistryAuth } from '../../lib/images/registry.js';
import type { Inputs } from './inputs.js';
import { run } from './run.js';
import type { Deps } from './types.js';

const PASSWORD = 'gh-s3cret-pa55word';
const DOCR_TOKEN = 'dop_v1_docr-token-value';
const IMAGE = 'ghcr.io/acme/web:1.4';

/** The files of an uncompressed tar (ustar headers; short ASCII names and contents here). */
function untar(archive: string): Map<string, { content: string; mode: number }> {
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

function inputsWith(patch: Partial<Inputs>): Inputs {
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

function setup(inputs: Inputs, docr: RegistryAuth[] = []) {
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
  // begin: Compose v2, no release yet, the config resolved; the pull then fails (the test
  // stops there: everything about the credentials has happened by then)
  const host = new FakeHost()
    .on(
      (c) => c.includes('@@dd:config'),
      () => ({
        stdout: `@@dd:compose\n2.29.7\nplugin\n@@dd:current\n\n@@dd:config\nservices:\n  web:\n    image: ${IMAGE}\n\n@@dd:config-exit 0\n`,
      }),
    )
    .on(/docker pull/, { code: 1, stderr: 'denied: stop here' });
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
        content: Buffer.from(`services:\n  web:\n    image: ${IMAGE}\n`),
        mode: 0o644,
        compose: true,
      },
    ],
    readEnvFile: () => '',
    now: () => Date.UTC(2026, 10, 22, 7, 0, 0),
    newToken: () => 'tok-1',
    sleep: () => Promise.resolve(),
  };
  return { deps, host, secrets, log, docrCalls: () => docrCalls };
}

const b64 = (s: string): string => Buffer.from(s, 'utf8').toString('base64');

describe('registry credentials reach the droplet only inside the 0600 docker config', () => {
  it('registry-username/password → auths entry keyed by the registry host, used by the pulls, never in a command or log', async () => {
    const inputs = inputsWith({ registry: { server: 'ghcr.io', username: 'robot', password: PASSWORD } });
    const { deps, host, secrets, log, docrCalls } = setup(inputs);
    await expect(run(inputs, deps)).rejects.toThrow(/pulling image ghcr\.io\/acme\/web:1\.4 failed: denied: stop here/);
    expect(docrCalls()).toBe(0);

    const begin = host.calls.find((c) => c.command.includes('@@dd:config'));
    const files = untar(begin?.stdin ?? '');
    const config = files.get('docker-config/config.json');
    expect(config?.mode).toBe(0o600);
    expect(JSON.parse(config?.content ?? '')).toEqual({ auths: { 'ghcr.io': { auth: b64(`robot:${PASSWORD}`) } } });

    const pulls = host.commands().filter((c) => c.includes('docker pull'));
    expect(pulls).toHaveLength(1);
    expect(pulls[0]).toMatch(/^DOCKER_CONFIG=\/opt\/shop\/\S+\/tok-1\/docker-config docker pull --quiet ghcr\.io/);
    // the scratch folder (with the config) is removed after the failure
    expect(host.commands()).toContainEqual(expect.stringMatching(/^rm -rf \/opt\/shop\/\S+\/tok-1$/));

    for (const text of [...host.calls.flatMap((c) => [c.command, c.logged]), ...log]) {
      expect(text).not.toContain(PASSWORD);
      expect(text).not.toContain(b64(`robot:${PASSWORD}`));
    }
    // masked before anything ran, with user:password and its base64
    expect(secrets).toEqual(expect.arrayContaining([PASSWORD, `robot:${PASSWORD}`, b64(`robot:${PASSWORD}`)]));
  });

  it('Docker Hub credentials use the https://index.docker.io/v1/ key', async () => {
    const inputs = inputsWith({
      registry: { server: 'https://index.docker.io/v1/', username: 'robot', password: PASSWORD },
    });
    const { deps, host } = setup(inputs);
    await expect(run(inputs, deps)).rejects.toThrow(/pulling image/);
    const begin = host.calls.find((c) => c.command.includes('@@dd:config'));
    const config = untar(begin?.stdin ?? '').get('docker-config/config.json');
    expect(JSON.parse(config?.content ?? '')).toEqual({
      auths: { 'https://index.docker.io/v1/': { auth: b64(`robot:${PASSWORD}`) } },
    });
  });

  it('DOCR (from the API) and another registry merge into one auths document', async () => {
    const inputs = inputsWith({
      docr: true,
      token: 't',
      registry: { server: 'ghcr.io', username: 'robot', password: PASSWORD },
    });
    const docr = [{ server: 'registry.digitalocean.com', username: DOCR_TOKEN, password: DOCR_TOKEN }];
    const { deps, host, secrets, log } = setup(inputs, docr);
    await expect(run(inputs, deps)).rejects.toThrow(/pulling image/);
    const begin = host.calls.find((c) => c.command.includes('@@dd:config'));
    const config = untar(begin?.stdin ?? '').get('docker-config/config.json');
    expect(config?.mode).toBe(0o600);
    expect(JSON.parse(config?.content ?? '')).toEqual({
      auths: {
        'registry.digitalocean.com': { auth: b64(`${DOCR_TOKEN}:${DOCR_TOKEN}`) },
        'ghcr.io': { auth: b64(`robot:${PASSWORD}`) },
      },
    });
    expect(secrets).toEqual(expect.arrayContaining([DOCR_TOKEN, PASSWORD]));
    for (const text of [...host.calls.flatMap((c) => [c.command, c.logged]), ...log]) {
      expect(text).not.toContain(PASSWORD);
      expect(text).not.toContain(DOCR_TOKEN);
    }
  });

  it('the same host from docr-login and registry-username is refused before connecting', async () => {
    const inputs = inputsWith({
      docr: true,
      token: 't',
      registry: { server: 'registry.digitalocean.com', username: 'u', password: PASSWORD },
    });
    const docr = [{ server: 'registry.digitalocean.com', username: DOCR_TOKEN, password: DOCR_TOKEN }];
    const { deps, host } = setup(inputs, docr);
    const failure = run(inputs, deps);
    await expect(failure).rejects.toThrow(ConfigurationError);
    await expect(failure).rejects.toThrow(/both give credentials for registry\.digitalocean\.com/);
    expect(host.calls).toHaveLength(0);
  });

  it('without images: registry no docker config is sent', async () => {
    const inputs = inputsWith({
      images: 'none',
      registry: { server: 'ghcr.io', username: 'robot', password: PASSWORD },
    });
    const { deps, host } = setup(inputs);
    await run(inputs, deps).catch(() => undefined);
    const begin = host.calls.find((c) => c.command.includes('@@dd:config'));
    expect(begin).toBeDefined();
    expect([...untar(begin?.stdin ?? '').keys()].some((k) => k.startsWith('docker-config'))).toBe(false);
  });
});
