// The deploy lock on a droplet: `mkdir <app>/.lock` is atomic, so exactly one deploy
// holds it. The holder writes who it is (repo, run, actor, sha, time, token) into the
// lock, touches it while it works (heartbeat), and removes it when done — or the
// action's post step does, even after a cancel. A lock whose heartbeat is older than
// `staleAfterMs` (by the droplet's own clock) is taken over.

import type { Logger } from '../action/logger.js';
import { and, cmd, redirect, type Script, seq } from '../commands/cmd.js';
import { realSleep } from '../retry.js';
import type { RemoteHost } from '../ssh/executor.js';

export interface LockHolder {
  repo: string;
  runId: string;
  runAttempt?: string;
  actor: string;
  sha: string;
  /** ISO time the lock was taken (runner clock). */
  time: string;
  /** Random per action run: only its owner (or staleness) releases a lock. */
  token: string;
  /** e.g. "deploy-compose" */
  action: string;
  /** The holder's own stale-after: it heartbeats at a third of it; waiters judge staleness by it. */
  staleAfterSeconds?: number;
}

/** The GitHub run taking a lock (deploy-compose's `context`). */
export interface LockRun {
  repo: string;
  runId: string;
  runAttempt?: string;
  actor: string;
  sha: string;
}

/** The holder record a run of `action` writes into the lock: who, when (runner clock), its token. */
export function lockHolder(
  run: LockRun,
  o: { action: string; token: string; now: number; staleAfterMs: number },
): LockHolder {
  return {
    repo: run.repo,
    runId: run.runId,
    ...(run.runAttempt ? { runAttempt: run.runAttempt } : {}),
    actor: run.actor,
    sha: run.sha,
    time: new Date(o.now).toISOString(),
    token: o.token,
    action: o.action,
    staleAfterSeconds: Math.round(o.staleAfterMs / 1000),
  };
}

export interface LockOptions {
  /** The lock directory, e.g. /opt/shop/.lock (its parent must exist). */
  dir: string;
  holder: LockHolder;
  /** How long to wait for another holder before failing. 0: fail at once. */
  timeoutMs: number;
  /**
   * A lock whose last heartbeat is older than this is stale and taken over (the holder's own
   * value, written in its holder.json, wins: it is the one that promised the heartbeats).
   */
  staleAfterMs: number;
  /** Time between checks while waiting. */
  intervalMs?: number;
  onWait?: (holder: LockHolder | undefined, heldForSeconds: number) => void;
  onStaleTakeover?: (holder: LockHolder | undefined, ageSeconds: number) => void;
  now?: () => number;
  sleep?: (ms: number) => Promise<void>;
}

export const holderFile = (dir: string): string => `${dir}/holder.json`;

/** Creates the parent, then the lock itself (atomic), then writes the holder from stdin. */
export function takeLockScript(dir: string): Script {
  const parent = dir.replace(/\/[^/]+\/?$/, '') || '/';
  return and(cmd('mkdir', '-p', parent), cmd('mkdir', dir), redirect(cmd('cat'), '>', holderFile(dir)));
}

/**
 * Takes the lock as the first part of a bigger script: the parent, then the lock itself
 * (atomic). The same script then moves the holder in (moveHolderScript) from a file it
 * unpacked (a release archive on stdin carries it, so the holder needs no stdin of its own).
 */
export function takeLockDirScript(dir: string): Script {
  const parent = dir.replace(/\/[^/]+\/?$/, '') || '/';
  return and(cmd('mkdir', '-p', parent), cmd('mkdir', dir));
}

/** The second half of takeLockDirScript, once the holder file is unpacked. */
export function moveHolderScript(dir: string, holderPath: string): Script {
  return cmd('mv', '-f', holderPath, holderFile(dir));
}

/** Whether a failed take (stderr) means the lock is held by someone else. */
export function lockIsHeld(stderr: string): boolean {
  return /exists/i.test(stderr);
}

