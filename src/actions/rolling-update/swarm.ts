// Swarm mode: the swarm on the droplets (swarm-init: the first droplet manager, the others
// join over the private network), the release uploaded to the manager
// (/opt/<app>/releases/<id>/), `docker stack deploy`, then a wait until every service has
// converged; an update Swarm rolled back fails the action with the tasks' errors.
// The manager's deploy lock (/opt/<app>/.lock, the same lock as deploy-compose and the compose
// mode) is held from before the upload until the stack converged or failed; the post step
// releases it if the main step could not.
import type { ActionIo } from '../../lib/action/core.js';
import { errorMessage } from '../../lib/action/errors.js';
import { acquireLock, type HeldLock, lockHolder, lockWaitLog } from '../../lib/lock/lock.js';
import { maskSecret } from '../../lib/action/secrets.js';
import { SummaryBuilder } from '../../lib/action/summary.js';
import { pollUntil } from '../../lib/health/poll.js';
import { type AppPaths, appPaths, envFileContent } from '../../lib/release/model.js';
import { tarArchive } from '../../lib/release/tar.js';
import {
  defaultSourceAddress,
  dropletNow,
  inspectServices,
  joinToken,
  listStackServices,
  parseRouteSource,
  parseServiceList,
  parseSwarmState,
  parseTaskErrors,
  parseUpdateStatus,
  type ServiceUpdate,
  serviceTasks,
  stackDeploy,
  stackVerdict,
  swarmInit,
  swarmJoin,
  swarmState,
  unpackRelease,
} from '../../lib/rollout/swarm.js';
import type { RemoteHost } from '../../lib/ssh/executor.js';
import type { HostConnector } from '../../lib/ssh/pool.js';
import type { Inputs as DeployInputs } from '../deploy-compose/inputs.js';
import { type LockState, type ReleaseFile, STATE_LOCKS } from '../deploy-compose/run.js';
import type { Inputs } from './inputs.js';
import type { Member } from './member.js';

export interface SwarmDeps {
  connector: HostConnector;
  readReleaseFiles(inputs: DeployInputs): ReleaseFile[];
  readEnvFile(path: string): string;
  sleep(ms: number): Promise<void>;
  now(): number;
  /** A random token per run: only its owner (or the post step with it) releases the lock. */
  newToken(): string;
}

async function advertiseAddress(host: RemoteHost, m: Member, inputs: Inputs): Promise<string> {
  if (inputs.swarmAdvertise === 'private' && m.privateIpv4) return m.privateIpv4;
  if (inputs.swarmAdvertise === 'public' && m.publicIpv4) return m.publicIpv4;
  const route = await host.run(defaultSourceAddress(), { allowFailure: true });
  const src = parseRouteSource(route.stdout);
  if (!src)
    throw new Error(`on ${host.label}: cannot tell which address to advertise to the swarm (${route.stderr.trim()})`);
  return src;
}

async function ensureSwarm(
  inputs: Inputs,
  members: readonly Member[],
  hosts: RemoteHost[],
  io: ActionIo,
): Promise<void> {
  const manager = hosts[0] as RemoteHost;
  const mState = parseSwarmState((await manager.run(swarmState())).stdout);
  if (mState.state !== 'active') {
    if (!inputs.swarmInit) {
      throw new Error(
        `${manager.label} is not in a swarm (state "${mState.state}"); set swarm-init: true to create one`,
      );
    }
    const addr = await advertiseAddress(manager, members[0] as Member, inputs);
    io.logger.info(`${manager.label}: docker swarm init (advertising ${addr})`);
    await manager.run(swarmInit(addr));
  } else if (!mState.manager) {
    throw new Error(`${manager.label} is in a swarm but is not a manager: the first droplet must be a manager`);
  }
  if (hosts.length === 1) return;
  const token = (await manager.run(joinToken())).stdout.trim();
  maskSecret((v) => io.setSecret(v), token);
  const managerAddr = await advertiseAddress(manager, members[0] as Member, inputs);
  for (const [i, host] of hosts.entries()) {
    if (i === 0) continue;
    const s = parseSwarmState((await host.run(swarmState())).stdout);
    if (s.state === 'active') continue;
    if (!inputs.swarmInit) throw new Error(`${host.label} is not in the swarm; set swarm-init: true to join it`);
    const addr = await advertiseAddress(host, members[i] as Member, inputs);
    io.logger.info(`${host.label}: joining the swarm of ${managerAddr}`);
    await host.run(swarmJoin(token, managerAddr, addr));
  }
}

