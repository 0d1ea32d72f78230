// startLab()/stopLab(): the whole local DigitalOcean — host set-up, images, network, registry,
// PostgreSQL, S3, the droplet backend and the DigitalOcean API fake — and its state file so
// another process (`npm run lab -- down`) can tear it down by name.
import { existsSync, mkdirSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { randomBytes } from 'node:crypto';
import type { LabEnv } from './contract.js';
import { ensureHostReady } from './setup.js';
import { ensureImages, type LabImages } from './images.js';
import { DockerDropletBackend, cleanupDisks } from './droplets.js';
import {
  createNetwork,
  pushAppImages,
  registrySeedVolume,
  removeByPrefix,
  saveRegistrySeed,
  startPostgres,
  startRegistry,
  startS3,
  type LabNetwork,
  type LabS3,
} from './services.js';
import { startApiFake, type ApiFakeHandle } from './api/index.js';
import { docker, log, sleep } from './util.js';

export const LAB_DIR = process.env.LAB_DIR ?? '/tmp/ddlab';

/** Everything about a running lab beyond the contract's LabEnv (for fixtures and teardown). */
export interface LabInfo {
  id: string;
  /** Started for a test run (global setup): torn down when its last test run ends. */
  ephemeral?: boolean;
  prefix: string;
  dir: string;
  /** pid of the process that holds the lab (API fake, S3); 0 once stopped. */
  pid: number;
  network: LabNetwork;
  images: { droplet: LabImages['droplet']; web: string; services: string };
  /** Registry as the host pushes to it (127.0.0.1:port). */
  registryForHost: string;
  insecureRegistries: string[];
  /** App image names as droplets pull them (same names are tagged on the host). */
  appImages: string[];
  /** PostgreSQL as the host reaches it. */
  postgresUrlForHost: string;
  apiOrigin: string;
  /** Data dir of the droplet backend (disk images). */
  dataDir: string;
  timings: Record<string, number>;
}

export interface LabState {
  status: 'starting' | 'ready' | 'failed' | 'stopping';
  error?: string;
  info: Partial<LabInfo> & { id: string; prefix: string; dir: string; pid: number; ephemeral?: boolean };
  env?: LabEnv;
  updatedAt: string;
}

export const stateFile = (dir = LAB_DIR): string => join(dir, 'state.json');

export function readState(dir = LAB_DIR): LabState | undefined {
  try {
    return JSON.parse(readFileSync(stateFile(dir), 'utf8')) as LabState;
  } catch {
    return undefined;
  }
}

export function writeState(state: LabState, dir = LAB_DIR): void {
  mkdirSync(dir, { recursive: true, mode: 0o700 });
  const tmp = `${stateFile(dir)}.${process.pid}.tmp`;
  writeFileSync(tmp, `${JSON.stringify({ ...state, updatedAt: new Date().toISOString() }, null, 2)}\n`, {
    mode: 0o600,
  });
  renameSync(tmp, stateFile(dir));
}

export interface RunningLab {
  env: LabEnv;
  info: LabInfo;
  backend: DockerDropletBackend;
  api: ApiFakeHandle;
  s3: LabS3;
  stop(): Promise<void>;
}

async function api<T>(env: { url: string; token: string }, method: string, path: string, body?: unknown): Promise<T> {
  const res = await fetch(`${env.url}${path}`, {
    method,
    headers: { authorization: `Bearer ${env.token}`, 'content-type': 'application/json' },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  const text = await res.text();
  if (!res.ok) throw new Error(`${method} ${path}: ${res.status} ${text.slice(0, 500)}`);
  return (text ? JSON.parse(text) : {}) as T;
}

/** Starts a lab in this process. The caller keeps the process alive while the lab is used. */
export async function startLab(opts: { dir?: string; ephemeral?: boolean } = {}): Promise<RunningLab> {
  const dir = opts.dir ?? LAB_DIR;
  const id = randomBytes(3).toString('hex');
  const prefix = `ddlab-${id}-`;
  const timings: Record<string, number> = {};
  const t0 = Date.now();
  const mark = (k: string, since: number): void => {
    timings[k] = Math.round((Date.now() - since) / 100) / 10;
    log(`lab ${id}: ${k} ${timings[k]} s`);
  };
  const ephemeral = opts.ephemeral ?? false;
  const state: LabState = { status: 'starting', info: { id, prefix, dir, pid: process.pid, ephemeral }, updatedAt: '' };
  writeState(state, dir);
  const dataDir = join(dir, 'data');
  mkdirSync(dataDir, { recursive: true, mode: 0o700 });

  let s3: LabS3 | undefined;
  let apiFake: ApiFakeHandle | undefined;
  let backend: DockerDropletBackend | undefined;
  try {
    let t = Date.now();
    await ensureHostReady();
    mark('host', t);
    t = Date.now();
    const [images, network] = await Promise.all([
      ensureImages().then((r) => (mark('images', t), r)),
      createNetwork(prefix, parseInt(id, 16) % 256),
    ]);
    state.info.network = network;
    state.info.images = { droplet: images.droplet, web: images.web, services: images.services };
    writeState(state, dir);

    t = Date.now();
    const seed = registrySeedVolume([images.web, images.services]);
    const [registry, pg, s3started] = await Promise.all([
      startRegistry(prefix, network, images.services, seed).then((r) => (mark('registry', t), r)),
      startPostgres(prefix, network, images.services, join(dir, 'secrets')).then((r) => (mark('postgres', t), r)),
      startS3(join(dataDir, 's3')).then((r) => (mark('s3', t), r)),
    ]);
    s3 = s3started;
    mark('services', t);
    state.info.registryForHost = registry.forHost;
    state.info.insecureRegistries = [registry.forDroplets];
    writeState(state, dir);
    t = Date.now();
    const appImages = await pushAppImages(
      registry,
      { web: images.web, services: images.services },
      { push: !registry.seeded },
    );
    if (!registry.seeded) await saveRegistrySeed(prefix, images.services, seed);
    mark('push', t);
    state.info.appImages = appImages;
    writeState(state, dir);

    backend = new DockerDropletBackend({
      prefix,
      network: network.name,
      netmask: network.netmask,
      gateway: network.gateway,
      images: images.droplet,
      insecureRegistries: [registry.forDroplets],
      dataDir,
    });
    t = Date.now();
    apiFake = await startApiFake({
      backend,
      databases: [
        {
          name: 'lab-db-postgresql',
          engine: 'pg',
          version: '15',
          user: pg.user,
          password: pg.password,
          database: pg.database,
          host: pg.hostHost,
          port: pg.hostPort,
          privateHost: pg.privateHost,
          privatePort: pg.privatePort,
          sslmode: 'disable',
        },
      ],
      registry: { name: 'lab', host: registry.forDroplets },
    });
    const client = { url: apiFake.url, token: apiFake.token };
    const dbs = await api<{ databases: { id: string }[] }>(client, 'GET', '/databases');
    const dbId = dbs.databases[0]?.id;
    if (!dbId) throw new Error('the API fake lists no database cluster');
    const lb = await api<{ load_balancer: { id: string } }>(client, 'POST', '/load_balancers', {
      name: 'lab-lb',
      region: 'nyc3',
      forwarding_rules: [{ entry_protocol: 'http', entry_port: 80, target_protocol: 'http', target_port: 80 }],
      health_check: {
        protocol: 'http',
        port: 80,
        path: '/',
        check_interval_seconds: 3,
        response_timeout_seconds: 3,
        healthy_threshold: 2,
        unhealthy_threshold: 2,
      },
      droplet_ids: [],
    });
    mark('api', t);

    const env: LabEnv = {
      DIGITALOCEAN_API_URL: apiFake.url,
      DIGITALOCEAN_TOKEN: apiFake.token,
      LAB_S3_ENDPOINT: s3.endpoint,
      LAB_S3_ACCESS_KEY_ID: s3.accessKeyId,
      LAB_S3_SECRET_ACCESS_KEY: s3.secretAccessKey,
      LAB_S3_BUCKET: s3.bucket,
      LAB_REGISTRY: registry.forDroplets,
      LAB_POSTGRES_URL: pg.urlForDroplets,
      LAB_DB_CLUSTER_ID: dbId,
      LAB_LOAD_BALANCER_ID: lb.load_balancer.id,
      LAB_APP_IMAGES: appImages.join(','),
    };
    mark('total', t0);
    const info: LabInfo = {
      id,
      ephemeral,
      prefix,
      dir,
      pid: process.pid,
      network,
      images: { droplet: images.droplet, web: images.web, services: images.services },
      registryForHost: registry.forHost,
      insecureRegistries: [registry.forDroplets],
      appImages,
      postgresUrlForHost: pg.urlForHost,
      apiOrigin: apiFake.origin,
      dataDir,
      timings,
    };
    writeState({ status: 'ready', info, env, updatedAt: '' }, dir);
    log(`lab ${id} up in ${timings.total} s (${JSON.stringify(timings)})`);
    const running: RunningLab = {
      env,
      info,
      backend,
      api: apiFake,
      s3,
      stop: async () => {
        await stopLab({ dir, api: apiFake, backend, s3 });
      },
    };
    return running;
  } catch (e) {
    state.status = 'failed';
    state.error = e instanceof Error ? e.message : String(e);
    writeState(state, dir);
    await stopLab({ dir, api: apiFake, backend, s3 }).catch(() => undefined);
    throw e;
  }
}

/**
 * Tears a lab down: in-process parts first (API fake proxies, S3), then by name every
 * container, volume, network and snapshot image with the lab prefix, loop devices of droplet
 * disks, the registry tags on the host, and the lab's data. Works from any process.
 */
export async function stopLab(
  opts: { dir?: string; api?: ApiFakeHandle; backend?: DockerDropletBackend; s3?: LabS3 } = {},
): Promise<{ seconds: number }> {
  const dir = opts.dir ?? LAB_DIR;
  const t = Date.now();
  const state = readState(dir);
  if (state) writeState({ ...state, status: 'stopping' }, dir);
  // the fake's proxies (load balancers, reserved IPs) and its server; droplets go by name below
  await opts.api?.close({ destroyDroplets: false }).catch((e: unknown) => log(`api close: ${String(e)}`));
  await opts.s3?.close().catch(() => undefined);
  const prefix = state?.info.prefix;
  if (prefix) {
    const removed = await removeByPrefix(prefix);
    log(`removed ${removed.containers} containers, ${removed.volumes} volumes, ${removed.images} images of ${prefix}*`);
    const gw = state.info.insecureRegistries?.[0];
    if (gw) {
      const tags = (await docker(['images', '--format', '{{.Repository}}:{{.Tag}}'], { allowFail: true })).stdout
        .split('\n')
        .filter((s) => s.startsWith(`${gw}/`));
      if (tags.length) await docker(['rmi', ...tags], { allowFail: true });
    }
  }
  await cleanupDisks(join(dir, 'data'));
  rmSync(join(dir, 'data'), { recursive: true, force: true });
  rmSync(join(dir, 'secrets'), { recursive: true, force: true });
  if (existsSync(stateFile(dir))) rmSync(stateFile(dir), { force: true });
  const seconds = (Date.now() - t) / 1000;
  log(`lab ${state?.info.id ?? '?'} down in ${seconds.toFixed(1)} s`);
  return { seconds };
}

export function pidAlive(pid: number | undefined): boolean {
  if (!pid) return false;
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

/** True when the lab in `dir` is ready, its holder process lives and its API answers. */
export async function labHealthy(dir = LAB_DIR): Promise<LabState | undefined> {
  const s = readState(dir);
  if (!s || s.status !== 'ready' || !s.env || !pidAlive(s.info.pid)) return undefined;
  try {
    const res = await fetch(`${s.env.DIGITALOCEAN_API_URL}/account`, {
      headers: { authorization: `Bearer ${s.env.DIGITALOCEAN_TOKEN}` },
      signal: AbortSignal.timeout(5000),
    });
    await res.arrayBuffer();
    return res.ok ? s : undefined;
  } catch {
    return undefined;
  }
}

/** Stops the lab held by another process (SIGTERM, bounded wait), then sweeps by name. */
export async function downLab(dir = LAB_DIR): Promise<{ seconds: number }> {
  const t = Date.now();
  const s = readState(dir);
  if (!s) return { seconds: 0 };
  const pid = s.info.pid;
  if (pid && pid !== process.pid && pidAlive(pid)) {
    process.kill(pid, 'SIGTERM');
    for (let i = 0; i < 120 && pidAlive(pid); i++) await sleep(250);
    if (pidAlive(pid)) {
      log(`lab process ${pid} did not stop in 30 s; killing it`);
      process.kill(pid, 'SIGKILL');
    }
  }
  // sweep whatever is left (also when the holder died without cleaning up)
  if (readState(dir)) await stopLab({ dir });
  else await cleanupDisks(join(dir, 'data'));
  return { seconds: (Date.now() - t) / 1000 };
}

export function formatEnv(env: LabEnv): string {
  return `${Object.entries(env)
    .map(([k, v]) => `${k}=${String(v)}`)
    .join('\n')}\n`;
}
