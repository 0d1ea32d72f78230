// The lab's services besides droplets: its Docker network, its container registry (Debian's
// docker-registry), the "managed" PostgreSQL and the S3-compatible server (s3rver).
import { createRequire } from 'node:module';
import { mkdirSync, writeFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { randomBytes } from 'node:crypto';
import { docker, log, sha256, sleep, waitFor } from './util.js';

const require = createRequire(import.meta.url);

export interface LabNetwork {
  name: string;
  subnet: string;
  gateway: string;
  netmask: string;
  /** First three octets, e.g. 10.211.37 */
  base: string;
}

/**
 * A user-defined bridge with a fixed /24 of its own in 10.211.0.0/16 (not 172.17/16, which the
 * droplets' inner docker0 uses). Tries the next /24 when one is taken by another lab.
 */
export async function createNetwork(prefix: string, seed: number): Promise<LabNetwork> {
  const name = `${prefix}net`;
  for (let i = 0; i < 256; i++) {
    const n = (seed + i) % 256;
    const base = `10.211.${n}`;
    const r = await docker(
      [
        'network',
        'create',
        '--driver',
        'bridge',
        '--subnet',
        `${base}.0/24`,
        '--gateway',
        `${base}.1`,
        '--label',
        `ddlab.prefix=${prefix}`,
        name,
      ],
      { allowFail: true },
    );
    if (r.code === 0) return { name, subnet: `${base}.0/24`, gateway: `${base}.1`, netmask: '255.255.255.0', base };
    if (/already exists/i.test(r.stderr)) {
      const info = await docker([
        'network',
        'inspect',
        '--format',
        '{{range .IPAM.Config}}{{.Subnet}} {{.Gateway}}{{end}}',
        name,
      ]);
      const [subnet = '', gateway = ''] = info.stdout.trim().split(' ');
      return { name, subnet, gateway, netmask: '255.255.255.0', base: subnet.split('.').slice(0, 3).join('.') };
    }
    if (!/overlap|in use/i.test(r.stderr)) throw new Error(`docker network create ${name}: ${r.stderr.trim()}`);
  }
  throw new Error('no free /24 in 10.211.0.0/16 for the lab network');
}

async function hostPort(container: string, port: number, hostIp = '127.0.0.1'): Promise<number> {
  const r = await docker(['port', container, `${port}/tcp`]);
  for (const line of r.stdout.split('\n')) {
    const m = /^(.+):(\d+)$/.exec(line.trim());
    if (m && m[1] === hostIp) return Number(m[2]);
  }
  throw new Error(`${container}: ${port}/tcp is not published on ${hostIp}: ${r.stdout}`);
}

export interface LabRegistry {
  container: string;
  /** host:port droplets use (the lab network's gateway, port 5000). */
  forDroplets: string;
  /** host:port the host pushes to (loopback, so the host dockerd treats it as insecure-OK). */
  forHost: string;
  privateIp: string;
}

/** Copies one volume's content into another with a throwaway container. */
async function copyVolume(image: string, name: string, from: string, to: string, after = ''): Promise<void> {
  await docker(
    [
      'run',
      '--rm',
      '--name',
      name,
      '--network',
      'none',
      '-v',
      `${from}:/from:ro`,
      '-v',
      `${to}:/to`,
      '--entrypoint',
      '/bin/sh',
      image,
      '-c',
      `cp -a /from/. /to/${after}`,
    ],
    { timeoutMs: 600_000 },
  );
}

async function volumeHas(image: string, name: string, volume: string, file: string): Promise<boolean> {
  if ((await docker(['volume', 'inspect', volume], { allowFail: true })).code !== 0) return false;
  const r = await docker(
    [
      'run',
      '--rm',
      '--name',
      name,
      '--network',
      'none',
      '-v',
      `${volume}:/v:ro`,
      '--entrypoint',
      '/bin/sh',
      image,
      '-c',
      `test -f /v/${file}`,
    ],
    {
      allowFail: true,
    },
  );
  return r.code === 0;
}

/**
 * Registry content cache shared by labs (like the images, NOT removed by `down`): a volume
 * named after the app images it holds. A lab whose app images are in it copies it instead of
 * pushing (copy ≈ 1–2 s vs. push ≈ 15 s for the services image on this machine).
 */
export const registrySeedVolume = (appImageTags: string[]): string =>
  `ddlab-cache-registry-${sha256(...appImageTags).slice(0, 12)}`;

export async function startRegistry(
  prefix: string,
  net: LabNetwork,
  servicesImage: string,
  seed?: string,
): Promise<LabRegistry & { seeded: boolean }> {
  const container = `${prefix}registry`;
  const privateIp = `${net.base}.2`;
  let seeded = false;
  if (seed && (await volumeHas(servicesImage, `${prefix}seedcheck`, seed, '.ddlab-complete'))) {
    await docker(['volume', 'create', '--label', `ddlab.prefix=${prefix}`, `${prefix}registry-data`]);
    await copyVolume(
      servicesImage,
      `${prefix}seedcopy`,
      seed,
      `${prefix}registry-data`,
      ' && rm -f /to/.ddlab-complete',
    );
    seeded = true;
  }
  await docker([
    'run',
    '-d',
    '--name',
    container,
    '--label',
    `ddlab.prefix=${prefix}`,
    '--network',
    net.name,
    '--ip',
    privateIp,
    '-v',
    `${prefix}registry-data:/var/lib/docker-registry`,
    '-p',
    `127.0.0.1::5000`,
    '-p',
    `${net.gateway}:5000:5000`,
    servicesImage,
    'registry',
  ]);
  const port = await hostPort(container, 5000);
  const forHost = `127.0.0.1:${port}`;
  await waitFor(
    'lab registry',
    async () => (await fetch(`http://${forHost}/v2/`, { signal: AbortSignal.timeout(3000) })).ok,
    {
      timeoutMs: 30_000,
    },
  );
  return { container, forDroplets: `${net.gateway}:5000`, forHost, privateIp, seeded };
}

/** Saves a lab registry's content as the shared seed (after its app images were pushed). */
export async function saveRegistrySeed(prefix: string, servicesImage: string, seed: string): Promise<void> {
  const old = (
    await docker(['volume', 'ls', '-q', '--filter', 'name=ddlab-cache-registry-'], { allowFail: true })
  ).stdout
    .split('\n')
    .filter((v) => v && v !== seed);
  for (const v of old) await docker(['volume', 'rm', v], { allowFail: true });
  await docker(['volume', 'create', seed]);
  try {
    await copyVolume(
      servicesImage,
      `${prefix}seedsave`,
      `${prefix}registry-data`,
      seed,
      ' && touch /to/.ddlab-complete',
    );
  } catch (e) {
    await docker(['volume', 'rm', '-f', seed], { allowFail: true });
    throw e;
  }
}

/**
 * Pushes images into the lab registry as `<registry>/ddlab/<name>:latest` and tags them on
 * the host under the name droplets use. Returns the names droplets pull.
 */
export async function pushAppImages(
  reg: LabRegistry,
  images: Record<string, string>,
  opts: { push: boolean },
): Promise<string[]> {
  return Promise.all(
    Object.entries(images).map(async ([name, tag]) => {
      const hostName = `${reg.forHost}/ddlab/${name}:latest`;
      const dropletName = `${reg.forDroplets}/ddlab/${name}:latest`;
      await docker(['tag', tag, dropletName]);
      if (opts.push) {
        await docker(['tag', tag, hostName]);
        await docker(['push', hostName], { timeoutMs: 300_000 });
        await docker(['rmi', hostName]); // the push name has a per-lab port; keep only the droplet name
      }
      return dropletName;
    }),
  );
}

export interface LabPostgres {
  container: string;
  user: string;
  password: string;
  database: string;
  /** For the host: 127.0.0.1:<port> */
  hostHost: string;
  hostPort: number;
  /** For droplets: its address on the lab network. */
  privateHost: string;
  privatePort: number;
  /** postgresql://… as droplets reach it */
  urlForDroplets: string;
  /** postgresql://… as the host reaches it */
  urlForHost: string;
}

export async function startPostgres(
  prefix: string,
  net: LabNetwork,
  servicesImage: string,
  secretsDir: string,
): Promise<LabPostgres> {
  const container = `${prefix}postgres`;
  const privateHost = `${net.base}.3`;
  const user = 'doadmin';
  const database = 'defaultdb';
  const password = randomBytes(18).toString('base64url');
  mkdirSync(secretsDir, { recursive: true, mode: 0o700 });
  const envFile = join(secretsDir, 'postgres.env');
  // --env-file keeps the password out of argv
  writeFileSync(envFile, `POSTGRES_USER=${user}\nPOSTGRES_PASSWORD=${password}\nPOSTGRES_DB=${database}\n`, {
    mode: 0o600,
  });
  try {
    await docker([
      'run',
      '-d',
      '--name',
      container,
      '--label',
      `ddlab.prefix=${prefix}`,
      '--network',
      net.name,
      '--ip',
      privateHost,
      '--env-file',
      envFile,
      '-v',
      `${prefix}pgdata:/var/lib/postgresql/data`,
      '-p',
      '127.0.0.1::5432',
      servicesImage,
      'postgres',
    ]);
  } finally {
    rmSync(envFile, { force: true });
  }
  const port = await hostPort(container, 5432);
  await waitFor(
    'lab postgres',
    async () =>
      (
        await docker(['exec', container, 'pg_isready', '-q', '-h', '127.0.0.1', '-U', user], {
          allowFail: true,
          timeoutMs: 10_000,
        })
      ).code === 0,
    { timeoutMs: 60_000, intervalMs: 300 },
  );
  const enc = encodeURIComponent;
  return {
    container,
    user,
    password,
    database,
    hostHost: '127.0.0.1',
    hostPort: port,
    privateHost,
    privatePort: 5432,
    urlForDroplets: `postgresql://${enc(user)}:${enc(password)}@${privateHost}:5432/${database}`,
    urlForHost: `postgresql://${enc(user)}:${enc(password)}@127.0.0.1:${port}/${database}`,
  };
}

export interface LabS3 {
  endpoint: string;
  accessKeyId: string;
  secretAccessKey: string;
  bucket: string;
  close(): Promise<void>;
}

interface S3rverLike {
  run(): Promise<{ address: string; port: number }>;
  close(): Promise<void>;
}

/**
 * s3rver on 127.0.0.1 (random port), with per-lab credentials (s3rver checks the access key id
 * but does not verify SigV4 signatures; its default S3RVER key is revoked) and one bucket.
 * Its truncated ListObjectsV2 needs NODE_OPTIONS=--openssl-legacy-provider in this process
 * (the CLI sets it for the lab's holder process).
 */
export async function startS3(dir: string, bucket = 'lab-backups'): Promise<LabS3> {
  const S3rver = require('s3rver') as new (opts: Record<string, unknown>) => S3rverLike;
  const account = require('s3rver/lib/models/account') as {
    DUMMY_ACCOUNT: { createKeyPair(id: string, secret: string): void; revokeAccessKey(id: string): void };
  };
  const accessKeyId = `DO${randomBytes(9).toString('hex').toUpperCase()}`;
  const secretAccessKey = randomBytes(30).toString('base64url');
  account.DUMMY_ACCOUNT.createKeyPair(accessKeyId, secretAccessKey);
  account.DUMMY_ACCOUNT.revokeAccessKey('S3RVER');
  mkdirSync(dir, { recursive: true });
  const server = new S3rver({
    address: '127.0.0.1',
    port: 0,
    silent: true,
    directory: dir,
    vhostBuckets: false,
    configureBuckets: [{ name: bucket }],
  });
  const { port } = await server.run();
  return {
    endpoint: `http://127.0.0.1:${port}`,
    accessKeyId,
    secretAccessKey,
    bucket,
    close: async () => {
      await server.close().catch(() => undefined);
      account.DUMMY_ACCOUNT.revokeAccessKey(accessKeyId);
    },
  };
}

/** Removes every container, volume, network and snapshot image whose name starts with `prefix`. */
export async function removeByPrefix(
  prefix: string,
): Promise<{ containers: number; volumes: number; networks: number; images: number }> {
  const list = async (args: string[]): Promise<string[]> =>
    (await docker(args, { allowFail: true })).stdout
      .split('\n')
      .map((s) => s.trim())
      .filter((s) => s.startsWith(prefix));
  const containers = await list(['ps', '-a', '--format', '{{.Names}}', '--filter', `name=${prefix}`]);
  if (containers.length) await docker(['rm', '-f', '-v', ...containers], { allowFail: true, timeoutMs: 120_000 });
  const volumes = await list(['volume', 'ls', '--format', '{{.Name}}', '--filter', `name=${prefix}`]);
  if (volumes.length) await docker(['volume', 'rm', '-f', ...volumes], { allowFail: true });
  const images = await list(['images', '--format', '{{.Repository}}:{{.Tag}}']);
  if (images.length) await docker(['rmi', '-f', ...images], { allowFail: true });
  let networks = await list(['network', 'ls', '--format', '{{.Name}}', '--filter', `name=${prefix}`]);
  for (let i = 0; i < 5 && networks.length; i++) {
    await docker(['network', 'rm', ...networks], { allowFail: true });
    networks = await list(['network', 'ls', '--format', '{{.Name}}', '--filter', `name=${prefix}`]);
    if (networks.length) await sleep(500);
  }
  if (networks.length) log(`warning: could not remove networks ${networks.join(', ')}`);
  return { containers: containers.length, volumes: volumes.length, networks: networks.length, images: images.length };
}
