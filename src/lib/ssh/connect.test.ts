import * as net from 'node:net';
import type { AddressInfo } from 'node:net';

import ssh2 from 'ssh2';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';

import { recordingLogger } from '../../../test/unit/backup/logger.js';
import { fingerprintOf } from './host-keys.js';
import { connectWithRetry, SshConnectError, type SshSettings } from './node-ssh-host.js';

// connectWithRetry against an in-process ssh2 server on 127.0.0.1: the TCP connection is
// opened by us with Nagle off (see openTcp), and a refused port is a clear SshConnectError.

vi.mock('node:net', async (importOriginal) => {
  const real = await importOriginal<typeof net>();
  return { ...real, connect: vi.fn(real.connect) };
});

const { Server, utils } = ssh2;
const hostKey = utils.generateKeyPairSync('ed25519');
const userKey = utils.generateKeyPairSync('ed25519');
let server: InstanceType<typeof Server>;
let port = 0;

beforeAll(async () => {
  server = new Server({ hostKeys: [hostKey.private] }, (client) => {
    client.on('authentication', (ctx) => ctx.accept());
    client.on('error', () => undefined);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  port = (server.address() as AddressInfo).port;
});

afterAll(() => {
  server.close();
});

function settings(): SshSettings {
  const blob = utils.parseKey(hostKey.public);
  if (blob instanceof Error) throw blob;
  return {
    privateKey: userKey.private,
    hostKeys: { kind: 'verify', knownHosts: [], fingerprints: [fingerprintOf(blob.getPublicSSH())] },
    connectTimeoutMs: 5000,
    connectAttempts: 1,
    commandTimeoutMs: 5000,
    keepaliveIntervalMs: 0,
    logger: recordingLogger(),
  };
}

describe('connectWithRetry', () => {
  it('opens the TCP connection itself, with Nagle off, and the SSH session runs over it', async () => {
    const connect = vi.mocked(net.connect);
    connect.mockClear();
    const ssh = await connectWithRetry({ user: 'deploy', host: '127.0.0.1', port }, settings());
    try {
      expect(connect).toHaveBeenCalledTimes(1);
      expect(connect.mock.calls[0]?.[0]).toEqual({ host: '127.0.0.1', port, noDelay: true });
      const sock = connect.mock.results[0]?.value as net.Socket;
      expect(ssh.isConnected()).toBe(true);
      expect(sock.destroyed).toBe(false);
      expect(sock.remotePort).toBe(port);
    } finally {
      ssh.dispose();
    }
  });

  it('a refused port fails with the endpoint named, and leaves no socket open', async () => {
    const closed = net.createServer();
    await new Promise<void>((resolve) => closed.listen(0, '127.0.0.1', resolve));
    const deadPort = (closed.address() as AddressInfo).port;
    await new Promise<void>((resolve) => closed.close(() => resolve()));
    const connect = vi.mocked(net.connect);
    connect.mockClear();
    const error = await connectWithRetry({ user: 'deploy', host: '127.0.0.1', port: deadPort }, settings()).catch(
      (e: unknown) => e,
    );
    expect(error).toBeInstanceOf(SshConnectError);
    expect((error as Error).message).toBe(
      `could not connect to deploy@127.0.0.1:${deadPort}: connect ECONNREFUSED 127.0.0.1:${deadPort}`,
    );
    expect((connect.mock.results[0]?.value as net.Socket).destroyed).toBe(true);
  });
});
