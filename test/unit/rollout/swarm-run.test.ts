// Swarm mode's deploy lock: the same lock as deploy-compose (/opt/<app>/.lock) on the manager,
// taken before anything is uploaded or deployed, recorded for the post step while held, and
// released at the end — after a failed `docker stack deploy` too. Another live holder stops
// the run before it changes anything.
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

import { afterAll, describe, expect, it } from 'vitest';

import { parseLockState } from '../../../src/actions/deploy-compose/post-run.js';
import { STATE_LOCKS } from '../../../src/actions/deploy-compose/run.js';
import { readInputs } from '../../../src/actions/rolling-update/inputs.js';
import type { Member } from '../../../src/actions/rolling-update/member.js';
import { runSwarm, type SwarmDeps } from '../../../src/actions/rolling-update/swarm.js';
import type { ActionIo } from '../../../src/lib/action/core.js';
import type { Logger } from '../../../src/lib/action/logger.js';
import { untar } from '../../support/deploy-compose-fake.js';
import { FakeHost } from '../../support/fake-host.js';

const dir = mkdtempSync(join(tmpdir(), 'ru-swarm-'));
execFileSync('ssh-keygen', ['-q', '-t', 'ed25519', '-N', '', '-C', 't', '-f', join(dir, 'k')]);
const key = readFileSync(join(dir, 'k'), 'utf8');
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const quiet: Logger = { info: () => {}, warn: () => {}, error: () => {}, debug: () => {}, group: (_n, fn) => fn() };
const TOKEN = 'tok-swarm-1';
const LOCK = '/opt/shop/.lock';

function inputsFor(extra: Record<string, string> = {}) {
  const raw: Record<string, string> = {
    hosts: '192.0.2.10',
    'ssh-private-key': key,
    'insecure-skip-host-key-check': 'true',
    app: 'shop',
    mode: 'swarm',
    'release-id': 'r2',
    'lock-timeout': '4s',
    ...extra,
  };
  const inputs = readInputs(
    { getInput: (name) => raw[name] ?? '' },
    { GITHUB_SHA: '3f2a1c9e00', GITHUB_REPOSITORY: 'acme/shop', GITHUB_RUN_ID: '77', GITHUB_ACTOR: 'ana' },
  );
  return { inputs, deploy: { ...inputs.deploy, releaseId: 'r2' } };
}

const member: Member = { name: 'mgr', target: { host: '192.0.2.10', port: 22, user: 'root', label: 'mgr' } };

