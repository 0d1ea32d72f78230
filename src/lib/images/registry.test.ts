import { describe, expect, it } from 'vitest';

import { FakeHost } from '../../../test/support/fake-host.js';
import {
  authsFromDockerConfig,
  dockerConfigJson,
  inspectImages,
  pullImages,
  registryAuthKey,
  registryOf,
  repoDigestFor,
} from './registry.js';

describe('registry delivery', () => {
  it('DigitalOcean docker-credentials → auths → the same docker config', () => {
    const token = 'dop_v1_abcdef';
    const config = {
      auths: { 'registry.digitalocean.com': { auth: Buffer.from(`${token}:${token}`).toString('base64') } },
    };
    const auths = authsFromDockerConfig(config);
    expect(auths).toEqual([{ server: 'registry.digitalocean.com', username: token, password: token }]);
    expect(JSON.parse(dockerConfigJson(auths))).toEqual(config);
  });

  it('credentials go up as a 0600 file, pulls use it through DOCKER_CONFIG, and it is removed; nothing secret in argv', async () => {
    const host = new FakeHost();
    await pullImages(host, ['registry.digitalocean.com/acme/web:v2', 'nginx:1.27'], {
      auths: [{ server: 'registry.digitalocean.com', username: 'tok', password: 'sekret-pass' }],
      scratchDir: '/opt/shop/.deploy-tmp',
      timeoutMs: 60_000,
    });
    expect(host.files.get('/opt/shop/.deploy-tmp/docker-config/config.json')?.mode).toBe(0o600);
    expect(host.commands()).toEqual([
      'mkdir -p -m 0700 /opt/shop/.deploy-tmp/docker-config',
      'DOCKER_CONFIG=/opt/shop/.deploy-tmp/docker-config docker pull --quiet registry.digitalocean.com/acme/web\\:v2',
      'DOCKER_CONFIG=/opt/shop/.deploy-tmp/docker-config docker pull --quiet nginx\\:1.27',
      'rm -rf /opt/shop/.deploy-tmp/docker-config',
    ]);
    expect(host.commands().join('\n')).not.toContain('sekret');
  });

  it('a failed pull names the image and still removes the credentials', async () => {
    const host = new FakeHost().on(/docker pull/, { code: 1, stderr: 'Error response from daemon: manifest unknown' });
    await expect(
      pullImages(host, ['r.example/web:nope'], {
        auths: [{ server: 'r.example', username: 'u', password: 'p' }],
        scratchDir: '/tmp/x',
        timeoutMs: 1000,
      }),
    ).rejects.toThrow('pulling image r.example/web:nope failed: Error response from daemon: manifest unknown');
    expect(host.commands().at(-1)).toBe('rm -rf /tmp/x/docker-config');
  });

  it('a digest reference already present is not pulled again', async () => {
    const host = new FakeHost().on(/image inspect/, { stdout: 'sha256:abc\n' });
    await pullImages(host, ['r.example/web@sha256:0123'], { auths: [], scratchDir: '/tmp/x', timeoutMs: 1000 });
    expect(host.commands().some((c) => c.includes('docker pull'))).toBe(false);
  });

  it('inspects all images in one call, falling back to one each when some are missing', async () => {
    const all = new FakeHost().on(/image inspect/, {
      stdout: 'sha256:aaa ["r.example/web@sha256:111"]\nsha256:bbb []\n',
    });
    const r = await inspectImages(all, ['r.example/web:v2', 'local/db:1']);
    expect(all.calls).toHaveLength(1);
    expect(r.found.get('r.example/web:v2')).toEqual({
      ref: 'r.example/web:v2',
      id: 'sha256:aaa',
      repoDigests: ['r.example/web@sha256:111'],
    });
    const some = new FakeHost()
      .on(/image inspect .* r\.example\/web\\:v2 local\/db\\:1$/, { code: 1, stdout: 'sha256:aaa []\n' })
      .on(/image inspect .* local\/db\\:1$/, { code: 1, stderr: 'No such image' })
      .on(/image inspect .* r\.example\/web\\:v2$/, { stdout: 'sha256:aaa []\n' });
    const r2 = await inspectImages(some, ['r.example/web:v2', 'local/db:1']);
    expect(r2.missing).toEqual(['local/db:1']);
    expect([...r2.found.keys()]).toEqual(['r.example/web:v2']);
  });

  it.each([
    ['nginx:1.27', 'docker.io'],
    ['acme/web:v1', 'docker.io'],
    ['registry.digitalocean.com/acme/web:v1', 'registry.digitalocean.com'],
    ['10.0.0.1:5000/web', '10.0.0.1:5000'],
    ['localhost/web', 'localhost'],
  ])('registryOf(%s) = %s', (ref, expected) => {
    expect(registryOf(ref)).toBe(expected);
  });

  it.each([
    [undefined, 'https://index.docker.io/v1/'],
    ['', 'https://index.docker.io/v1/'],
    ['docker.io', 'https://index.docker.io/v1/'],
    ['https://index.docker.io/v1/', 'https://index.docker.io/v1/'],
    ['registry-1.docker.io', 'https://index.docker.io/v1/'],
    ['ghcr.io', 'ghcr.io'],
    ['https://GHCR.io/', 'ghcr.io'],
    ['registry.example:5000', 'registry.example:5000'],
    ['registry.digitalocean.com', 'registry.digitalocean.com'],
    ['not a host', undefined],
    ['user@host', undefined],
  ])('registryAuthKey(%j) = %j', (value, expected) => {
    expect(registryAuthKey(value)).toBe(expected);
  });

  it('given credentials and DOCR credentials share one auths document', () => {
    const doc = JSON.parse(
      dockerConfigJson([
        { server: 'registry.digitalocean.com', username: 'dop', password: 'dop' },
        { server: 'https://index.docker.io/v1/', username: 'robot', password: 'pa:ss' },
      ]),
    ) as { auths: Record<string, { auth: string }> };
    expect(doc.auths['https://index.docker.io/v1/']?.auth).toBe(Buffer.from('robot:pa:ss').toString('base64'));
    expect(authsFromDockerConfig(doc)).toEqual([
      { server: 'registry.digitalocean.com', username: 'dop', password: 'dop' },
      { server: 'https://index.docker.io/v1/', username: 'robot', password: 'pa:ss' },
    ]);
  });

  it('picks the digest of the same repository', () => {
    expect(repoDigestFor('r.example/web:v2', ['other/x@sha256:1', 'r.example/web@sha256:2'])).toBe(
      'r.example/web@sha256:2',
    );
  });
});
