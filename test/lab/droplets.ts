// The droplet backend: real droplet containers (sshd + Docker inside) that the DigitalOcean
// API fake starts, stops, snapshots and destroys. Every container/volume/image it makes is
// named with the lab prefix (`ddlab-<labid>-`) so teardown finds exactly what the lab made.
//
// A droplet = a container from the droplet image (trixie or bookworm) with
//  - its ports 22, 80, 443 (+ extraPorts) published on its own loopback address 127.0.1x.y
//    (its "public IPv4"), and an address on the lab network (its "private IPv4");
//  - a data disk mounted at /mnt/ddlab-disk holding /var/lib/docker, /opt, /srv and /home:
//    a sparse, loop-mounted ext4 of `diskGb` (default 25) when the host allows loop devices
//    (root + /dev/loop-control), else a plain Docker volume (then diskFull() is unsupported);
//  - per-instance files copied in before its first start (/etc/ddlab/instances/<id>/):
//    authorized_keys, host keys (from cloud-config ssh_keys, installed before sshd starts),
//    and the user_data digested into a script (see cloud-init.ts).
import { existsSync, mkdirSync, mkdtempSync, rmSync, writeFileSync, chmodSync, readdirSync } from 'node:fs';
import { connect } from 'node:net';
import { join } from 'node:path';
import { randomBytes } from 'node:crypto';
import type { DropletVariant } from './contract.js';
import type { DropletBackend, DropletCreateSpec } from './api/backend.js';
import { digestUserData } from './cloud-init.js';
import { docker, run, runBuffer, sleep, waitFor } from './util.js';

export interface SnapshotRef {
  /** Backend id of the snapshot (also the image tag). */
  id: string;
  /** Committed image of the droplet's root filesystem. */
  image: string;
  /** Docker volume holding a copy of the droplet's data disk (/var/lib/docker, /opt, …). */
  volume: string;
  variant: DropletVariant;
  /** Bytes used by the committed layer + the copied disk (for `size_gigabytes`/`min_disk_size`). */
  sizeBytes: number;
  createdAt: string;
}

/** What the API fake passes (api/backend.ts) plus lab-only options. `fromSnapshot` is a snapshot id. */
export interface DropletSpec extends DropletCreateSpec {
  /** Size of the droplet's data disk in GB (sparse). Default 25. */
  diskGb?: number;
  /** Keep these addresses (rebuild/restore keep a droplet's IPs). */
  publicIpv4?: string;
  privateIpv4?: string;
  /** Wait until sshd answers before resolving (default true: "active" means SSH works). */
  waitReady?: boolean;
  /** Host keys (/etc/ssh file name → content), over any from cloud-config `ssh_keys`. */
  hostKeys?: Record<string, string>;
}

export interface DropletInstance {
  /** Container name (unique, starts with the lab prefix). */
  container: string;
  name: string;
  variant: DropletVariant;
  publicIpv4: string;
  privateIpv4: string;
  /** Ports published on publicIpv4. */
  ports: number[];
  image: string;
  diskGb: number;
}

export interface BackendOptions {
  /** `ddlab-<labid>-` */
  prefix: string;
  /** Lab network name and its netmask/gateway. */
  network: string;
  netmask: string;
  gateway: string;
  /** Image per variant. */
  images: Record<DropletVariant, string>;
  /** Registries (host:port) droplets' dockerd treats as insecure (the lab registry). */
  insecureRegistries: string[];
  /** Directory for disk images (loop devices) and temp files; removed by teardown. */
  dataDir: string;
}

