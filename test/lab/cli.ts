// npm run lab -- up | env | down | status
//   up    starts a lab in a detached background process (idempotent: reuses a healthy one) and
//         prints its LabEnv, one NAME=value per line, nothing else on stdout.
//   env   prints the LabEnv of the running lab (exit 1 if none).
//   down  tears the lab down (its holder process, then everything named with its prefix).
//   purge down + remove the caches labs share (ddlab/* images, registry seed volume).
//   status one JSON line on stderr.
// LAB_DIR (default /tmp/ddlab) holds state.json and lab.log.
import { spawn } from 'node:child_process';
import {
  closeSync,
  existsSync,
  mkdirSync,
  openSync,
  readSync,
  readdirSync,
  rmSync,
  statSync,
  writeFileSync,
} from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { LAB_DIR, downLab, formatEnv, labHealthy, pidAlive, readState, startLab, writeState } from './lab.js';
import { docker, log, sleep } from './util.js';

const LOG = join(LAB_DIR, 'lab.log');

async function withLock<T>(fn: () => Promise<T>): Promise<T> {
  mkdirSync(LAB_DIR, { recursive: true, mode: 0o700 });
  const lock = join(LAB_DIR, 'cli.lock');
  for (let i = 0; ; i++) {
    try {
      mkdirSync(lock);
      break;
    } catch {
      let stale = false;
      try {
        stale = Date.now() - statSync(lock).mtimeMs > 20 * 60_000;
      } catch {
        /* gone */
      }
      if (stale) rmSync(lock, { recursive: true, force: true });
      if (i > 20 * 60 * 4) throw new Error(`${lock} is held by another lab command`);
      await sleep(250);
    }
  }
  try {
    return await fn();
  } finally {
    rmSync(lock, { recursive: true, force: true });
  }
}

/** Forwards new lines of the daemon's log to stderr while waiting. */
function follow(file: string): () => void {
  let pos = existsSync(file) ? statSync(file).size : 0;
  const timer = setInterval(() => {
    try {
      const size = statSync(file).size;
      if (size > pos) {
        const fd = openSync(file, 'r');
        const buf = Buffer.alloc(size - pos);
        readSync(fd, buf, 0, buf.length, pos);
        closeSync(fd);
        pos = size;
        process.stderr.write(buf);
      }
    } catch {
      /* not yet */
    }
  }, 300);
  return () => clearInterval(timer);
}

const USERS = join(LAB_DIR, 'users');

/** Test runs using the lab (pid files), so an ephemeral lab goes down after the last one. */
function liveUsers(except?: number): number[] {
  if (!existsSync(USERS)) return [];
  return readdirSync(USERS)
    .map(Number)
    .filter((pid) => pid > 0 && pid !== except && pidAlive(pid));
}

/**
 * up [--ephemeral --user <pid>]: --ephemeral marks a lab started for a test run (global setup);
 * a plain `up` on such a lab makes it permanent (someone wants it kept).
 */
async function up(args: string[]): Promise<void> {
  const ephemeral = args.includes('--ephemeral');
  const userIdx = args.indexOf('--user');
  const user = userIdx >= 0 ? Number(args[userIdx + 1]) : 0;
  const env = await withLock(async () => {
    if (user > 0) {
      mkdirSync(USERS, { recursive: true });
      writeFileSync(join(USERS, String(user)), '');
    }
    const healthy = await labHealthy();
    if (healthy?.env) {
      if (!ephemeral && healthy.info.ephemeral) writeState({ ...healthy, info: { ...healthy.info, ephemeral: false } });
      return healthy.env;
    }
    if (readState()) {
      log('a previous lab is not healthy; tearing it down first');
      await downLab();
    }
    mkdirSync(LAB_DIR, { recursive: true, mode: 0o700 });
    const started = Date.now();
    const out = openSync(LOG, 'a');
    const child = spawn(
      process.execPath,
      ['--import', 'tsx', fileURLToPath(import.meta.url), '__hold', ...(ephemeral ? ['--ephemeral'] : [])],
      {
        detached: true,
        stdio: ['ignore', out, out],
        env: {
          ...process.env,
          NODE_OPTIONS: [process.env.NODE_OPTIONS, '--openssl-legacy-provider'].filter(Boolean).join(' '),
        },
        cwd: process.cwd(),
      },
    );
    child.unref();
    closeSync(out);
    const stop = follow(LOG);
    try {
      const deadline = Date.now() + 25 * 60_000;
      for (;;) {
        const s = readState();
        const mine = s !== undefined && s.info.pid === child.pid;
        if (mine && s.status === 'ready' && s.env) return s.env;
        if (mine && s.status === 'failed') throw new Error(`lab failed to start: ${s.error ?? '?'} (log: ${LOG})`);
        if (!pidAlive(child.pid)) throw new Error(`lab process exited before it was ready (log: ${LOG})`);
        if (Date.now() > deadline) throw new Error(`lab not ready after 25 min (log: ${LOG})`);
        await sleep(250);
      }
    } finally {
      stop();
      log(`lab up in ${((Date.now() - started) / 1000).toFixed(1)} s`);
    }
  });
  process.stdout.write(formatEnv(env));
}

