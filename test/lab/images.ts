// Local images for the lab. No registry can be reached, so every image is a root filesystem
// made here (mmdebstrap or busybox-static) and `docker import`ed. Each image is tagged by a hash
// of everything that built it and is built only when that tag is missing.
import {
  existsSync,
  mkdirSync,
  readFileSync,
  readdirSync,
  rmSync,
  writeFileSync,
  copyFileSync,
  symlinkSync,
  chmodSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { DropletVariant } from './contract.js';
import { docker, log, run, sha256, sleep } from './util.js';

const HERE = dirname(fileURLToPath(import.meta.url));
/** Bump to force a rebuild of every image when the recipe code itself changes meaning. */
const RECIPE_VERSION = '3';
export const DEBIAN_MIRROR = process.env.LAB_DEBIAN_MIRROR ?? 'http://deb.debian.org/debian';

const DPKG_EXCLUDES = [
  'path-exclude=/usr/share/man/*',
  'path-exclude=/usr/share/doc/*',
  'path-include=/usr/share/doc/*/copyright',
  'path-exclude=/usr/share/locale/*',
  'path-include=/usr/share/locale/locale.alias',
  'path-exclude=/usr/share/info/*',
  'path-exclude=/usr/share/lintian/*',
];

interface DebianRecipe {
  kind: 'debian';
  name: string;
  suite: string;
  include: string[];
  /** image path → file under test/lab/ (copied in with mode preserved) */
  files: Record<string, string>;
  /** extra mmdebstrap --customize-hook shell snippets ("$1" is the root) */
  hooks: string[];
  changes: string[];
}

interface BusyboxRecipe {
  kind: 'busybox';
  name: string;
  files: Record<string, string>;
  changes: string[];
}

type Recipe = DebianRecipe | BusyboxRecipe;

const DROPLET_FILES: Record<string, string> = {
  '/usr/local/sbin/droplet-init': 'droplet/droplet-init',
  '/usr/local/lib/ddlab/cloud-init-run': 'droplet/cloud-init-run',
  '/usr/bin/cloud-init': 'droplet/cloud-init',
  '/etc/ssh/sshd_config.d/ddlab.conf': 'droplet/sshd-ddlab.conf',
};

const DROPLET_COMMON = [
  'openssh-server',
  'docker.io',
  'docker-compose',
  'curl',
  'ca-certificates',
  'iproute2',
  'procps',
  'mount',
  'util-linux',
  'passwd',
  'sudo',
  'rsync',
  'iptables',
  'netcat-openbsd',
  'less',
];

const DROPLET_HOOKS = [
  'rm -f "$1"/etc/ssh/ssh_host_*',
  'mkdir -p "$1"/etc/docker "$1"/etc/ddlab "$1"/var/lib/cloud',
  // the lab writes /etc/docker/daemon.json per droplet; keep a default for bare runs
  'printf \'{"storage-driver":"overlay2","shutdown-timeout":5}\\n\' > "$1"/etc/docker/daemon.json',
  'rm -f "$1"/etc/machine-id "$1"/var/lib/dbus/machine-id',
];

const DROPLET_CHANGES = ['ENTRYPOINT ["/usr/local/sbin/droplet-init"]', 'CMD []', 'ENV container=docker'];

export const RECIPES: Record<'dropletTrixie' | 'dropletBookworm' | 'web' | 'services', Recipe> = {
  dropletTrixie: {
    kind: 'debian',
    name: 'droplet-trixie',
    suite: 'trixie',
    // trixie: Docker Engine 26 and Compose v2 (`docker compose`, CLI plugin)
    include: [...DROPLET_COMMON, 'docker-cli'],
    files: DROPLET_FILES,
    hooks: DROPLET_HOOKS,
    changes: DROPLET_CHANGES,
  },
  dropletBookworm: {
    kind: 'debian',
    name: 'droplet-bookworm',
    suite: 'bookworm',
    // bookworm: Docker 20.10 and only Compose v1 (`docker-compose`), to exercise the fallback
    include: DROPLET_COMMON,
    files: DROPLET_FILES,
    hooks: DROPLET_HOOKS,
    changes: DROPLET_CHANGES,
  },
  web: {
    kind: 'busybox',
    name: 'web',
    files: {},
    changes: ['CMD ["/bin/busybox", "httpd", "-f", "-p", "80", "-h", "/www"]', 'EXPOSE 80', 'WORKDIR /'],
  },
  services: {
    kind: 'debian',
    name: 'services',
    suite: 'bookworm',
    include: [
      'postgresql-15',
      'postgresql-client-15',
      'redis-server',
      'nginx',
      'docker-registry',
      'curl',
      'ca-certificates',
      'procps',
      'iproute2',
      'netcat-openbsd',
      'util-linux',
    ],
    files: {
      '/usr/local/bin/lab-service': 'services-image/lab-service',
      '/etc/ddlab/registry.yml': 'services-image/registry.yml',
    },
    hooks: [
      'rm -f "$1"/etc/nginx/sites-enabled/default',
      'printf \'server {\\n  listen 80 default_server;\\n  location / { return 200 "ddlab nginx\\\\n"; }\\n}\\n\' > "$1"/etc/nginx/conf.d/default.conf',
      'mkdir -p "$1"/var/lib/docker-registry "$1"/var/lib/postgresql/data',
      // PostgreSQL's JIT pulls in LLVM + z3 (~130 MB); the lab does not need JIT
      'rm -rf "$1"/usr/lib/*-linux-gnu/libLLVM-*.so* "$1"/usr/lib/*-linux-gnu/libz3.so* "$1"/usr/lib/postgresql/15/lib/llvmjit* "$1"/usr/lib/postgresql/15/lib/bitcode',
    ],
    changes: [
      'ENTRYPOINT ["/usr/local/bin/lab-service"]',
      'CMD []',
      'ENV PATH=/usr/lib/postgresql/15/bin:/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin',
    ],
  },
};

/**
 * Images a lab does not start with, built when a test asks for one (`ensureImage('mariadb')`), then
 * pushed or loaded by that test. Adding one here costs other labs nothing.
 */
export const ON_DEMAND_RECIPES: Record<'mariadb', Recipe> = {
  mariadb: {
    kind: 'debian',
    name: 'mariadb',
    suite: 'bookworm',
    // MariaDB 10.11: mariadb, mariadb-dump and the mysql, mysqldump names of the same programs
    include: ['mariadb-server', 'mariadb-client', 'procps'],
    files: { '/usr/local/bin/lab-mariadb': 'mariadb-image/lab-mariadb' },
    hooks: [
      // the package's postinst initialised a data dir; an empty one lets the entrypoint set it up
      // with the given passwords (Docker would otherwise copy these files into a new volume)
      'rm -rf "$1"/var/lib/mysql && mkdir -p "$1"/var/lib/mysql "$1"/run/mysqld',
    ],
    changes: ['ENTRYPOINT ["/usr/local/bin/lab-mariadb"]', 'CMD ["mariadbd"]', 'EXPOSE 3306'],
  },
};

export type ImageKey = keyof typeof RECIPES;
export type OnDemandImageKey = keyof typeof ON_DEMAND_RECIPES;

export function recipeHash(r: Recipe): string {
  const files = Object.entries(r.files)
    .sort(([a], [b]) => a.localeCompare(b))
    .map(([dest, src]) => `${dest}\n${readFileSync(join(HERE, src), 'utf8')}`);
  const extra =
    r.kind === 'busybox' ? [readFileSync('/bin/busybox').length.toString()] : [DEBIAN_MIRROR, ...DPKG_EXCLUDES];
  return sha256(RECIPE_VERSION, JSON.stringify(r), ...files, ...extra).slice(0, 12);
}

const recipeOf = (key: ImageKey | OnDemandImageKey): Recipe =>
  key in RECIPES ? RECIPES[key as ImageKey] : ON_DEMAND_RECIPES[key as OnDemandImageKey];

export function imageTag(key: ImageKey | OnDemandImageKey): string {
  const r = recipeOf(key);
  return `ddlab/${r.name}:${recipeHash(r)}`;
}

async function imageExists(tag: string): Promise<boolean> {
  const r = await docker(['image', 'inspect', '--format', '{{.Id}}', tag], { allowFail: true });
  return r.code === 0;
}

const BUILD_ROOT = process.env.LAB_BUILD_DIR ?? join(tmpdir(), 'ddlab-build');

/** A lock per tag so two labs starting at once do not build the same image twice. */
async function withBuildLock<T>(tag: string, fn: () => Promise<T>): Promise<T> {
  mkdirSync(BUILD_ROOT, { recursive: true });
  const lock = join(BUILD_ROOT, `${tag.replace(/[/:]/g, '_')}.lock`);
  const deadline = Date.now() + 20 * 60_000;
  for (;;) {
    try {
      mkdirSync(lock);
      writeFileSync(join(lock, 'pid'), String(process.pid));
      break;
    } catch {
      let pid = 0;
      try {
        pid = Number(readFileSync(join(lock, 'pid'), 'utf8'));
      } catch {
        /* being created */
      }
      let alive = false;
      try {
        if (pid > 0) {
          process.kill(pid, 0);
          alive = true;
        }
      } catch {
        alive = false;
      }
      if (pid > 0 && !alive) rmSync(lock, { recursive: true, force: true });
      if (Date.now() > deadline) throw new Error(`timed out waiting for another build of ${tag}`);
      await sleep(1000);
    }
  }
  try {
    return await fn();
  } finally {
    rmSync(lock, { recursive: true, force: true });
  }
}

export interface BuildResult {
  tag: string;
  built: boolean;
  seconds: number;
}

async function buildDebian(r: DebianRecipe, tag: string, dir: string): Promise<void> {
  const stage = join(dir, 'stage');
  for (const [dest, src] of Object.entries(r.files)) {
    const to = join(stage, dest);
    mkdirSync(dirname(to), { recursive: true });
    copyFileSync(join(HERE, src), to);
    chmodSync(to, /\/(s?bin|lib\/ddlab)\//.test(dest) ? 0o755 : 0o644);
  }
  const tar = join(dir, 'rootfs.tar');
  const args = [
    '--variant=apt',
    '--mode=root',
    '--format=tar',
    '--hook-dir=/usr/share/mmdebstrap/hooks/merged-usr',
    `--include=${r.include.join(',')}`,
    ...DPKG_EXCLUDES.map((o) => `--dpkgopt=${o}`),
    '--aptopt=Acquire::Retries "3"',
    `--customize-hook=sync-in ${stage} /`,
    ...r.hooks.map((h) => `--customize-hook=${h}`),
    r.suite,
    tar,
    DEBIAN_MIRROR,
  ];
  let lastShown = 0;
  const started = Date.now();
  await run('mmdebstrap', args, {
    timeoutMs: 20 * 60_000,
    onStderr: (chunk) => {
      for (const line of chunk.split('\n')) {
        // mmdebstrap prints "I: ..." phase lines; show them (rate-limited) as progress
        if (/^I: /.test(line) && Date.now() - lastShown > 2000) {
          lastShown = Date.now();
          log(`  ${r.name} +${Math.round((Date.now() - started) / 1000)}s ${line.slice(3, 100)}`);
        }
      }
    },
  });
  await docker(['import', ...r.changes.flatMap((c) => ['--change', c]), tar, tag], { timeoutMs: 5 * 60_000 });
}

async function buildBusybox(r: BusyboxRecipe, tag: string, dir: string): Promise<void> {
  const root = join(dir, 'root');
  for (const d of [
    'bin',
    'sbin',
    'usr/bin',
    'usr/sbin',
    'www',
    'tmp',
    'etc',
    'proc',
    'sys',
    'dev',
    'root',
    'var/log',
  ]) {
    mkdirSync(join(root, d), { recursive: true });
  }
  chmodSync(join(root, 'tmp'), 0o1777);
  copyFileSync('/bin/busybox', join(root, 'bin/busybox'));
  chmodSync(join(root, 'bin/busybox'), 0o755);
  const list = (await run('/bin/busybox', ['--list-full'])).stdout.split('\n').filter(Boolean);
  for (const applet of list) {
    const p = join(root, applet);
    if (p === join(root, 'bin/busybox') || existsSync(p)) continue;
    mkdirSync(dirname(p), { recursive: true });
    const depth = applet.split('/').length - 1;
    symlinkSync(`${'../'.repeat(depth)}bin/busybox`, p);
  }
  writeFileSync(join(root, 'etc/passwd'), 'root:x:0:0:root:/root:/bin/sh\nnobody:x:65534:65534:nobody:/:/bin/false\n');
  writeFileSync(join(root, 'etc/group'), 'root:x:0:\nnogroup:x:65534:\n');
  writeFileSync(join(root, 'www/index.html'), 'ddlab web\n');
  writeFileSync(join(root, 'www/health'), 'ok\n');
  for (const [dest, src] of Object.entries(r.files)) copyFileSync(join(HERE, src), join(root, dest));
  const tar = join(dir, 'rootfs.tar');
  await run('tar', ['--numeric-owner', '--owner=0', '--group=0', '-C', root, '-cf', tar, '.']);
  await docker(['import', ...r.changes.flatMap((c) => ['--change', c]), tar, tag]);
}

/** Removes older builds of an image (rmi without -f: images still in use stay). */
async function removeStaleTags(repo: string, keep: string): Promise<void> {
  const tags = (await docker(['images', '--format', '{{.Repository}}:{{.Tag}}', repo], { allowFail: true })).stdout
    .split('\n')
    .map((s) => s.trim())
    .filter((s) => s && s !== keep);
  for (const t of tags) await docker(['rmi', t], { allowFail: true });
}

/** Builds one image unless its tag exists already. */
export async function ensureImage(key: ImageKey | OnDemandImageKey): Promise<BuildResult> {
  const r = recipeOf(key);
  const tag = imageTag(key);
  const started = Date.now();
  if (await imageExists(tag)) return { tag, built: false, seconds: 0 };
  return withBuildLock(tag, async () => {
    if (await imageExists(tag)) return { tag, built: false, seconds: (Date.now() - started) / 1000 };
    log(`building image ${tag} (${r.kind === 'debian' ? `mmdebstrap ${r.suite}` : 'busybox-static'})`);
    const dir = join(BUILD_ROOT, `${r.name}-${process.pid}-${Date.now()}`);
    mkdirSync(dir, { recursive: true });
    try {
      if (r.kind === 'debian') await buildDebian(r, tag, dir);
      else await buildBusybox(r, tag, dir);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
    const seconds = (Date.now() - started) / 1000;
    log(`built ${tag} in ${seconds.toFixed(1)} s`);
    await removeStaleTags(`ddlab/${r.name}`, tag);
    return { tag, built: true, seconds };
  });
}

export interface LabImages {
  droplet: Record<DropletVariant, string>;
  web: string;
  services: string;
  builds: Record<ImageKey, BuildResult>;
}

/**
 * Ensures every lab image exists. Debian builds run in parallel by default (downloads of one
 * overlap dpkg of another); LAB_BUILD_SERIAL=1 builds one at a time.
 */
export async function ensureImages(): Promise<LabImages> {
  const keys = Object.keys(RECIPES) as ImageKey[];
  const builds = {} as Record<ImageKey, BuildResult>;
  if (process.env.LAB_BUILD_SERIAL === '1') {
    for (const k of keys) builds[k] = await ensureImage(k);
  } else {
    const results = await Promise.all(keys.map((k) => ensureImage(k)));
    keys.forEach((k, i) => (builds[k] = results[i]!));
  }
  return {
    droplet: { trixie: builds.dropletTrixie.tag, bookworm: builds.dropletBookworm.tag },
    web: builds.web.tag,
    services: builds.services.tag,
    builds,
  };
}

/** Image tags of every recipe as currently defined (for cleanup of stale ones). */
export function currentImageTags(): string[] {
  return (Object.keys(RECIPES) as ImageKey[]).map(imageTag);
}

export function listBuildDirs(): string[] {
  return existsSync(BUILD_ROOT) ? readdirSync(BUILD_ROOT) : [];
}