/** The API fake's interface (api/backend.ts) with the lab's extras. */
export interface LabDropletBackend extends DropletBackend {
  readonly prefix: string;
  create(spec: DropletSpec): Promise<DropletInstance>;
  /** Waits until the droplet's sshd answers on its public address. */
  waitReady(container: string, timeoutMs?: number): Promise<void>;
  /** Hard power off (docker kill); `graceful` = shutdown (docker stop: inner dockerd stops containers). */
  powerOff(container: string, opts?: { graceful?: boolean }): Promise<void>;
  /** Rebuild/restore: new container and disk (from a snapshot or a fresh image), same name and addresses. */
  rebuild(container: string, spec: DropletSpec): Promise<DropletInstance>;
  /** Commits the root filesystem and copies the data disk; returns the snapshot id. */
  snapshot(container: string): Promise<string>;
  snapshotInfo(id: string): SnapshotRef | undefined;
  /** Runs a command in the droplet as root (argv; no shell on the host side). */
  exec(container: string, argv: string[], input?: string): Promise<{ code: number; stdout: string; stderr: string }>;
  /** Fault: the droplet's sshd stops listening for `seconds` (running sessions stay). */
  sshdDown(container: string, seconds: number): Promise<void>;
  /** Fault: the droplet's data disk (/var/lib/docker, /opt, /srv, /home) has 0 bytes free (on) or is freed again (off). */
  diskFull(container: string, on?: boolean): Promise<void>;
  get(container: string): DropletInstance | undefined;
  list(): DropletInstance[];
  /** Destroys every droplet and snapshot this backend made. */
  destroyAll(): Promise<void>;
}

const DROPLET_FLAGS = [
  '--cap-add',
  'ALL',
  '--cap-drop',
  'SYS_RESOURCE',
  '--security-opt',
  'seccomp=unconfined',
  '--security-opt',
  'apparmor=unconfined',
  '--security-opt',
  'systempaths=unconfined',
  '--device-cgroup-rule',
  'a *:* rwm',
  '--init',
  '--stop-timeout',
  '10',
];

const DISK_MOUNT = '/mnt/ddlab-disk';
const FILL_FILE = `${DISK_MOUNT}/.ddlab-disk-full`;

/** Loopback addresses for droplets' public IPv4: 127.0.10.2 … 127.0.19.254. */
function* loopbackPool(): Generator<string> {
  for (let b = 10; b <= 19; b++) for (let c = 2; c <= 254; c++) yield `127.0.${b}.${c}`;
}

async function usedLoopbacks(): Promise<Set<string>> {
  const used = new Set<string>();
  const ids = (await docker(['ps', '-aq', '--filter', 'name=ddlab-'])).stdout.split('\n').filter(Boolean);
  if (!ids.length) return used;
  const r = await docker(['inspect', '--format', '{{json .HostConfig.PortBindings}}', ...ids], { allowFail: true });
  for (const m of r.stdout.matchAll(/"HostIp":"(127\.\d+\.\d+\.\d+)"/g)) used.add(m[1]!);
  return used;
}

const canLoop = (): boolean =>
  process.env.LAB_DROPLET_DISK !== 'volume' &&
  process.platform === 'linux' &&
  typeof process.getuid === 'function' &&
  process.getuid() === 0 &&
  existsSync('/dev/loop-control') &&
  existsSync('/usr/sbin/losetup') &&
  existsSync('/usr/sbin/mkfs.ext4');

function shortId(): string {
  return randomBytes(4).toString('hex');
}

function sanitize(name: string): string {
  return (
    name
      .toLowerCase()
      .replace(/[^a-z0-9.-]+/g, '-')
      .replace(/^[^a-z0-9]+/, '')
      .slice(0, 40) || 'droplet'
  );
}

/** Reads an SSH banner from host:22 (docker-proxy accepts before sshd is up, so connect is not enough). */
export function sshBanner(host: string, port = 22, timeoutMs = 2000): Promise<string | undefined> {
  return new Promise((resolve) => {
    const sock = connect({ host, port });
    let buf = '';
    const done = (v: string | undefined): void => {
      sock.destroy();
      resolve(v);
    };
    sock.setTimeout(timeoutMs, () => done(undefined));
    sock.on('data', (d) => {
      buf += d.toString();
      if (buf.includes('\n')) done(buf.startsWith('SSH-') ? buf.trim() : undefined);
    });
    sock.on('error', () => done(undefined));
    sock.on('close', () => done(buf.startsWith('SSH-') ? buf.trim() : undefined));
  });
}

export class DockerDropletBackend implements LabDropletBackend {
  readonly privateNetwork: { netmask: string; gateway: string };
  readonly prefix: string;
  private readonly droplets = new Map<string, DropletInstance>();
  private readonly snapshots = new Map<string, SnapshotRef>();
  private readonly reserved = new Set<string>();
  private readonly useLoop: boolean;
  private readonly disksDir: string;

