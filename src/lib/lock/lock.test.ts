import { describe, expect, it } from 'vitest';

import { FakeHost } from '../../../test/support/fake-host.js';
import { render } from '../commands/cmd.js';
import {
  acquireLock,
  holdLock,
  type LockHolder,
  lockHolder,
  lockIsHeld,
  LockTimeoutError,
  lockWaitLog,
  moveHolderScript,
  parseLockStatus,
  releaseLockByToken,
  takeLockDirScript,
} from './lock.js';
import { fakeClock } from '../../../test/support/fake-clock.js';

const holder: LockHolder = {
  repo: 'acme/shop',
  runId: '42',
  runAttempt: '1',
  actor: 'alice',
  sha: '3f2a1c9e',
  time: '2026-11-22T02:00:00.000Z',
  token: 'tok-alice',
  action: 'deploy-compose',
};
const TAKE = 'mkdir -p /opt/shop && mkdir /opt/shop/.lock && { cat > /opt/shop/.lock/holder.json; }';
const other: LockHolder = { ...holder, actor: 'bob', runId: '41', token: 'tok-bob', sha: 'aaaaaaa1' };
/** A held lock looked at in one round trip: the droplet's clock, the last heartbeat, the holder. */
const STATUS =
  'date +%s ; { stat -c %Y /opt/shop/.lock 2> /dev/null; } ; { cat /opt/shop/.lock/holder.json 2> /dev/null; }';
const status = (now: number, heartbeat: number | undefined, h: LockHolder | undefined): string =>
  [now, ...(heartbeat === undefined ? [] : [heartbeat]), ...(h ? [JSON.stringify(h)] : [])].join('\n') + '\n';

