// The registry-username / registry-password inputs (and docr-login) end up as one docker
// config in the upload archive (0600), the pulls use it through DOCKER_CONFIG, and the
// password is in no command, no logged command and no log line.
import { describe, expect, it } from 'vitest';

import { beginReply, fakeDeps, fakeInputs as inputsWith, untar } from '../../../test/support/deploy-compose-fake.js';
import { FakeHost } from '../../../test/support/fake-host.js';
import { ConfigurationError } from '../../lib/action/errors.js';
import type { RegistryAuth } from '../../lib/images/registry.js';
import { run } from './run.js';

const PASSWORD = 'gh-s3cret-pa55word';
const DOCR_TOKEN = 'dop_v1_docr-token-value';

function setup(docr: RegistryAuth[] = []) {
  // begin: Compose v2, no release yet, the config resolved; the pull then fails (the test
  // stops there: everything about the credentials has happened by then)
  const host = new FakeHost()
    .on((c) => c.includes('@@dd:config'), beginReply())
    .on(/docker pull/, { code: 1, stderr: 'denied: stop here' });
  return { host, ...fakeDeps(host, docr) };
}

const b64 = (s: string): string => Buffer.from(s, 'utf8').toString('base64');

describe('registry credentials reach the droplet only inside the 0600 docker config', () => {
  it('registry-username/password → auths entry keyed by the registry host, used by the pulls, never in a command or log', async () => {
    const inputs = inputsWith({ registry: { server: 'ghcr.io', username: 'robot', password: PASSWORD } });
    const { deps, host, secrets, log, docrCalls } = setup();
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
    const { deps, host } = setup();
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
    const { deps, host, secrets, log } = setup(docr);
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
    const { deps, host } = setup(docr);
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
    const { deps, host } = setup();
    await run(inputs, deps).catch(() => undefined);
    const begin = host.calls.find((c) => c.command.includes('@@dd:config'));
    expect(begin).toBeDefined();
    expect([...untar(begin?.stdin ?? '').keys()].some((k) => k.startsWith('docker-config'))).toBe(false);
  });
});