  constructor(private readonly opts: BackendOptions) {
    this.prefix = opts.prefix;
    this.privateNetwork = { netmask: opts.netmask, gateway: opts.gateway };
    this.useLoop = canLoop();
    this.disksDir = join(opts.dataDir, 'disks');
    mkdirSync(this.disksDir, { recursive: true });
  }

  get(container: string): DropletInstance | undefined {
    return this.droplets.get(container);
  }

  list(): DropletInstance[] {
    return [...this.droplets.values()];
  }

  private async allocateLoopback(exclude: Set<string>): Promise<string> {
    const used = await usedLoopbacks();
    for (const ip of loopbackPool()) {
      if (!used.has(ip) && !this.reserved.has(ip) && !exclude.has(ip)) {
        this.reserved.add(ip);
        return ip;
      }
    }
    throw new Error('no free loopback address for a droplet (127.0.10.2-127.0.19.254 all used)');
  }

  /** Creates the droplet's data volume (loop-mounted ext4 when possible). */
  private async createDisk(volume: string, diskGb: number): Promise<void> {
    if (!this.useLoop) {
      await docker(['volume', 'create', '--label', `ddlab.prefix=${this.prefix}`, volume]);
      return;
    }
    const img = join(this.disksDir, `${volume}.img`);
    await run('truncate', ['-s', `${diskGb}G`, img]);
    await run('/usr/sbin/mkfs.ext4', ['-q', '-F', '-m', '0', '-E', 'lazy_itable_init=1,lazy_journal_init=1', img]);
    let dev = '';
    for (let i = 0; i < 5 && !dev; i++) {
      const r = await run('/usr/sbin/losetup', ['-f', '--show', img], { allowFail: true });
      if (r.code === 0) dev = r.stdout.trim();
      else await sleep(100 * (i + 1));
    }
    if (!dev) throw new Error(`losetup failed for ${img}`);
    await docker([
      'volume',
      'create',
      '--label',
      `ddlab.prefix=${this.prefix}`,
      '--label',
      `ddlab.loop=${img}`,
      '--driver',
      'local',
      '--opt',
      'type=ext4',
      '--opt',
      `device=${dev}`,
      volume,
    ]);
  }

  private async removeDisk(volume: string): Promise<void> {
    await docker(['volume', 'rm', '-f', volume], { allowFail: true });
    const img = join(this.disksDir, `${volume}.img`);
    if (existsSync(img)) {
      await detachLoops(img);
      rmSync(img, { force: true });
    }
  }

  /** Copies one volume's content into another (both mounted in a throwaway container). */
  private async copyVolume(from: string, to: string, image: string): Promise<void> {
    await docker(
      [
        'run',
        '--rm',
        '--name',
        `${this.prefix}copy-${shortId()}`,
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
        'cp -a /from/. /to/ && rm -f /to/.ddlab-disk-full',
      ],
      { timeoutMs: 10 * 60_000 },
    );
  }