describe('deploy lock', () => {
  it('takes a free lock with one mkdir and writes the holder', async () => {
    const host = new FakeHost();
    const lock = await acquireLock(host, { dir: '/opt/shop/.lock', holder, timeoutMs: 0, staleAfterMs: 60_000 });
    expect(host.commands()).toEqual([
      'mkdir -p /opt/shop && mkdir /opt/shop/.lock && { cat > /opt/shop/.lock/holder.json; }',
    ]);
    expect(JSON.parse(host.calls[0]?.stdin ?? '')).toEqual(holder);
    expect(await lock.release()).toBe(true);
    expect(host.commands().at(-1)).toBe('grep -qF tok-alice /opt/shop/.lock/holder.json && rm -rf /opt/shop/.lock');
  });

  it('waits for a held lock, then fails naming the holder', async () => {
    const c = fakeClock();
    const host = new FakeHost()
      .on(TAKE, { code: 1, stderr: "mkdir: cannot create directory '/opt/shop/.lock': File exists" })
      .on(STATUS, { stdout: status(1010, 1000, other) });
    const waits: string[] = [];
    const error = await acquireLock(host, {
      dir: '/opt/shop/.lock',
      holder,
      timeoutMs: 10_000,
      staleAfterMs: 60_000,
      intervalMs: 2000,
      onWait: (h) => waits.push(h?.actor ?? '?'),
      ...c,
    }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(LockTimeoutError);
    expect((error as Error).message).toBe(
      '/opt/shop/.lock is held by bob (deploy-compose run 41.1 of acme/shop, sha aaaaaaa, since 2026-11-22T02:00:00.000Z); ' +
        'waited 10s ("lock-timeout"). Another deploy is running; try again when it is done, or raise "lock-timeout".',
    );
    expect(waits.length).toBe(5);
  });

  it('proceeds when the holder releases while we wait', async () => {
    const c = fakeClock();
    const host = new FakeHost()
      .on(TAKE, { code: 1, stderr: 'File exists' }, 2)
      .on(STATUS, { stdout: status(1001, 1000, other) });
    const lock = await acquireLock(host, {
      dir: '/opt/shop/.lock',
      holder,
      timeoutMs: 60_000,
      staleAfterMs: 60_000,
      ...c,
    });
    expect(lock.token).toBe('tok-alice');
    expect(host.commands().filter((x) => x === TAKE)).toHaveLength(3);
    // one round trip to look at the held lock each time: clock, last heartbeat and holder together
    expect(host.commands()).toEqual([TAKE, STATUS, TAKE, STATUS, TAKE]);
    await lock.release();
  });

  it('takes over a stale lock only if it still holds the stale token', async () => {
    const host = new FakeHost()
      .on(TAKE, { code: 1, stderr: 'File exists' }, 1)
      .on(STATUS, { stdout: status(5000, 1000, other) });
    const stale: string[] = [];
    const lock = await acquireLock(host, {
      dir: '/opt/shop/.lock',
      holder,
      timeoutMs: 0,
      staleAfterMs: 600_000,
      onStaleTakeover: (h, age) => stale.push(`${h?.actor} ${age}`),
    });
    expect(stale).toEqual(['bob 4000']);
    expect(host.commands()).toContain(
      'grep -qF tok-bob /opt/shop/.lock/holder.json && mv -T /opt/shop/.lock /opt/shop/.lock.stale-tok-alice-1 && rm -rf /opt/shop/.lock.stale-tok-alice-1',
    );
    await lock.release();
  });

  it('the post step releases only its own lock', async () => {
    const host = new FakeHost().on(/grep -qF tok-alice/, { code: 1 });
    expect(await releaseLockByToken(host, '/opt/shop/.lock', 'tok-alice')).toBe(false);
  });

  it('hands its release to a bigger script; once that ran, release() sends nothing more', async () => {
    const host = new FakeHost();
    const lock = holdLock(host, { dir: '/opt/shop/.lock', holder, staleAfterMs: 60_000 });
    expect(render(lock.handOff())).toBe('grep -qF tok-alice /opt/shop/.lock/holder.json && rm -rf /opt/shop/.lock');
    lock.released();
    expect(await lock.release()).toBe(true);
    expect(host.commands()).toEqual([]);
  });

  it('a lock taken inside a bigger script: its parent and the lock folder, then the holder moved in', () => {
    expect(render(takeLockDirScript('/opt/shop/.lock'))).toBe('mkdir -p /opt/shop && mkdir /opt/shop/.lock');
    expect(render(moveHolderScript('/opt/shop/.lock', '/opt/shop/.deploy-tmp/t/holder.json'))).toBe(
      'mv -f /opt/shop/.deploy-tmp/t/holder.json /opt/shop/.lock/holder.json',
    );
    expect(lockIsHeld("mkdir: cannot create directory '/opt/shop/.lock': File exists")).toBe(true);
    expect(lockIsHeld('tar: Unexpected EOF in archive')).toBe(false);
  });

  it('the holder record of a run: who, when, its token and the stale-after it heartbeats for', () => {
    const run = { repo: 'acme/shop', runId: '42', runAttempt: '1', actor: 'alice', sha: '3f2a1c9e' };
    const o = { action: 'deploy-compose', token: 'tok-alice', now: Date.parse(holder.time), staleAfterMs: 900_000 };
    expect(lockHolder(run, o)).toEqual({ ...holder, staleAfterSeconds: 900 });
    // no attempt number: none written (describeHolder then names the run alone)
    expect(lockHolder({ ...run, runAttempt: '' }, o)).not.toHaveProperty('runAttempt');
  });

  it('logs the wait and a stale takeover naming the holder', async () => {
    const lines: string[] = [];
    const log = { info: (m: string) => lines.push(`info ${m}`), warn: (m: string) => lines.push(`warn ${m}`) };
    const c = fakeClock();
    const host = new FakeHost()
      .on(TAKE, { code: 1, stderr: 'File exists' }, 2)
      .on(STATUS, { stdout: status(1700, 1000, other) })
      .on(STATUS, { stdout: status(1004, 1000, other) }, 1); // later rules are asked first
    const lock = await acquireLock(host, {
      dir: '/opt/shop/.lock',
      holder,
      timeoutMs: 60_000,
      staleAfterMs: 600_000,
      ...lockWaitLog(log, 'mgr: '),
      ...c,
    });
    const who = 'bob (deploy-compose run 41.1 of acme/shop, sha aaaaaaa, since 2026-11-22T02:00:00.000Z)';
    expect(lines).toEqual([
      `info mgr: waiting for the deploy lock, held by ${who} (last heartbeat 4s ago)`,
      `warn mgr: taking over a stale deploy lock held by ${who} (no heartbeat for 700s)`,
    ]);
    await lock.release();
  });

  it('a lock gone since the take failed is taken again at once; a holder not written yet still has an age', async () => {
    expect(parseLockStatus('1010\n')).toEqual({ holder: undefined, ageSeconds: undefined });
    expect(parseLockStatus('1010\n1000\n')).toEqual({ holder: undefined, ageSeconds: 10 });
    expect(parseLockStatus(status(1010, 1000, other))).toEqual({ holder: other, ageSeconds: 10 });
    expect(() => parseLockStatus('')).toThrow("could not read the droplet's clock");
    const c = fakeClock();
    const host = new FakeHost()
      .on(TAKE, { code: 1, stderr: 'File exists' }, 1)
      .on(STATUS, { stdout: status(1010, undefined, undefined) });
    const waits: unknown[] = [];
    const lock = await acquireLock(host, {
      dir: '/opt/shop/.lock',
      holder,
      timeoutMs: 60_000,
      staleAfterMs: 60_000,
      onWait: (h) => waits.push(h),
      ...c,
    });
    expect(host.commands()).toEqual([TAKE, STATUS, TAKE]);
    expect(waits).toEqual([]);
    expect(c.now()).toBe(0); // no sleep
    await lock.release();
  });
});