async function readServices(
  manager: RemoteHost,
  stack: string,
  before: ReadonlyMap<string, number> = new Map(),
): Promise<(ServiceUpdate & { version: number })[]> {
  const list = parseServiceList((await manager.run(listStackServices(stack))).stdout);
  if (list.length === 0) return [];
  const status = parseUpdateStatus((await manager.run(inspectServices(list.map((s) => s.id)))).stdout);
  return list.map((s) => {
    // `service ls` prints short ids, `service inspect` full ones
    const u = status.get(s.id) ?? [...status].find(([id]) => id.startsWith(s.id))?.[1];
    const prev = before.get(s.id);
    return {
      ...s,
      state: u?.state ?? '',
      message: u?.message ?? '',
      version: u?.version ?? 0,
      updated: prev !== undefined && prev !== (u?.version ?? 0),
      ...(u?.startedAt !== undefined ? { startedAt: u.startedAt } : {}),
    };
  });
}

export async function runSwarm(
  inputs: Inputs,
  deploy: DeployInputs & { releaseId: string },
  members: readonly Member[],
  deps: SwarmDeps,
  io: ActionIo,
): Promise<void> {
  const started = deps.now();
  for (const value of deploy.secrets.values()) maskSecret((v) => io.setSecret(v), value);
  const hosts: RemoteHost[] = [];
  for (const m of members) hosts.push(await deps.connector.connect(m.target));
  const manager = hosts[0] as RemoteHost;
  const managerTarget = (members[0] as Member).target;
  const paths = appPaths(deploy.app, deploy.baseDir);

  // the deploy lock on the manager, for the whole run (swarm set-up included)
  const token = deps.newToken();
  const holder = lockHolder(deploy.context, {
    action: 'rolling-update (swarm)',
    token,
    now: deps.now(),
    staleAfterMs: deploy.lockStaleAfterMs,
  });
  const saveLock = (held: boolean): void =>
    io.saveState(
      STATE_LOCKS,
      JSON.stringify({
        app: deploy.app,
        dir: paths.lock,
        token,
        hosts: held ? [managerTarget] : [],
      } satisfies LockState),
    );
  let lock: HeldLock;
  try {
    lock = await acquireLock(manager, {
      dir: paths.lock,
      holder,
      timeoutMs: deploy.lockTimeoutMs,
      staleAfterMs: deploy.lockStaleAfterMs,
      ...lockWaitLog(io.logger, `${manager.label}: `),
      sleep: deps.sleep,
      now: deps.now,
    });
  } catch (error) {
    throw new Error(`on ${manager.label}: deploy lock: ${errorMessage(error)} Nothing was changed.`, { cause: error });
  }
  saveLock(true);
  io.logger.info(`${manager.label}: holding the deploy lock ${paths.lock}`);
  try {
    await deployStack(inputs, deploy, members, hosts, paths, deps, io, started);
  } finally {
    const released = await lock.release().catch(() => false);
    if (released) saveLock(false);
    else
      io.logger.warn(`${manager.label}: could not release the deploy lock ${paths.lock}; the post step will try again`);
  }
}