  async create(spec: DropletSpec): Promise<DropletInstance> {
    const id = shortId();
    const container = `${this.prefix}d-${sanitize(spec.name)}-${id}`;
    const volume = `${container}-disk`;
    const snap = spec.fromSnapshot ? this.snapshots.get(spec.fromSnapshot) : undefined;
    if (spec.fromSnapshot && !snap) throw new Error(`no snapshot ${spec.fromSnapshot} in this lab`);
    const variant = snap?.variant ?? spec.variant;
    const image = snap?.image ?? this.opts.images[variant];
    const diskGb = spec.diskGb ?? 25;
    const ports = [...new Set([22, 80, 443, ...(spec.extraPorts ?? [])])];
    const digested = digestUserData(spec.userData);

    await this.createDisk(volume, diskGb);
    try {
      if (snap) await this.copyVolume(snap.volume, volume, image);
      const files = mkdtempSync(join(this.opts.dataDir, 'inst-'));
      try {
        // per-instance files: /etc/ddlab/current + /etc/ddlab/instances/<id>/…
        // staged as etc/…, sent with ONE `docker cp -` (a tar stream): docker cp into a created
        // container is slow on a busy host (0.5–1.5 s each)
        const etc = join(files, 'etc');
        const inst = join(etc, 'ddlab', 'instances', id);
        mkdirSync(join(inst, 'ssh'), { recursive: true });
        mkdirSync(join(etc, 'docker'), { recursive: true });
        writeFileSync(join(etc, 'ddlab', 'current'), `${id}\n`);
        writeFileSync(join(inst, 'authorized_keys'), spec.authorizedKeys.map((k) => `${k.trim()}\n`).join(''), {
          mode: 0o600,
        });
        for (const [f, content] of Object.entries({ ...digested.hostKeys, ...spec.hostKeys })) {
          writeFileSync(join(inst, 'ssh', f), content, { mode: 0o600 });
        }
        if (digested.script) writeFileSync(join(inst, 'user-data.sh'), digested.script, { mode: 0o700 });
        if (spec.userData) writeFileSync(join(inst, 'user-data'), spec.userData, { mode: 0o600 });
        for (const d of [etc, join(etc, 'docker'), join(etc, 'ddlab'), join(etc, 'ddlab', 'instances'), inst])
          chmodSync(d, 0o755);
        chmodSync(join(inst, 'ssh'), 0o700);
        writeFileSync(
          join(etc, 'docker', 'daemon.json'),
          `${JSON.stringify({ 'storage-driver': 'overlay2', 'shutdown-timeout': 5, 'insecure-registries': this.opts.insecureRegistries }, null, 2)}\n`,
          { mode: 0o644 },
        );
        const tar = (
          await runBuffer('tar', ['--numeric-owner', '--owner=0', '--group=0', '-C', files, '-cf', '-', 'etc'])
        ).stdout;

        let lastErr: unknown;
        const tried = new Set<string>();
        for (let attempt = 0; attempt < 8; attempt++) {
          const publicIpv4 = spec.publicIpv4 ?? (await this.allocateLoopback(tried));
          tried.add(publicIpv4);
          try {
            await docker([
              'create',
              '--name',
              container,
              '--hostname',
              sanitize(spec.name).slice(0, 63),
              '--label',
              `ddlab.prefix=${this.prefix}`,
              '--label',
              `ddlab.droplet=${spec.name}`,
              '--label',
              `ddlab.variant=${variant}`,
              '--network',
              this.opts.network,
              ...(spec.privateIpv4 ? ['--ip', spec.privateIpv4] : []),
              ...DROPLET_FLAGS,
              '-v',
              `${volume}:${DISK_MOUNT}`,
              ...ports.flatMap((p) => ['-p', `${publicIpv4}:${p}:${p}`]),
              image,
            ]);
            await docker(['cp', '-', `${container}:/`], { input: tar });
            await docker(['start', container]);
            const privateIpv4 = (
              await docker([
                'inspect',
                '--format',
                `{{(index .NetworkSettings.Networks "${this.opts.network}").IPAddress}}`,
                container,
              ])
            ).stdout.trim();
            const inst: DropletInstance = {
              container,
              name: spec.name,
              variant,
              publicIpv4,
              privateIpv4,
              ports,
              image,
              diskGb,
            };
            this.droplets.set(container, inst);
            this.reserved.delete(publicIpv4);
            if (spec.waitReady !== false) await this.waitReady(container);
            return inst;
          } catch (e) {
            this.reserved.delete(publicIpv4);
            lastErr = e;
            await docker(['rm', '-f', container], { allowFail: true });
            const msg = e instanceof Error ? e.message : String(e);
            // another lab/process took the address between our check and the bind: next one
            if (!spec.publicIpv4 && /address already in use|port is already allocated/i.test(msg)) continue;
            throw e;
          }
        }
        throw lastErr;
      } finally {
        rmSync(files, { recursive: true, force: true });
      }
    } catch (e) {
      this.droplets.delete(container);
      await docker(['rm', '-f', container], { allowFail: true });
      await this.removeDisk(volume);
      throw e;
    }
  }

  async waitReady(container: string, timeoutMs = 60_000): Promise<void> {
    const inst = this.mustGet(container);
    await waitFor(
      `droplet ${inst.name} (${container}) sshd`,
      async () => {
        if (await sshBanner(inst.publicIpv4, 22, 1500)) return true;
        const st = (
          await docker(['inspect', '--format', '{{.State.Status}}', container], { allowFail: true })
        ).stdout.trim();
        if (st !== 'running') {
          const logs = await docker(['logs', '--tail', '30', container], { allowFail: true });
          throw new FatalBootError(`droplet container ${container} is ${st || 'gone'}:\n${logs.stdout}${logs.stderr}`);
        }
        return undefined;
      },
      { timeoutMs, intervalMs: 150, fatal: (e) => e instanceof FatalBootError },
    );
  }