function swarmHost(opts: { deployFails?: boolean; heldBy?: string } = {}): FakeHost {
  let deployed = false;
  const h = new FakeHost('mgr', '192.0.2.10')
    .on(/^docker info/, { stdout: 'active true node1\n' })
    .on(/^date \+%s$/, { stdout: '1000\n' })
    .on(/^docker service ls/, () => ({ stdout: deployed ? 'abc shop_web 2/2\n' : '' }))
    .on(/^docker service inspect/, {
      stdout: JSON.stringify([{ ID: 'abc', Version: { Index: 3 }, UpdateStatus: null }]),
    })
    .on(/docker stack deploy/, () => {
      deployed = true;
      return opts.deployFails ? { code: 1, stdout: 'failed to update service shop_web: bad spec\n' } : { stdout: '' };
    });
  if (opts.heldBy) {
    h.on(/^mkdir -p \/opt\/shop && mkdir \/opt\/shop\/.lock/, { code: 1, stderr: 'mkdir: File exists\n' })
      // the droplet's clock, the lock's last heartbeat, its holder
      .on(
        /^date \+%s ; \{ stat -c %Y \/opt\/shop\/\.lock 2> \/dev\/null; \} ; \{ cat \/opt\/shop\/\.lock\/holder\.json/,
        {
          stdout: `1000\n995\n${JSON.stringify({
            repo: 'acme/shop',
            runId: '76',
            actor: 'bob',
            sha: 'aaaaaaa',
            time: '2026-11-22T05:00:00Z',
            token: opts.heldBy,
            action: 'deploy-compose',
          })}\n`,
        },
      );
  }
  return h;
}

function harness(host: FakeHost) {
  const states: string[] = [];
  let clock = 1_795_000_000_000;
  const io: ActionIo = {
    getInput: () => '',
    setOutput: () => {},
    setSecret: () => {},
    saveState: (name, value) => {
      if (name === STATE_LOCKS) states.push(value);
    },
    getState: () => '',
    writeSummary: () => Promise.resolve(),
    logger: quiet,
  };
  const deps: SwarmDeps = {
    connector: { connect: () => Promise.resolve(host), closeAll: () => Promise.resolve() },
    readReleaseFiles: () => [
      { path: 'stack.yaml', content: Buffer.from('services: {}\n'), mode: 0o644, compose: true },
    ],
    readEnvFile: () => '',
    sleep: (ms) => {
      clock += ms;
      return Promise.resolve();
    },
    now: () => clock,
    newToken: () => TOKEN,
  };
  return { io, deps, states };
}

describe('rolling-update swarm mode: the deploy lock on the manager', () => {
  it('takes the lock before uploading or deploying, records it for the post step, releases it at the end', async () => {
    const host = swarmHost();
    const { io, deps, states } = harness(host);
    const { inputs, deploy } = inputsFor();
    await runSwarm(inputs, deploy, [member], deps, io);

    const cmds = host.commands();
    const take = cmds.findIndex((c) => c.startsWith(`mkdir -p /opt/shop && mkdir ${LOCK}`));
    const stack = cmds.findIndex((c) => c.includes('docker stack deploy'));
    const release = cmds.indexOf(`grep -qF ${TOKEN} ${LOCK}/holder.json && rm -rf ${LOCK}`);
    expect(take).toBeGreaterThanOrEqual(0);
    expect(stack).toBeGreaterThan(take);
    expect(release).toBeGreaterThan(stack);
    expect(cmds.findIndex((c) => c.startsWith('docker info'))).toBeGreaterThan(take); // swarm set-up under the lock too
    // the release in one exec: an archive on the stdin of tar, nothing over SFTP
    const unpack = cmds.indexOf('mkdir -p /opt/shop/releases/r2 && tar -x -f - -C /opt/shop/releases/r2');
    expect(unpack).toBeGreaterThan(take);
    expect(stack).toBeGreaterThan(unpack);
    expect([...untar(host.calls[unpack]?.stdin ?? '').keys()]).toEqual(['stack.yaml', '.env']);
    expect(host.files.size).toBe(0);
    // who holds it, as deploy-compose writes it
    const holder = JSON.parse(host.calls[take]?.stdin ?? '{}') as Record<string, unknown>;
    expect(holder).toMatchObject({
      token: TOKEN,
      action: 'rolling-update (swarm)',
      repo: 'acme/shop',
      runId: '77',
      actor: 'ana',
      staleAfterSeconds: 900,
    });
    // the post step's state: the manager while held, nothing once released
    expect(states.map((s) => parseLockState(s)?.hosts.map((h) => h.label))).toEqual([['mgr'], []]);
    expect(parseLockState(states[0] ?? '')).toMatchObject({ app: 'shop', dir: LOCK, token: TOKEN });
  });

  it('a failed stack deploy still releases the lock', async () => {
    const host = swarmHost({ deployFails: true });
    const { io, deps, states } = harness(host);
    const { inputs, deploy } = inputsFor();
    await expect(runSwarm(inputs, deploy, [member], deps, io)).rejects.toThrow(/docker stack deploy failed/);
    expect(host.commands()).toContain(`grep -qF ${TOKEN} ${LOCK}/holder.json && rm -rf ${LOCK}`);
    expect(states.map((s) => parseLockState(s)?.hosts.length)).toEqual([1, 0]);
  });

  it('another deploy holds the lock: waits lock-timeout, then fails naming it, nothing uploaded or deployed', async () => {
    const host = swarmHost({ heldBy: 'other-token' });
    const { io, deps, states } = harness(host);
    const { inputs, deploy } = inputsFor();
    await expect(runSwarm(inputs, deploy, [member], deps, io)).rejects.toThrow(
      /^on mgr: deploy lock: \/opt\/shop\/\.lock is held by bob \(deploy-compose run 76 of acme\/shop.*Nothing was changed\.$/,
    );
    expect(host.commands().some((c) => c.includes('docker stack deploy') || c.startsWith('docker info'))).toBe(false);
    expect(host.commands().some((c) => c.includes('rm -rf /opt/shop/.lock'))).toBe(false);
    expect(host.commands().some((c) => c.includes('tar -x'))).toBe(false);
    expect(host.files.size).toBe(0);
    expect(states).toEqual([]);
  });
});

describe('rolling-update swarm mode: the release upload', () => {
  it('every file of the release and the 0600 .env in ONE exec (a tar archive on stdin), the secrets never in a command', async () => {
    const host = swarmHost();
    const { io, deps } = harness(host);
    deps.readReleaseFiles = () => [
      { path: 'stack.yaml', content: Buffer.from('services: {}\n'), mode: 0o644, compose: true },
      { path: 'stack.prod.yaml', content: Buffer.from('services: {web: {}}\n'), mode: 0o644, compose: true },
      { path: 'conf/nginx/site.conf', content: Buffer.from('server {}\n'), mode: 0o644, compose: false },
      { path: 'bin/migrate.sh', content: Buffer.from('#!/bin/sh\n'), mode: 0o755, compose: false },
    ];
    deps.readEnvFile = (path) => (path === 'prod.env' ? 'FROM_FILE=1' : '');
    const { inputs, deploy } = inputsFor({
      'compose-file': 'stack.yaml\nstack.prod.yaml',
      'env-file': 'prod.env',
      env: 'MODE=prod',
      secrets: 'DB_PASSWORD=s3cr3t-pw',
    });
    await runSwarm(inputs, deploy, [member], deps, io);

    const unpacks = host.calls.filter((c) => c.command.includes('tar -x'));
    expect(unpacks.map((c) => c.command)).toEqual([
      'mkdir -p /opt/shop/releases/r2 && tar -x -f - -C /opt/shop/releases/r2',
    ]);
    const files = untar(unpacks[0]?.stdin ?? '');
    expect(Object.fromEntries([...files].map(([path, f]) => [path, f.mode.toString(8)]))).toEqual({
      'stack.yaml': '644',
      'stack.prod.yaml': '644',
      'conf/nginx/site.conf': '644',
      'bin/migrate.sh': '755',
      '.env': '600',
    });
    expect(files.get('conf/nginx/site.conf')?.content).toBe('server {}\n');
    expect(files.get('.env')?.content).toBe("FROM_FILE=1\nMODE='prod'\nDB_PASSWORD='s3cr3t-pw'\n");
    // no other round trip wrote a file (no SFTP upload, no mkdir per folder)
    expect(host.files.size).toBe(0);
    expect(host.commands().filter((c) => c.includes('/opt/shop/releases/r2') && !c.includes('tar -x'))).toEqual([
      expect.stringContaining('docker stack deploy --compose-file stack.yaml --compose-file stack.prod.yaml'),
    ]);
    expect(host.calls.some((c) => c.command.includes('s3cr3t-pw') || c.logged.includes('s3cr3t-pw'))).toBe(false);
  });
});