/**
 * A held lock in one round trip: the droplet's clock, the lock's last heartbeat (absent when
 * the lock is gone) and its holder (absent when not written yet), one a line (parseLockStatus).
 */
export function lockStatusScript(dir: string): Script {
  return seq(
    cmd('date', '+%s'),
    redirect(cmd('stat', '-c', '%Y', dir), '2>', '/dev/null'),
    redirect(cmd('cat', holderFile(dir)), '2>', '/dev/null'),
  );
}

export interface LockStatus {
  holder: LockHolder | undefined;
  /** Seconds since the last heartbeat by the droplet's clock; undefined when the lock is gone. */
  ageSeconds: number | undefined;
}

export function parseLockStatus(stdout: string): LockStatus {
  const [now = '', ...rest] = stdout.split('\n');
  if (!/^\d+$/.test(now.trim())) throw new Error(`could not read the droplet's clock: ${JSON.stringify(now)}`);
  const heartbeat = /^\d+$/.test(rest[0]?.trim() ?? '') ? Number(rest.shift()) : undefined;
  return {
    holder: parseHolder(rest.join('\n')),
    ageSeconds: heartbeat === undefined ? undefined : Number(now.trim()) - heartbeat,
  };
}

/** Moves a stale lock aside only if it still belongs to the holder we judged stale. */
export function takeOverScript(dir: string, staleToken: string | undefined, nonce: string): Script {
  const aside = `${dir}.stale-${nonce}`;
  const move = and(cmd('mv', '-T', dir, aside), cmd('rm', '-rf', aside));
  return staleToken ? and(cmd('grep', '-qF', staleToken, holderFile(dir)), move) : move;
}

/** Removes the lock only when it holds our token. */
export function releaseScript(dir: string, token: string): Script {
  return and(cmd('grep', '-qF', token, holderFile(dir)), cmd('rm', '-rf', dir));
}

export function heartbeatScript(dir: string): Script {
  return cmd('touch', '-c', dir);
}

export class LockTimeoutError extends Error {
  override readonly name = 'LockTimeoutError';
  constructor(
    readonly host: string,
    readonly dir: string,
    readonly holder: LockHolder | undefined,
    waitedMs: number,
  ) {
    super(
      `${dir} is held by ${describeHolder(holder)}; waited ${Math.round(waitedMs / 1000)}s ("lock-timeout"). ` +
        'Another deploy is running; try again when it is done, or raise "lock-timeout".',
    );
  }
}

export function describeHolder(holder: LockHolder | undefined): string {
  if (!holder) return 'a deploy whose details are not written yet';
  const run = holder.runId ? `run ${holder.runId}${holder.runAttempt ? `.${holder.runAttempt}` : ''}` : 'a run';
  return `${holder.actor || 'someone'} (${holder.action} ${run} of ${holder.repo || 'an unknown repository'}, sha ${holder.sha.slice(0, 7) || '?'}, since ${holder.time})`;
}

/** What a lock taker logs while it waits for another holder or takes over a stale lock. */
export function lockWaitLog(
  log: Pick<Logger, 'info' | 'warn'>,
  prefix = '',
): Required<Pick<LockOptions, 'onWait' | 'onStaleTakeover'>> {
  return {
    onWait: (h, age) =>
      log.info(`${prefix}waiting for the deploy lock, held by ${describeHolder(h)} (last heartbeat ${age}s ago)`),
    onStaleTakeover: (h, age) =>
      log.warn(`${prefix}taking over a stale deploy lock held by ${describeHolder(h)} (no heartbeat for ${age}s)`),
  };
}

export function parseHolder(text: string): LockHolder | undefined {
  try {
    const value = JSON.parse(text) as Partial<LockHolder>;
    if (typeof value.token !== 'string') return undefined;
    return {
      repo: String(value.repo ?? ''),
      runId: String(value.runId ?? ''),
      ...(value.runAttempt ? { runAttempt: String(value.runAttempt) } : {}),
      actor: String(value.actor ?? ''),
      sha: String(value.sha ?? ''),
      time: String(value.time ?? ''),
      token: value.token,
      action: String(value.action ?? ''),
      ...(typeof value.staleAfterSeconds === 'number' ? { staleAfterSeconds: value.staleAfterSeconds } : {}),
    };
  } catch {
    return undefined;
  }
}