  private mustGet(container: string): DropletInstance {
    const d = this.droplets.get(container);
    if (!d) throw new Error(`unknown droplet container ${container}`);
    return d;
  }

  async isRunning(container: string): Promise<boolean> {
    const r = await docker(['inspect', '--format', '{{.State.Running}}', container], { allowFail: true });
    return r.code === 0 && r.stdout.trim() === 'true';
  }

  async powerOff(container: string, opts: { graceful?: boolean } = {}): Promise<void> {
    if (!(await this.isRunning(container))) return;
    if (opts.graceful) await docker(['stop', '-t', '20', container]);
    else await docker(['kill', container], { allowFail: true });
    await waitFor(`${container} to stop`, async () => !(await this.isRunning(container)), { timeoutMs: 30_000 });
  }

  async powerOn(container: string): Promise<void> {
    this.mustGet(container);
    if (!(await this.isRunning(container))) await docker(['start', container]);
    await this.waitReady(container);
  }

  async reboot(container: string): Promise<void> {
    this.mustGet(container);
    await docker(['restart', '-t', '20', container]);
    await this.waitReady(container);
  }

  async destroy(container: string): Promise<void> {
    const inst = this.droplets.get(container);
    await docker(['rm', '-f', '-v', container], { allowFail: true });
    await this.removeDisk(`${container}-disk`);
    if (inst) this.droplets.delete(container);
  }

  async rebuild(container: string, spec: DropletSpec): Promise<DropletInstance> {
    const old = this.mustGet(container);
    await this.destroy(container);
    return this.create({
      ...spec,
      name: old.name,
      extraPorts: spec.extraPorts ?? old.ports.filter((p) => ![22, 80, 443].includes(p)),
      diskGb: spec.diskGb ?? old.diskGb,
      publicIpv4: old.publicIpv4,
      privateIpv4: old.privateIpv4,
    });
  }

  async snapshot(container: string): Promise<string> {
    const inst = this.mustGet(container);
    const sid = shortId();
    const image = `${this.prefix}snapshot:${sid}`;
    const volume = `${this.prefix}snap-${sid}`;
    const running = await this.isRunning(container);
    await docker(['volume', 'create', '--label', `ddlab.prefix=${this.prefix}`, volume]);
    // crash-consistent like a live DigitalOcean snapshot: freeze the droplet while copying
    if (running) await docker(['pause', container]);
    try {
      await docker(['commit', '--pause=false', container, image]);
      const disk = `${container}-disk`;
      await docker(
        [
          'run',
          '--rm',
          '--name',
          `${this.prefix}copy-${sid}`,
          '--network',
          'none',
          '-v',
          `${disk}:/from:ro`,
          '-v',
          `${volume}:/to`,
          '--entrypoint',
          '/bin/sh',
          inst.image,
          '-c',
          `cp -a /from/. /to/ && rm -f /to/${FILL_FILE.split('/').pop()!}`,
        ],
        { timeoutMs: 10 * 60_000 },
      );
    } catch (e) {
      await docker(['volume', 'rm', '-f', volume], { allowFail: true });
      await docker(['rmi', '-f', image], { allowFail: true });
      throw e;
    } finally {
      if (running) await docker(['unpause', container], { allowFail: true });
    }
    const layer = Number((await docker(['image', 'inspect', '--format', '{{.Size}}', image])).stdout.trim()) || 0;
    const du = await docker(
      [
        'run',
        '--rm',
        '--name',
        `${this.prefix}du-${sid}`,
        '--network',
        'none',
        '-v',
        `${volume}:/v:ro`,
        '--entrypoint',
        '/bin/sh',
        inst.image,
        '-c',
        'du -sb /v | cut -f1',
      ],
      { allowFail: true },
    );
    const ref: SnapshotRef = {
      id: sid,
      image,
      volume,
      variant: inst.variant,
      sizeBytes: layer + (Number(du.stdout.trim()) || 0),
      createdAt: new Date().toISOString(),
    };
    this.snapshots.set(sid, ref);
    return sid;
  }

