// deliverImages only chooses by delivery mode; the pull-and-inspect itself is tested in
// lib/images/registry.test.ts.
import { describe, expect, it } from 'vitest';

import { FakeHost } from '../../../test/support/fake-host.js';
import type { Logger } from '../../lib/action/logger.js';
import type { RemoteHost } from '../../lib/ssh/executor.js';
import { deliverImages } from './deliver.js';

const ID = `sha256:${'a'.repeat(64)}`;
const INSPECT = "docker image inspect --format '{{.Id}} {{json .RepoDigests}}'";

function logger(lines: string[]): Logger {
  return {
    info: (m) => lines.push(m),
    warn: (m) => lines.push(m),
    error: (m) => lines.push(m),
    debug: () => undefined,
    group: (_name, fn) => fn(),
  };
}

describe('image delivery by mode', () => {
  it('registry: each image pulled and inspected in one command, through the docker config given', async () => {
    const host = new FakeHost().on(/docker pull/, { stdout: `${ID} ["reg/web@sha256:${'b'.repeat(64)}"]\n` });
    const lines: string[] = [];
    const r = await deliverImages(host, ['reg/web:1', 'reg/db:1'], {
      inputs: { images: 'registry', timeoutMs: 1000 },
      dockerConfigDir: '/opt/a/.deploy-tmp/t/docker-config',
      log: logger([]),
      onLine: (line) => lines.push(line),
    });
    expect(host.commands()).toEqual([
      `DOCKER_CONFIG=/opt/a/.deploy-tmp/t/docker-config docker pull --quiet reg/web\\:1 && ${INSPECT} reg/web\\:1`,
      `DOCKER_CONFIG=/opt/a/.deploy-tmp/t/docker-config docker pull --quiet reg/db\\:1 && ${INSPECT} reg/db\\:1`,
    ]);
    expect(r.missing).toEqual([]);
    expect(r.found.get('reg/web:1')).toEqual({
      ref: 'reg/web:1',
      id: ID,
      repoDigests: [`reg/web@sha256:${'b'.repeat(64)}`],
    });
    expect(lines).toContain('pulling reg/web:1');
  });

  it('registry: a failed pull throws, naming the image', async () => {
    const host = new FakeHost().on(/docker pull/, { code: 1, stderr: 'manifest unknown' });
    await expect(
      deliverImages(host, ['reg/web:nope'], {
        inputs: { images: 'registry', timeoutMs: 1000 },
        log: logger([]),
        onLine: () => undefined,
      }),
    ).rejects.toMatchObject({ name: 'ImageDeliveryError', image: 'reg/web:nope' });
  });

  it('none: nothing pulled, one inspect of them all, missing ones returned', async () => {
    const host = new FakeHost()
      .on(/inspect .* reg\/web\\:1 reg\/db\\:1$/, { code: 1, stdout: `${ID} []\n` })
      .on(/inspect .* reg\/web\\:1$/, { stdout: `${ID} []\n` })
      .on(/inspect .* reg\/db\\:1$/, { code: 1, stderr: 'No such image' });
    const r = await deliverImages(host, ['reg/web:1', 'reg/db:1'], {
      inputs: { images: 'none', timeoutMs: 1000 },
      log: logger([]),
      onLine: () => undefined,
    });
    expect(host.commands().some((c) => c.includes('docker pull'))).toBe(false);
    expect(host.commands()[0]).toBe(`${INSPECT} reg/web\\:1 reg/db\\:1`);
    expect(r.missing).toEqual(['reg/db:1']);
    expect([...r.found.keys()]).toEqual(['reg/web:1']);
  });

  it('transfer: the images are sent first, then inspected', async () => {
    const host = new FakeHost().on(/image inspect/, { stdout: `${ID} []\n` });
    const sent: string[][] = [];
    const lines: string[] = [];
    const transfer = {
      send: async (h: RemoteHost, refs: readonly string[]): Promise<{ bytesSent: number }> => {
        expect(h).toBe(host);
        expect(host.calls).toHaveLength(0); // before any inspect
        sent.push([...refs]);
        return Promise.resolve({ bytesSent: 42 });
      },
    };
    const r = await deliverImages(host, ['reg/web:1'], {
      inputs: { images: 'transfer', timeoutMs: 1000 },
      transfer,
      log: logger(lines),
      onLine: () => undefined,
    });
    expect(sent).toEqual([['reg/web:1']]);
    expect(lines).toContain('transfer: 42 bytes sent');
    expect(host.commands()).toEqual([`${INSPECT} reg/web\\:1`]);
    expect(r.found.get('reg/web:1')?.id).toBe(ID);
  });
});