export interface HeldLock {
  dir: string;
  token: string;
  /** Stops the heartbeat and removes the lock if it is still ours. */
  release(): Promise<boolean>;
  /**
   * Stops the heartbeat and gives the release command, to run as the last part of a bigger
   * script (one round trip less); call released() once that script said it ran.
   */
  handOff(): Script;
  released(): void;
}

/** Takes the lock, waiting (and taking over a stale one) as the options say. */
export async function acquireLock(host: RemoteHost, options: LockOptions): Promise<HeldLock> {
  const now = options.now ?? Date.now;
  const sleep = options.sleep ?? realSleep;
  const interval = options.intervalMs ?? 2000;
  const started = now();
  let lastHolder: LockHolder | undefined;
  let attempt = 0;
  for (;;) {
    attempt += 1;
    const made = await host.run(takeLockScript(options.dir), {
      allowFailure: true,
      stdin: `${JSON.stringify(options.holder)}\n`,
      timeoutMs: 30_000,
    });
    if (made.code === 0) return holdLock(host, options);
    if (!lockIsHeld(made.stderr)) {
      throw new Error(`could not create the lock ${options.dir}: ${made.stderr.trim() || `exit ${made.code}`}`);
    }
    const status = await host.run(lockStatusScript(options.dir), { allowFailure: true, timeoutMs: 30_000 });
    const { holder, ageSeconds: age } = parseLockStatus(status.stdout);
    lastHolder = holder;
    if (age === undefined) continue; // released since our take failed: try again at once
    const staleAfterMs =
      lastHolder?.staleAfterSeconds !== undefined ? lastHolder.staleAfterSeconds * 1000 : options.staleAfterMs;
    if (age * 1000 > staleAfterMs) {
      options.onStaleTakeover?.(lastHolder, age);
      await host.run(takeOverScript(options.dir, lastHolder?.token, `${options.holder.token}-${attempt}`), {
        allowFailure: true,
        timeoutMs: 30_000,
      });
      continue;
    }
    const waited = now() - started;
    if (waited + interval > options.timeoutMs) throw new LockTimeoutError(host.label, options.dir, lastHolder, waited);
    options.onWait?.(lastHolder, age);
    await sleep(interval);
  }
}

/** A lock this run has just taken (by acquireLock or as part of a bigger script): heartbeats until released. */
export function holdLock(host: RemoteHost, options: Pick<LockOptions, 'dir' | 'holder' | 'staleAfterMs'>): HeldLock {
  const every = Math.max(1000, Math.min(60_000, Math.floor(options.staleAfterMs / 3)));
  let beating: Promise<unknown> = Promise.resolve();
  const timer = setInterval(() => {
    beating = host.run(heartbeatScript(options.dir), { allowFailure: true, timeoutMs: 30_000 }).catch(() => undefined);
  }, every);
  timer.unref();
  let released = false;
  return {
    dir: options.dir,
    token: options.holder.token,
    handOff() {
      clearInterval(timer);
      return releaseScript(options.dir, options.holder.token);
    },
    released() {
      released = true;
    },
    async release() {
      clearInterval(timer);
      await beating;
      if (released) return true;
      const r = await host.run(releaseScript(options.dir, options.holder.token), {
        allowFailure: true,
        timeoutMs: 30_000,
      });
      released = r.code === 0;
      return released;
    },
  };
}

/** For the post step: removes the lock if it still holds `token`. */
export async function releaseLockByToken(host: RemoteHost, dir: string, token: string): Promise<boolean> {
  const r = await host.run(releaseScript(dir, token), { allowFailure: true, timeoutMs: 30_000 });
  return r.code === 0;
}