/** release <pid>: a test run is done; an ephemeral lab goes down when no other run uses it. */
async function release(pid: number): Promise<void> {
  await withLock(async () => {
    rmSync(join(USERS, String(pid)), { force: true });
    const s = readState();
    const others = liveUsers(pid);
    if (s?.info.ephemeral && others.length === 0) {
      const r = await downLab();
      rmSync(USERS, { recursive: true, force: true });
      log(`ephemeral lab down in ${r.seconds.toFixed(1)} s`);
    } else if (s) {
      log(
        `lab ${s.info.id} stays up (${s.info.ephemeral ? `${others.length} other test run(s) use it` : 'started by hand'})`,
      );
    }
  });
}

async function hold(args: string[]): Promise<void> {
  const lab = await startLab({ ephemeral: args.includes('--ephemeral') });
  let stopping = false;
  const stop = async (sig: string): Promise<void> => {
    if (stopping) return;
    stopping = true;
    log(`${sig}: stopping lab ${lab.info.id}`);
    try {
      await lab.stop();
    } finally {
      process.exit(0);
    }
  };
  process.on('SIGTERM', () => void stop('SIGTERM'));
  process.on('SIGINT', () => void stop('SIGINT'));
  process.on('SIGHUP', () => undefined);
  // keep the event loop alive (the API fake's server does too; this is belt and braces)
  setInterval(() => undefined, 1 << 30);
}

async function main(): Promise<void> {
  const cmd = process.argv[2] ?? 'help';
  switch (cmd) {
    case 'up':
      await up(process.argv.slice(3));
      break;
    case 'release':
      await release(Number(process.argv[3]));
      break;
    case 'env': {
      const s = await labHealthy();
      if (!s?.env) {
        process.stderr.write(`no running lab in ${LAB_DIR} (npm run lab -- up)\n`);
        process.exit(1);
      }
      process.stdout.write(formatEnv(s.env));
      break;
    }
    case 'status': {
      const s = readState();
      const line = s
        ? JSON.stringify({
            status: s.status,
            id: s.info.id,
            pid: s.info.pid,
            alive: pidAlive(s.info.pid),
            timings: s.info.timings,
          })
        : 'no lab';
      process.stderr.write(`${line}\n`);
      break;
    }
    case 'down': {
      const r = await withLock(() => downLab());
      rmSync(USERS, { recursive: true, force: true });
      log(`down in ${r.seconds.toFixed(1)} s`);
      break;
    }
    case 'purge': {
      // caches shared by labs: the ddlab/* images and the registry seed volume
      const r = await withLock(() => downLab());
      log(`down in ${r.seconds.toFixed(1)} s`);
      const images = (
        await docker(['images', '--format', '{{.Repository}}:{{.Tag}}', '--filter', 'reference=ddlab/*'], {
          allowFail: true,
        })
      ).stdout
        .split('\n')
        .filter(Boolean);
      if (images.length) await docker(['rmi', ...images], { allowFail: true });
      const vols = (await docker(['volume', 'ls', '-q', '--filter', 'name=ddlab-cache-'], { allowFail: true })).stdout
        .split('\n')
        .filter(Boolean);
      if (vols.length) await docker(['volume', 'rm', ...vols], { allowFail: true });
      log(`purged ${images.length} images, ${vols.length} cache volumes (images in use by other containers stay)`);
      break;
    }
    case '__hold':
      await hold(process.argv.slice(3));
      break;
    default:
      process.stderr.write('usage: npm run -s lab -- up|env|down|status|purge\n');
      process.exit(2);
  }
}

main().catch((e: unknown) => {
  process.stderr.write(`lab: ${e instanceof Error ? e.message : String(e)}\n`);
  process.exit(1);
});
