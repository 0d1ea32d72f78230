import { type ChildProcess, spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

// A real S3 server (s3rver) as a child process on 127.0.0.1, so a test can SIGKILL it
// mid-upload and start it again on the same directory.

export interface S3rverProcess {
  endpoint: string;
  bucket: string;
  accessKeyId: string;
  secretAccessKey: string;
  dir: string;
  kill(): Promise<void>;
  start(): Promise<void>;
  stop(): Promise<void>;
}

async function freePort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.address() as { port: number }).port;
  await new Promise((resolve) => server.close(resolve));
  return port;
}

export async function startS3rver(bucket = 'dd-backups'): Promise<S3rverProcess> {
  const dir = mkdtempSync(join(tmpdir(), 'dd-s3rver-'));
  const port = await freePort();
  let child: ChildProcess | undefined;
  const bin = join(process.cwd(), 'node_modules/s3rver/bin/s3rver.js');
  const start = async (): Promise<void> => {
    child = spawn(
      process.execPath,
      [bin, '-d', dir, '-a', '127.0.0.1', '-p', String(port), '--configure-bucket', bucket, '--silent'],
      {
        stdio: ['ignore', 'pipe', 'pipe'],
        env: { ...process.env, NODE_OPTIONS: '--openssl-legacy-provider' },
      },
    );
    const deadline = Date.now() + 15_000;
    for (let i = 0; i < 300; i += 1) {
      const up = await fetch(`http://127.0.0.1:${port}/`).then(
        () => true,
        () => false,
      );
      if (up) return;
      if (Date.now() > deadline) break;
      await new Promise((r) => setTimeout(r, 50));
    }
    throw new Error('s3rver did not start');
  };
  const kill = async (): Promise<void> => {
    if (!child || child.exitCode !== null) return;
    const c = child;
    const closed = new Promise((r) => c.once('close', r));
    c.kill('SIGKILL');
    await closed;
  };
  await start();
  return {
    endpoint: `http://127.0.0.1:${port}`,
    bucket,
    accessKeyId: 'S3RVER',
    secretAccessKey: 'S3RVER',
    dir,
    kill,
    start,
    async stop() {
      await kill();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
