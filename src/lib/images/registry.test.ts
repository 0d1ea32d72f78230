import { execFileSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

import { describe, expect, it } from 'vitest';

import { FakeHost } from '../../../test/support/fake-host.js';
import { render, type Script } from '../commands/cmd.js';
import type { ExecResult, RunOptions } from '../ssh/executor.js';
import {
  authsFromDockerConfig,
  dockerConfigJson,
  ImageDeliveryError,
  inspectImages,
  parseInspectLine,
  pullAndInspect,
  pullAndInspectScript,
  registryAuthKey,
  registryOf,
  repoDigestFor,
} from './registry.js';

const ID_A = `sha256:${'a'.repeat(64)}`;
const ID_B = `sha256:${'b'.repeat(64)}`;
// as the renderer quotes it
const Q = `reg/web\\@sha256\\:${'a'.repeat(64)}`;

/** Each pull waits until the test finishes or fails it (by the image name in its command). */
class GatedHost extends FakeHost {
  private readonly waiting = new Map<string, (r: ExecResult) => void>();
  private readonly order: string[] = [];

  override run(script: Script, _options?: RunOptions): Promise<ExecResult> {
    const ref = /pull --quiet (\S+)/.exec(render(script))?.[1]?.replace(/\\/g, '') ?? '';
    this.order.push(ref);
    return new Promise((resolve) => this.waiting.set(ref, resolve));
  }

  started(): string[] {
    return [...this.order];
  }

  finish(ref: string, id: string): void {
    this.waiting.get(ref)?.({ code: 0, stdout: `${id} []\n`, stderr: '' });
  }

  fail(ref: string, stderr: string): void {
    this.waiting.get(ref)?.({ code: 1, stdout: '', stderr });
  }

  /** Lets every pending continuation run. */
  async settle(): Promise<void> {
    for (let i = 0; i < 10; i += 1) await Promise.resolve();
  }
}

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

  it.each([
    [
      'reg/web:1',
      undefined,
      "docker pull --quiet reg/web\\:1 && docker image inspect --format '{{.Id}} {{json .RepoDigests}}' reg/web\\:1",
    ],
    [
      'reg/web:1',
      '/opt/a/.deploy-tmp/t/docker-config',
      "DOCKER_CONFIG=/opt/a/.deploy-tmp/t/docker-config docker pull --quiet reg/web\\:1 && docker image inspect --format '{{.Id}} {{json .RepoDigests}}' reg/web\\:1",
    ],
    [
      `reg/web@${ID_A}`,
      undefined,
      `docker image inspect --format '{{.Id}} {{json .RepoDigests}}' ${Q} || { docker pull --quiet ${Q} && docker image inspect --format '{{.Id}} {{json .RepoDigests}}' ${Q}; }`,
    ],
  ])('pulls and inspects %s in one command', (ref, dir, expected) => {
    expect(render(pullAndInspectScript(ref, dir))).toBe(expected);
  });

  it('reads the id and digests from the last line (after the pull output)', () => {
    expect(parseInspectLine('reg/web:1', `reg/web:1\n${ID_A} ["reg/web@sha256:${'b'.repeat(64)}"]\n`)).toEqual({
      ref: 'reg/web:1',
      id: ID_A,
      repoDigests: [`reg/web@sha256:${'b'.repeat(64)}`],
    });
    expect(parseInspectLine('x', `${ID_A} null`)).toEqual({ ref: 'x', id: ID_A, repoDigests: [] });
    expect(parseInspectLine('x', 'Error: no such image')).toBeUndefined();
  });

  it('pulls through DOCKER_CONFIG, one command per image, and pins what each inspect read; nothing secret in argv', async () => {
    const host = new FakeHost()
      .on(/web\\:v2$/, { stdout: `${ID_A} ["registry.digitalocean.com/acme/web@sha256:${'1'.repeat(64)}"]\n` })
      .on(/nginx\\:1\.27$/, { stdout: `${ID_B} []\n` });
    const lines: string[] = [];
    const found = await pullAndInspect(host, ['registry.digitalocean.com/acme/web:v2', 'nginx:1.27'], {
      dockerConfigDir: '/opt/shop/.deploy-tmp/t/docker-config',
      timeoutMs: 60_000,
      onLine: (line) => lines.push(line),
    });
    expect(host.commands()).toEqual([
      render(pullAndInspectScript('registry.digitalocean.com/acme/web:v2', '/opt/shop/.deploy-tmp/t/docker-config')),
      render(pullAndInspectScript('nginx:1.27', '/opt/shop/.deploy-tmp/t/docker-config')),
    ]);
    expect(
      host.commands().every((c) => c.startsWith('DOCKER_CONFIG=/opt/shop/.deploy-tmp/t/docker-config docker pull')),
    ).toBe(true);
    expect(host.commands().join('\n')).not.toMatch(/sekret|auth|password/i);
    expect(found.get('registry.digitalocean.com/acme/web:v2')).toEqual({
      ref: 'registry.digitalocean.com/acme/web:v2',
      id: ID_A,
      repoDigests: [`registry.digitalocean.com/acme/web@sha256:${'1'.repeat(64)}`],
    });
    expect(found.get('nginx:1.27')?.id).toBe(ID_B);
    expect(lines).toEqual([
      'pulling registry.digitalocean.com/acme/web:v2',
      'pulling nginx:1.27',
      `registry.digitalocean.com/acme/web:v2: ${ID_A.slice(0, 19)}`,
      `nginx:1.27: ${ID_B.slice(0, 19)}`,
    ]);
  });

  it('a failed pull names the image, with the tail of what it printed', async () => {
    const host = new FakeHost().on(/docker pull/, { code: 1, stderr: 'Error response from daemon: manifest unknown' });
    await expect(pullAndInspect(host, ['r.example/web:nope'], { timeoutMs: 1000 })).rejects.toThrow(
      new ImageDeliveryError(
        'r.example/web:nope',
        'pulling image r.example/web:nope failed: Error response from daemon: manifest unknown',
      ),
    );
    const silent = new FakeHost().on(/docker pull/, { code: 7 });
    await expect(pullAndInspect(silent, ['r.example/web:nope'], { timeoutMs: 1000 })).rejects.toThrow(
      'pulling image r.example/web:nope failed: exit 7',
    );
    // exit 0 but no image id on the last line: not pinned as if it were there
    const odd = new FakeHost().on(/docker pull/, { stdout: 'something else\n' });
    await expect(pullAndInspect(odd, ['r.example/web:1'], { timeoutMs: 1000 })).rejects.toThrow(
      'pulling image r.example/web:1 failed: something else',
    );
  });

  it('pulls with a pool of 3: a slow pull holds back no other, and after a failure no new pull starts', async () => {
    const refs = ['a:1', 'b:1', 'c:1', 'd:1', 'e:1', 'f:1'];
    const host = new GatedHost();
    const pulling = pullAndInspect(host, refs, { timeoutMs: 1000 });
    await host.settle();
    expect(host.started()).toEqual(['a:1', 'b:1', 'c:1']);
    host.finish('b:1', ID_B);
    await host.settle();
    expect(host.started()).toEqual(['a:1', 'b:1', 'c:1', 'd:1']); // a:1 (slow) still running
    host.finish('c:1', ID_A);
    host.finish('d:1', ID_A);
    await host.settle();
    expect(host.started()).toEqual(['a:1', 'b:1', 'c:1', 'd:1', 'e:1', 'f:1']);
    host.fail('e:1', 'denied');
    await host.settle();
    let settled = false;
    void pulling.catch(() => (settled = true));
    await host.settle();
    expect(settled).toBe(false); // the pulls under way (a, f) are waited for
    host.finish('f:1', ID_A);
    host.finish('a:1', ID_A);
    await expect(pulling).rejects.toThrow('pulling image e:1 failed: denied');

    const stop = new GatedHost();
    const stopped = pullAndInspect(stop, refs, { timeoutMs: 1000 });
    await stop.settle();
    stop.fail('a:1', 'denied');
    await stop.settle();
    expect(stop.started()).toEqual(['a:1', 'b:1', 'c:1']);
    stop.finish('b:1', ID_A);
    stop.finish('c:1', ID_A);
    await expect(stopped).rejects.toThrow('pulling image a:1 failed: denied');
    expect(stop.started()).toEqual(['a:1', 'b:1', 'c:1']);
  });

  it('the pull-and-inspect script, run by sh: a digest reference already there is not pulled; a tag is pulled, then inspected', () => {
    const dir = mkdtempSync(join(tmpdir(), 'dd-pull-'));
    try {
      const bin = join(dir, 'bin');
      mkdirSync(bin);
      // stub docker: logs each call; `image inspect` finds only what is in $DIR/present
      writeFileSync(
        join(bin, 'docker'),
        [
          '#!/bin/sh',
          'echo "$DOCKER_CONFIG|$*" >>"$DIR/calls"',
          'if [ "$1" = pull ]; then echo "$3" >>"$DIR/present"; echo "$3"; exit 0; fi',
          'for ref; do :; done',
          `grep -qxF "$ref" "$DIR/present" 2>/dev/null && { echo '${ID_A} []'; exit 0; }`,
          'echo "Error: No such image: $ref" >&2; exit 1',
        ].join('\n'),
        { mode: 0o755 },
      );
      const sh = (script: Script): { out: string; calls: string[] } => {
        const out = execFileSync('sh', ['-c', render(script)], {
          stdio: ['ignore', 'pipe', 'pipe'],
          env: { PATH: `${bin}:/usr/bin:/bin`, DIR: dir },
          encoding: 'utf8',
        });
        const calls = readFileSync(join(dir, 'calls'), 'utf8').trim().split('\n');
        rmSync(join(dir, 'calls'));
        return { out, calls };
      };
      const digest = `r.example/web@sha256:${'c'.repeat(64)}`;
      writeFileSync(join(dir, 'present'), `${digest}\n`);
      const present = sh(pullAndInspectScript(digest, '/cfg'));
      expect(present.calls).toEqual([`|image inspect --format {{.Id}} {{json .RepoDigests}} ${digest}`]);
      expect(parseInspectLine(digest, present.out)?.id).toBe(ID_A);

      const missing = `r.example/web@sha256:${'d'.repeat(64)}`;
      const pulled = sh(pullAndInspectScript(missing, '/cfg'));
      expect(pulled.calls).toEqual([
        `|image inspect --format {{.Id}} {{json .RepoDigests}} ${missing}`,
        `/cfg|pull --quiet ${missing}`,
        `|image inspect --format {{.Id}} {{json .RepoDigests}} ${missing}`,
      ]);
      expect(parseInspectLine(missing, pulled.out)?.id).toBe(ID_A);

      const tag = sh(pullAndInspectScript('r.example/web:v1'));
      expect(tag.calls).toEqual([
        '|pull --quiet r.example/web:v1',
        '|image inspect --format {{.Id}} {{json .RepoDigests}} r.example/web:v1',
      ]);
      expect(parseInspectLine('r.example/web:v1', tag.out)?.id).toBe(ID_A);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('inspects all images in one call, falling back to one each when some are missing', async () => {
    const all = new FakeHost().on(/image inspect/, {
      stdout: `${ID_A} ["r.example/web@sha256:111"]\n${ID_B} []\n`,
    });
    const r = await inspectImages(all, ['r.example/web:v2', 'local/db:1']);
    expect(all.calls).toHaveLength(1);
    expect(all.commands()[0]).toBe(
      "docker image inspect --format '{{.Id}} {{json .RepoDigests}}' r.example/web\\:v2 local/db\\:1",
    );
    expect(r.found.get('r.example/web:v2')).toEqual({
      ref: 'r.example/web:v2',
      id: ID_A,
      repoDigests: ['r.example/web@sha256:111'],
    });
    expect(r.found.get('local/db:1')).toEqual({ ref: 'local/db:1', id: ID_B, repoDigests: [] });
    expect(r.missing).toEqual([]);
    const some = new FakeHost()
      .on(/image inspect .* r\.example\/web\\:v2 local\/db\\:1$/, { code: 1, stdout: `${ID_A} []\n` })
      .on(/image inspect .* local\/db\\:1$/, { code: 1, stderr: 'No such image' })
      .on(/image inspect .* r\.example\/web\\:v2$/, { stdout: `${ID_A} []\n` });
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