  snapshotInfo(id: string): SnapshotRef | undefined {
    return this.snapshots.get(id);
  }

  async deleteSnapshot(ref: SnapshotRef | string): Promise<void> {
    const r = typeof ref === 'string' ? this.snapshots.get(ref) : ref;
    if (!r) return;
    await docker(['volume', 'rm', '-f', r.volume], { allowFail: true });
    await docker(['rmi', '-f', r.image], { allowFail: true });
    this.snapshots.delete(r.id);
  }

  async exec(
    container: string,
    argv: string[],
    input?: string,
  ): Promise<{ code: number; stdout: string; stderr: string }> {
    return docker(['exec', ...(input !== undefined ? ['-i'] : []), container, ...argv], { input, allowFail: true });
  }

  async sshdDown(container: string, seconds: number): Promise<void> {
    this.mustGet(container);
    const s = Math.max(0, Math.round(seconds));
    // stop only the listener (as `systemctl stop ssh` would): running sessions stay
    const r = await docker(
      [
        'exec',
        container,
        '/bin/sh',
        '-c',
        `kill "$(cat /run/sshd.pid)" && (sleep ${s}; /usr/sbin/sshd -E /var/log/sshd.log) >/dev/null 2>&1 &`,
      ],
      { allowFail: true },
    );
    if (r.code !== 0) throw new Error(`sshdDown ${container}: ${r.stderr}`);
    await waitFor(
      `${container} sshd to stop`,
      async () => !(await sshBanner(this.mustGet(container).publicIpv4, 22, 500)),
      { timeoutMs: 10_000 },
    );
  }

  async diskFull(container: string, on = true): Promise<void> {
    this.mustGet(container);
    if (!on) {
      await this.diskFree(container);
      return;
    }
    if (!this.useLoop)
      throw new Error(
        'diskFull needs loop-mounted droplet disks (root + /dev/loop-control); this lab uses plain volumes',
      );
    // fallocate the free space, then top up with dd until ENOSPC (mkfs -m 0: no root reserve)
    const r = await docker(
      [
        'exec',
        container,
        '/bin/sh',
        '-c',
        `avail=$(df --output=avail -B1 ${DISK_MOUNT} | tail -1); fallocate -l "$avail" ${FILL_FILE} 2>/dev/null; ` +
          `dd if=/dev/zero of=${FILL_FILE}.2 bs=64k 2>/dev/null; sync; df --output=avail -B1 ${DISK_MOUNT} | tail -1`,
      ],
      { allowFail: true },
    );
    const avail = Number(r.stdout.trim().split('\n').pop());
    if (!(avail < 1024 * 1024)) throw new Error(`diskFull ${container}: still ${avail} bytes free: ${r.stderr}`);
  }

  async diskFree(container: string): Promise<void> {
    await docker(['exec', container, 'rm', '-f', FILL_FILE, `${FILL_FILE}.2`], { allowFail: true });
  }

  async destroyAll(): Promise<void> {
    await Promise.all([...this.droplets.keys()].map((c) => this.destroy(c)));
    await Promise.all([...this.snapshots.values()].map((s) => this.deleteSnapshot(s)));
  }
}

class FatalBootError extends Error {}

/** Detaches every loop device backed by `img`. */
export async function detachLoops(img: string): Promise<void> {
  const r = await run('/usr/sbin/losetup', ['--list', '-n', '-O', 'NAME', '-j', img], { allowFail: true });
  for (const dev of r.stdout
    .split('\n')
    .map((l) => l.trim())
    .filter(Boolean)) {
    await run('/usr/sbin/losetup', ['-d', dev], { allowFail: true });
  }
}

/** Removes disk images (and their loop devices) left in a lab data dir. */
export async function cleanupDisks(dataDir: string): Promise<void> {
  const dir = join(dataDir, 'disks');
  if (!existsSync(dir)) return;
  for (const f of readdirSync(dir)) {
    if (!f.endsWith('.img')) continue;
    await detachLoops(join(dir, f));
    rmSync(join(dir, f), { force: true });
  }
}
