import type { AddressInfo } from 'node:net';
import { PassThrough } from 'node:stream';

import { NodeSSH } from 'node-ssh';
import ssh2 from 'ssh2';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import { recordingLogger } from '../../../test/unit/backup/logger.js';
import { cmd } from '../commands/cmd.js';
import { StreamAbortedError } from './executor.js';
import { NodeSshHost } from './node-ssh-host.js';

// NodeSshHost.stream against an in-process ssh2 server on 127.0.0.1 whose `exec` writes
// forever: aborting StreamOptions.signal must send KILL and close the channel at once.

const { Server, utils } = ssh2;
const hostKey = utils.generateKeyPairSync('ed25519');
const userKey = utils.generateKeyPairSync('ed25519');
const events: string[] = [];
let server: InstanceType<typeof Server>;
let port = 0;

beforeAll(async () => {
  // ssh2's server ignores channel requests after the client's EOF (sent at once for a command
  // without stdin) where OpenSSH's sshd acts on them: the request is observed on the wire
  const debug = (line: string): void => {
    const m = /Inbound: CHANNEL_REQUEST \(r:\d+, (signal(?:: \w+)?)\)/.exec(line);
    if (m) events.push(m[1] as string);
  };
  server = new Server({ hostKeys: [hostKey.private], debug }, (client) => {
    client.on('authentication', (ctx) => ctx.accept());
    client.on('error', () => undefined);
    client.on('ready', () => {
      client.on('session', (acceptSession) => {
        const session = acceptSession();
        session.on('exec', (accept, _reject, info) => {
          const channel = accept();
          events.push(`exec ${info.command}`);
          const chunk = Buffer.alloc(32 * 1024, 1);
          let writes = 0;
          // an endless dump (bounded: 1 GiB), paced by the channel's backpressure
          const pump = (): void => {
            while (writes < 32_768 && !channel.destroyed) {
              writes += 1;
              if (!channel.write(chunk)) {
                channel.once('drain', pump);
                return;
              }
            }
          };
          channel.on('close', () => events.push('closed'));
          channel.resume();
          pump();
        });
      });
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  port = (server.address() as AddressInfo).port;
});

afterAll(async () => {
  await new Promise<void>((resolve) => server.close(() => resolve()));
});

describe('NodeSshHost.stream', () => {
  it('aborting the signal sends KILL, closes the channel and rejects with StreamAbortedError', async () => {
    const ssh = new NodeSSH();
    await ssh.connect({ host: '127.0.0.1', port, username: 'backup', privateKey: userKey.private });
    const host = new NodeSshHost(
      ssh,
      { host: '127.0.0.1', port, user: 'backup', label: 'test-1 (127.0.0.1)' },
      { commandTimeoutMs: 120_000, logger: recordingLogger() },
    );
    try {
      const aborter = new AbortController();
      const stdout = new PassThrough({ highWaterMark: 64 * 1024 });
      let received = 0;
      stdout.on('data', (chunk: Buffer) => {
        received += chunk.length;
        // the consumer gives up after 1 MiB (like a failed upload)
        if (received >= 1024 * 1024 && !aborter.signal.aborted) aborter.abort();
      });
      const err = await host.stream(cmd('dump-forever'), { stdout, signal: aborter.signal }).catch((e: unknown) => e);
      expect(err).toBeInstanceOf(StreamAbortedError);
      expect((err as Error).message).toBe('test-1 (127.0.0.1): `dump-forever` was aborted');
      for (let i = 0; i < 200 && !events.includes('closed'); i += 1) await new Promise((r) => setTimeout(r, 10));
      expect(events).toEqual(['exec dump-forever', 'signal: KILL', 'closed']);
      expect(received).toBeLessThan(64 * 1024 * 1024);

      // the connection is still usable for the next command
      events.length = 0;
      const again = new AbortController();
      again.abort();
      await expect(
        host.stream(cmd('dump-forever'), { stdout: new PassThrough(), signal: again.signal }),
      ).rejects.toBeInstanceOf(StreamAbortedError);
      expect(events).toEqual([]);
    } finally {
      await host.close();
    }
  });
});