async function deployStack(
  inputs: Inputs,
  deploy: DeployInputs & { releaseId: string },
  members: readonly Member[],
  hosts: RemoteHost[],
  paths: AppPaths,
  deps: SwarmDeps,
  io: ActionIo,
  started: number,
): Promise<void> {
  await ensureSwarm(inputs, members, hosts, io);
  const manager = hosts[0] as RemoteHost;

  // the release on the manager
  const dir = paths.release(deploy.releaseId);
  const files = deps.readReleaseFiles(deploy);
  const composeFiles = files.filter((f) => f.compose).map((f) => f.path);
  const envParts: string[] = [];
  if (deploy.envFile) envParts.push(deps.readEnvFile(deploy.envFile).replace(/\n?$/, '\n'));
  envParts.push(envFileContent(new Map([...deploy.env, ...deploy.secrets])));
  const archive = tarArchive([...files, { path: '.env', content: envParts.join(''), mode: 0o600 }]);
  await manager.run(unpackRelease(dir), { stdin: archive, timeoutMs: 120_000 });

  const before = new Map((await readServices(manager, deploy.app)).map((s) => [s.id, s.version]));
  const since = Number((await manager.run(dropletNow())).stdout.trim());
  io.logger.info(`${manager.label}: docker stack deploy ${deploy.app} (release ${deploy.releaseId})`);
  const deployed = await manager.run(stackDeploy({ dir, files: composeFiles, envFile: './.env', stack: deploy.app }), {
    allowFailure: true,
    timeoutMs: deploy.timeoutMs,
    onLine: (l) => io.logger.info(`${manager.label}: ${l}`),
  });
  if (deployed.code !== 0) {
    throw new Error(
      `on ${manager.label}: docker stack deploy failed: ${deployed.stdout.trim().split('\n').slice(-5).join(' ')}`,
    );
  }

  const deployedAt = deps.now();
  let last: ServiceUpdate[] = [];
  let verdict: ReturnType<typeof stackVerdict> = { kind: 'waiting', detail: 'no services yet' };
  const abort = new AbortController();
  const poll = await pollUntil(
    async () => {
      last = await readServices(manager, deploy.app, before);
      const graceOver = deps.now() - deployedAt > 20_000;
      verdict =
        last.length === 0 ? { kind: 'waiting', detail: 'no services yet' } : stackVerdict(last, since, graceOver);
      const ok = verdict.kind === 'converged';
      if (verdict.kind === 'rolled-back' || verdict.kind === 'paused') abort.abort();
      return {
        ok,
        status: verdict.kind,
        latencyMs: 0,
        ...(verdict.kind === 'waiting' ? { detail: verdict.detail } : {}),
      };
    },
    { deadlineMs: inputs.healthTimeoutMs, intervalMs: 2000, signal: abort.signal, sleep: deps.sleep, now: deps.now },
  );

  const services = last.map((s) => ({
    service: s.name,
    replicas: s.replicas,
    state: s.state || 'created',
    message: s.message,
  }));
  io.setOutput('release-id', deploy.releaseId);
  io.setOutput('services', JSON.stringify(services));
  io.setOutput('updated-count', poll.passed ? String(members.length) : '0');
  io.setOutput(
    'droplets',
    JSON.stringify(
      members.map((m) => ({ droplet: m.name, host: m.target.host, result: poll.passed ? 'updated' : 'failed' })),
    ),
  );
  io.setOutput('duration-seconds', String(Math.round((deps.now() - started) / 100) / 10));
  await io.writeSummary(
    new SummaryBuilder()
      .heading(`rolling-update (swarm): stack ${deploy.app} → ${deploy.releaseId}`)
      .table(
        ['Service', 'Replicas', 'Update state', 'Message'],
        services.map((s) => [s.service, s.replicas, s.state, s.message]),
      )
      .build(),
  );
  if (poll.passed) return;

  const v = verdict as ReturnType<typeof stackVerdict>;
  const failing =
    v.kind === 'rolled-back' || v.kind === 'paused'
      ? v.services
      : last.filter((s) => !/^(\d+)\/\1/.test(s.replicas) || s.state === 'updating');
  const errors: string[] = [];
  for (const s of failing.slice(0, 3)) {
    try {
      for (const e of parseTaskErrors((await manager.run(serviceTasks(s.name))).stdout)) errors.push(e);
    } catch (error) {
      errors.push(`${s.name}: could not read its tasks: ${errorMessage(error)}`);
    }
  }
  const what =
    v.kind === 'rolled-back'
      ? `Swarm rolled back ${failing.map((s) => `${s.name} (${s.message || s.state})`).join(', ')}; the previous version is serving`
      : v.kind === 'paused'
        ? `the update of ${failing.map((s) => `${s.name} (${s.message || 'paused'})`).join(', ')} is paused`
        : `the stack did not converge within ${Math.round(inputs.healthTimeoutMs / 1000)}s: ${v.kind === 'waiting' ? v.detail : ''}`;
  throw new Error(`${what}. Task errors:\n${errors.join('\n') || '(none reported)'}`);
}
