// Host set-up for the lab: the Debian packages it needs and a running Docker engine.
// When something is missing and we are root on Debian/Ubuntu, install it and start dockerd;
// elsewhere say exactly what to install.
import { spawn } from 'node:child_process';
import { existsSync, mkdirSync, openSync, readFileSync, closeSync } from 'node:fs';
import { dirname } from 'node:path';
import { DOCKER, log, run, waitFor } from './util.js';

/** Debian package → a file that proves it is installed. */
export const HOST_PACKAGES: Record<string, string> = {
  'docker.io': '/usr/sbin/dockerd',
  mmdebstrap: '/usr/bin/mmdebstrap',
  'openssh-client': '/usr/bin/ssh-keygen',
  'busybox-static': '/bin/busybox',
  'ca-certificates': '/etc/ssl/certs/ca-certificates.crt',
  'debian-archive-keyring': '/usr/share/keyrings/debian-archive-keyring.gpg',
  iptables: '/usr/sbin/iptables',
};

export const DOCKERD_LOG = process.env.LAB_DOCKERD_LOG ?? '/var/log/ddlab-dockerd.log';

async function dockerAnswers(): Promise<boolean> {
  if (!existsSync(DOCKER)) return false;
  const r = await run(DOCKER, ['info', '--format', '{{.ServerVersion}}'], { allowFail: true, timeoutMs: 15_000 });
  return r.code === 0 && r.stdout.trim() !== '';
}

function isStaticBusybox(): boolean {
  // busybox (dynamic) also installs /bin/busybox; the web image needs the static one.
  return existsSync('/var/lib/dpkg/info/busybox-static.list') || !existsSync('/var/lib/dpkg/info');
}

/** Packages only needed to run our own dockerd (skipped when a Docker engine answers already,
 * e.g. docker-ce on a CI runner, where installing docker.io would conflict). */
const ENGINE_PACKAGES = new Set(['docker.io', 'iptables']);

export function missingPackages(engineRunning = false): string[] {
  const missing = Object.entries(HOST_PACKAGES)
    .filter(([pkg]) => !(engineRunning && ENGINE_PACKAGES.has(pkg)))
    .filter(([pkg, file]) => !existsSync(file) && !(pkg === 'docker.io' && existsSync('/usr/bin/dockerd')))
    .map(([pkg]) => pkg);
  if (!missing.includes('busybox-static') && !isStaticBusybox()) missing.push('busybox-static');
  return missing;
}

function isDebianLike(): boolean {
  if (existsSync('/etc/debian_version')) return true;
  try {
    return /^ID(_LIKE)?=.*(debian|ubuntu)/m.test(readFileSync('/etc/os-release', 'utf8'));
  } catch {
    return false;
  }
}

const isRoot = (): boolean => typeof process.getuid === 'function' && process.getuid() === 0;

function instructions(missing: string[], dockerDown: boolean): string {
  const lines = ['The lab needs a Linux host with these Debian packages and a running Docker engine:'];
  lines.push(`  apt-get install --no-install-recommends ${Object.keys(HOST_PACKAGES).join(' ')}`);
  if (missing.length) lines.push(`Missing now: ${missing.join(', ')}.`);
  if (dockerDown)
    lines.push(`Docker does not answer (${DOCKER} info failed): start it, e.g. \`dockerd >${DOCKERD_LOG} 2>&1 &\`.`);
  lines.push('Run as root on Debian/Ubuntu and the lab installs and starts these itself.');
  return lines.join('\n');
}

let ready: Promise<void> | undefined;

/** Makes sure the host can run the lab; idempotent and cheap once done. */
export function ensureHostReady(): Promise<void> {
  ready ??= doEnsureHostReady().catch((e: unknown) => {
    ready = undefined;
    throw e;
  });
  return ready;
}

async function doEnsureHostReady(): Promise<void> {
  const up = await dockerAnswers();
  const missing = missingPackages(up);
  if (missing.length === 0 && up) return;
  if (process.platform !== 'linux' || !isRoot() || !isDebianLike()) {
    throw new Error(instructions(missing, !up));
  }
  if (missing.length) {
    log(`installing host packages: ${missing.join(' ')} (apt-get)`);
    const env = { ...process.env, DEBIAN_FRONTEND: 'noninteractive' };
    await run('apt-get', ['update'], { env, timeoutMs: 300_000 });
    await run('apt-get', ['install', '-y', '--no-install-recommends', ...missing], { env, timeoutMs: 900_000 });
    const still = missingPackages(up);
    if (still.length) throw new Error(`apt-get install finished but still missing: ${still.join(', ')}`);
  }
  if (await dockerAnswers()) return;
  await startDockerd();
}

async function startDockerd(): Promise<void> {
  const pidFile = '/var/run/docker.pid';
  let alreadyStarting = false;
  if (existsSync(pidFile)) {
    const pid = Number(readFileSync(pidFile, 'utf8').trim());
    try {
      if (pid > 0) {
        process.kill(pid, 0);
        alreadyStarting = true; // another process started it; just wait for it
      }
    } catch {
      /* stale pid file: dockerd removes/overwrites it */
    }
  }
  if (!alreadyStarting) {
    mkdirSync(dirname(DOCKERD_LOG), { recursive: true });
    const fd = openSync(DOCKERD_LOG, 'a');
    log(`starting dockerd in the background (log: ${DOCKERD_LOG})`);
    const bin = existsSync('/usr/sbin/dockerd') ? '/usr/sbin/dockerd' : '/usr/bin/dockerd';
    const child = spawn(bin, [], { detached: true, stdio: ['ignore', fd, fd] });
    child.unref();
    closeSync(fd);
  }
  await waitFor('dockerd to answer', async () => (await dockerAnswers()) || undefined, {
    timeoutMs: 60_000,
    intervalMs: 500,
  }).catch((e: unknown) => {
    let tail = '';
    try {
      tail = readFileSync(DOCKERD_LOG, 'utf8').split('\n').slice(-15).join('\n');
    } catch {
      /* no log */
    }
    throw new Error(`${(e as Error).message}\nlast lines of ${DOCKERD_LOG}:\n${tail}`);
  });
  log('dockerd is up');
}
