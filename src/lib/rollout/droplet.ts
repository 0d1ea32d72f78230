// The service-by-service rollout on ONE droplet (see commands.ts for the start-first steps).
// After each service: a gate on the new containers. On failure the new containers are
// stopped and removed (start-first: the old ones never stopped serving) or the previous
// release's service is started again (recreate), no further service is touched, and a
// ServiceRolloutError names the service.
import { errorMessage } from '../action/errors.js';
import type { Logger } from '../action/logger.js';
import { render, seq } from '../commands/cmd.js';
import type { ComposeProject } from '../compose/compose.js';
import { readServiceStates, type ServiceState, serviceVerdict } from '../compose/state.js';
import { containerDiagnostics } from '../health/container.js';
import { type Check, pollUntil } from '../health/poll.js';
import { realSleep } from '../retry.js';
import { outputTail, RemoteCommandError, type RemoteHost } from '../ssh/executor.js';
import {
  configHashes,
  dropFromDns,
  inspectContainers,
  parseConfigHashes,
  parseNetworks,
  RECONNECT_FAILED,
  recreate,
  reloadProxies,
  removeContainers,
  scaleTo,
  scaleUp,
  stopContainers,
  stopRemove,
} from './commands.js';
import { planNetworks } from './networks.js';
import type { PlannedService, Strategy } from './plan.js';

export interface GateSettings {
  /** Per service: how long the new containers get to become healthy/running. */
  deadlineMs: number;
  intervalMs: number;
  /** Consecutive passing reads required (a container without healthcheck: "stays running"). */
  successes: number;
}

export interface ProxySettings {
  service: string;
  reload: readonly string[];
}

export interface DropletRolloutOptions {
  app: string;
  /** The new release (its compose files). */
  next: ComposeProject;
  /** The release serving before (recreate failures bring its service back). */
  previous?: ComposeProject;
  services: readonly PlannedService[];
  /**
   * Before the old containers are stopped, wait this long: without a proxy, after they left
   * DNS; with one, after the proxy's first reload (it settles on the new containers).
   */
  drainMs: number;
  stopTimeoutSeconds: number;
  proxy?: ProxySettings;
  gate: GateSettings;
  /** Roll a service even when its config hash did not change (default: skip it). */
  force?: boolean;
}

export interface RolloutDeps {
  logger: Logger;
  sleep?: (ms: number) => Promise<void>;
  now?: () => number;
}

export type ServiceResultKind = 'updated' | 'unchanged' | 'failed' | 'not-started';

export interface ServiceResult {
  service: string;
  strategy: Strategy;
  result: ServiceResultKind;
  oldContainers: string[];
  newContainers: string[];
  durationMs: number;
  /** recreate: how long `up` took (the service's gap is at most this). */
  gapMs?: number;
  detail?: string;
}

export class ServiceRolloutError extends Error {
  override readonly name = 'ServiceRolloutError';
  constructor(
    readonly host: string,
    readonly service: string,
    readonly reason: string,
    readonly results: ServiceResult[],
    readonly diagnostics?: string,
  ) {
    super(`on ${host}: service "${service}" failed: ${reason}`);
  }
}

const COMPOSE_TIMEOUT_MS = 5 * 60_000;
/** Log lines of each failing new container shown with a failed gate. */
const LOG_LINES = 20;
const HASH_LABEL = 'com.docker.compose.config-hash';

function short(id: string): string {
  return id.replace(/^sha256:/, '').slice(0, 12);
}

function live(states: readonly ServiceState[], service: string): ServiceState[] {
  return states.filter(
    (s) =>
      s.service === service && !s.oneOff && s.status !== 'exited' && s.status !== 'dead' && s.status !== 'removing',
  );
}

function terminal(s: ServiceState): boolean {
  return s.health === 'unhealthy' || s.status === 'exited' || s.status === 'dead' || s.restartCount > 0;
}

interface GateOutcome {
  ok: boolean;
  reason?: string;
  failing: ServiceState[];
}

/** Polls until every container in `ids` is up (healthy when it has a healthcheck). */
async function gateContainers(
  host: RemoteHost,
  app: string,
  ids: readonly string[],
  settings: GateSettings,
  deps: RolloutDeps,
): Promise<GateOutcome> {
  const wanted = new Set(ids);
  const abort = new AbortController();
  let failing: ServiceState[] = [];
  let terminalReason: string | undefined;
  const check: Check = async () => {
    const t0 = performance.now();
    const states = (await readServiceStates(host, app)).filter((s) => wanted.has(s.id));
    const latencyMs = Math.round(performance.now() - t0);
    failing = [];
    const problems: string[] = [];
    for (const id of wanted) {
      const s = states.find((x) => x.id === id);
      if (!s) {
        problems.push(`${short(id)}: gone`);
        terminalReason ??= `container ${short(id)} disappeared`;
        abort.abort();
        continue;
      }
      const v = serviceVerdict(s, 'healthy');
      if (!v.ok || s.restartCount > 0) {
        failing.push(s);
        problems.push(`${s.container}: ${s.restartCount > 0 ? `restarted ${s.restartCount}×` : v.status}`);
        if (terminal(s)) {
          terminalReason ??= `${s.container} is ${s.restartCount > 0 && v.ok ? `restarting (${s.restartCount} restarts)` : v.status}`;
          abort.abort();
        }
      }
    }
    if (problems.length > 0) return { ok: false, status: 'waiting', latencyMs, detail: problems.join('; ') };
    return { ok: true, status: 'up', latencyMs, detail: `${wanted.size} new container(s) up` };
  };
  const result = await pollUntil(check, {
    deadlineMs: settings.deadlineMs,
    intervalMs: settings.intervalMs,
    successes: settings.successes,
    signal: abort.signal,
    ...(deps.now ? { now: deps.now } : {}),
    ...(deps.sleep ? { sleep: deps.sleep } : {}),
  });
  if (result.passed) return { ok: true, failing: [] };
  const reason =
    terminalReason ??
    `not up within ${Math.round(settings.deadlineMs / 1000)}s: ${result.lastFailure?.detail ?? result.last?.detail ?? 'no attempt finished'}`;
  return { ok: false, reason, failing };
}

/** Gates a service's new containers; on failure also reads the failing ones' health log and log tail. */
async function gateFresh(
  host: RemoteHost,
  o: DropletRolloutOptions,
  fresh: readonly ServiceState[],
  deps: RolloutDeps,
): Promise<{ ok: true } | { ok: false; reason?: string; diagnostics?: string }> {
  const gate = await gateContainers(
    host,
    o.app,
    fresh.map((s) => s.id),
    o.gate,
    deps,
  );
  if (gate.ok) return { ok: true };
  const diagnostics = gate.failing.length ? await containerDiagnostics(host, gate.failing, LOG_LINES) : undefined;
  return { ok: false, ...(gate.reason ? { reason: gate.reason } : {}), ...(diagnostics ? { diagnostics } : {}) };
}

async function run(host: RemoteHost, deps: RolloutDeps, script: Parameters<RemoteHost['run']>[0]): Promise<string> {
  deps.logger.debug(`${host.label}: ${render(script, 'log')}`);
  const r = await host.run(script, { timeoutMs: COMPOSE_TIMEOUT_MS });
  return r.stdout;
}

/** Services whose running containers already carry the new config hash (and count). */
function isUnchanged(old: readonly ServiceState[], hash: string | undefined, desired: number): boolean {
  return hash !== undefined && old.length === desired && old.every((s) => s.labels[HASH_LABEL] === hash);
}

/**
 * No proxy to reload (commands.ts, step 3b): on each network where Docker can keep an old
 * container's address (a configured subnet, networks.ts) it leaves DNS and joins again at
 * that address; everywhere else it stays attached, and in DNS, until it is stopped
 * gracefully. Decided before anything is disconnected; one log line per network.
 */
async function dropFromDnsWhereKept(
  host: RemoteHost,
  o: DropletRolloutOptions,
  svc: PlannedService,
  old: readonly ServiceState[],
  deps: RolloutDeps,
): Promise<void> {
  const attachments = parseNetworks(await run(host, deps, inspectContainers(old.map((s) => s.id))));
  const plan = planNetworks(o.next.project, svc.facts.networks, attachments);
  const rejoin = new Set(plan.filter((p) => p.action === 'rejoin').map((p) => p.network));
  const scripts = old.flatMap((s) => {
    const on = (attachments.get(s.id) ?? []).filter((a) => rejoin.has(a.network));
    return on.length > 0 ? [dropFromDns(s.id, on)] : [];
  });
  /** network → why each container that could not rejoin failed */
  const failed = new Map<string, string[]>();
  if (scripts.length > 0) {
    const out = await run(host, deps, seq(...scripts));
    let why: string[] = [];
    for (const line of out.split('\n').map((l) => l.trim())) {
      if (!line) continue;
      if (!line.startsWith(RECONNECT_FAILED)) {
        why.push(line);
        continue;
      }
      const network = line.slice(RECONNECT_FAILED.length).trim().split(' ')[0] ?? '';
      failed.set(network, [...(failed.get(network) ?? []), why.join(' ') || 'no reason given']);
      why = [];
    }
  }
  for (const p of plan) {
    const where = `${host.label}: ${svc.name}: ${p.network}`;
    if (p.action === 'stay') {
      deps.logger.info(
        `${where}: the ${p.containers} old container(s) stay attached and in DNS until they are stopped gracefully (${p.why}: Docker could not keep their address, and taking them off would cut the requests they are answering)`,
      );
      continue;
    }
    const lost = failed.get(p.network) ?? [];
    if (lost.length < p.containers)
      deps.logger.info(
        `${where}: ${p.containers - lost.length} old container(s) left DNS and rejoined at their address (configured subnet ${p.subnets.join(', ')}): requests in flight and cached answers still reach them`,
      );
    if (lost.length > 0)
      deps.logger.warn(
        `${where}: ${lost.length} old container(s) could not rejoin at their address and are off the network: ${[...new Set(lost)].join('; ')}`,
      );
  }
}

async function startFirst(
  host: RemoteHost,
  o: DropletRolloutOptions,
  svc: PlannedService,
  old: ServiceState[],
  desired: number,
  deps: RolloutDeps,
): Promise<ServiceResult> {
  const sleep = deps.sleep ?? realSleep;
  const t0 = (deps.now ?? Date.now)();
  const oldIds = new Set(old.map((s) => s.id));
  const base: ServiceResult = {
    service: svc.name,
    strategy: 'start-first',
    result: 'failed',
    oldContainers: old.map((s) => s.container),
    newContainers: [],
    durationMs: 0,
  };
  const elapsed = (): number => (deps.now ?? Date.now)() - t0;

  deps.logger.info(`${host.label}: ${svc.name}: starting ${desired} new container(s) beside ${old.length} old`);
  let upError: unknown;
  try {
    await run(host, deps, scaleUp(o.next, svc.name, old.length + desired));
  } catch (error) {
    upError = error;
  }
  const after = live(await readServiceStates(host, o.app), svc.name);
  const fresh = after.filter((s) => !oldIds.has(s.id));
  base.newContainers = fresh.map((s) => s.container);
  const removeFresh = async (): Promise<void> => {
    if (fresh.length > 0)
      await host.run(
        stopRemove(
          fresh.map((s) => s.id),
          o.stopTimeoutSeconds,
        ),
        { allowFailure: true, timeoutMs: COMPOSE_TIMEOUT_MS },
      );
  };
  if (upError !== undefined || fresh.length === 0) {
    await removeFresh();
    const reason = upError instanceof Error ? upError.message : 'Compose started no new container';
    throw new ServiceRolloutError(host.label, svc.name, reason, [{ ...base, durationMs: elapsed() }]);
  }

  const gate = await gateFresh(host, o, fresh, deps);
  if (!gate.ok) {
    await removeFresh();
    throw new ServiceRolloutError(
      host.label,
      svc.name,
      `${gate.reason ?? 'gate failed'}; the new containers were removed and the ${old.length} old one(s) kept serving`,
      [{ ...base, durationMs: elapsed(), detail: gate.reason }],
      gate.diagnostics,
    );
  }

  if (old.length > 0) {
    const stopIds = old.map((s) => s.id);
    const proxyIds = o.proxy
      ? live(await readServiceStates(host, o.app), o.proxy.service)
          .filter((p) => p.status === 'running')
          .map((p) => p.id)
      : [];
    if (o.proxy && proxyIds.length === 0) {
      deps.logger.warn(`${host.label}: proxy-service ${o.proxy.service} has no running container; not reloading it`);
    }
    if (o.proxy && proxyIds.length > 0) {
      // Never take an old container off a network while it may be answering a request: its
      // address would vanish and the request be cut without a reset, hanging the proxy until
      // its read timeout. Stop it gracefully where it stands instead (commands.ts, step 3a).
      const proxy = o.proxy;
      deps.logger.info(`${host.label}: ${svc.name}: reloading proxy ${proxy.service} (it learns the new containers)`);
      try {
        await run(host, deps, reloadProxies(proxyIds, proxy.reload));
      } catch (error) {
        // nothing has happened to the old containers yet: they keep serving
        await removeFresh();
        const why =
          error instanceof RemoteCommandError
            ? `exit ${error.result.code}: ${outputTail(error.result, 2, ' ')}`
            : errorMessage(error);
        throw new ServiceRolloutError(
          host.label,
          svc.name,
          `reloading proxy ${proxy.service} failed (${why}); the new containers were removed and the ${old.length} old one(s) kept serving`,
          [{ ...base, durationMs: elapsed(), detail: `proxy reload failed: ${why}` }],
        );
      }
      deps.logger.info(
        `${host.label}: ${svc.name}: draining ${Math.round(o.drainMs / 100) / 10}s, then stopping the ${old.length} old container(s) where they stand (they finish what is in flight; new connections to them are refused)`,
      );
      await sleep(o.drainMs);
      await run(host, deps, stopContainers(stopIds, o.stopTimeoutSeconds));
      deps.logger.info(
        `${host.label}: ${svc.name}: old container(s) stopped and out of DNS; reloading proxy ${proxy.service} again (it forgets their addresses)`,
      );
      const again = await host.run(reloadProxies(proxyIds, proxy.reload), {
        allowFailure: true,
        timeoutMs: COMPOSE_TIMEOUT_MS,
      });
      if (again.code !== 0)
        // the switch is done (the old containers are stopped); the first reload already taught
        // the proxy the new containers, so this is not a failure of the roll-out
        deps.logger.warn(
          `${host.label}: reloading proxy ${proxy.service} after the old ${svc.name} container(s) stopped failed: ${outputTail(again, 2, ' ')}`,
        );
      await run(host, deps, removeContainers(stopIds));
    } else {
      await dropFromDnsWhereKept(host, o, svc, old, deps);
      deps.logger.info(
        `${host.label}: ${svc.name}: draining ${Math.round(o.drainMs / 100) / 10}s, then stopping the ${old.length} old container(s) gracefully (they finish what is in flight; new connections to them are refused)`,
      );
      await sleep(o.drainMs);
      await run(host, deps, stopRemove(stopIds, o.stopTimeoutSeconds));
    }
  }
  await run(host, deps, scaleTo(o.next, svc.name, desired));
  return { ...base, result: 'updated', durationMs: elapsed() };
}

async function recreateService(
  host: RemoteHost,
  o: DropletRolloutOptions,
  svc: PlannedService,
  old: ServiceState[],
  desired: number,
  deps: RolloutDeps,
): Promise<ServiceResult> {
  const now = deps.now ?? Date.now;
  const t0 = now();
  const oldIds = new Set(old.map((s) => s.id));
  const base: ServiceResult = {
    service: svc.name,
    strategy: 'recreate',
    result: 'failed',
    oldContainers: old.map((s) => s.container),
    newContainers: [],
    durationMs: 0,
  };
  deps.logger.info(`${host.label}: ${svc.name}: recreating (${svc.reason})`);
  const upStart = now();
  let upError: unknown;
  try {
    await run(host, deps, recreate(o.next, svc.name, desired));
  } catch (error) {
    upError = error;
  }
  const gapMs = now() - upStart;
  const fresh = live(await readServiceStates(host, o.app), svc.name).filter((s) => !oldIds.has(s.id));
  base.newContainers = fresh.map((s) => s.container);
  base.gapMs = gapMs;
  const restorePrevious = async (): Promise<string> => {
    if (!o.previous) return 'no previous release to restore';
    const r = await host.run(recreate(o.previous, svc.name, old.length || undefined), {
      allowFailure: true,
      timeoutMs: COMPOSE_TIMEOUT_MS,
    });
    return r.code === 0
      ? 'the previous release of the service was started again'
      : `restoring the previous release failed: ${outputTail(r, 2, ' ')}`;
  };
  if (upError !== undefined || fresh.length === 0) {
    if (upError === undefined)
      return { ...base, result: 'unchanged', durationMs: now() - t0, detail: 'Compose recreated nothing' };
    const restored = await restorePrevious();
    throw new ServiceRolloutError(
      host.label,
      svc.name,
      `${upError instanceof Error ? upError.message : String(upError)}; ${restored}`,
      [{ ...base, durationMs: now() - t0 }],
    );
  }
  const gate = await gateFresh(host, o, fresh, deps);
  if (!gate.ok) {
    const restored = await restorePrevious();
    throw new ServiceRolloutError(
      host.label,
      svc.name,
      `${gate.reason ?? 'gate failed'}; ${restored}`,
      [{ ...base, durationMs: now() - t0, detail: gate.reason }],
      gate.diagnostics,
    );
  }
  return { ...base, result: 'updated', durationMs: now() - t0 };
}

/** Rolls every planned service in order; stops at the first failure (ServiceRolloutError). */
export async function rolloutDroplet(
  host: RemoteHost,
  o: DropletRolloutOptions,
  deps: RolloutDeps,
): Promise<ServiceResult[]> {
  const hashes = parseConfigHashes(await run(host, deps, configHashes(o.next)));
  const results: ServiceResult[] = [];
  for (const [index, svc] of o.services.entries()) {
    const old = live(await readServiceStates(host, o.app), svc.name).filter((s) => s.status === 'running');
    const desired = svc.facts.replicas ?? Math.max(1, old.length);
    let result: ServiceResult;
    try {
      if (!o.force && isUnchanged(old, hashes.get(svc.name), desired)) {
        deps.logger.info(`${host.label}: ${svc.name}: unchanged (same configuration and image), left running`);
        result = {
          service: svc.name,
          strategy: svc.strategy,
          result: 'unchanged',
          oldContainers: old.map((s) => s.container),
          newContainers: [],
          durationMs: 0,
        };
      } else if (svc.strategy === 'start-first') {
        result = await startFirst(host, o, svc, old, desired, deps);
      } else {
        result = await recreateService(host, o, svc, old, desired, deps);
      }
    } catch (error) {
      if (error instanceof ServiceRolloutError) {
        const rest = o.services.slice(index + 1).map((s): ServiceResult => ({
          service: s.name,
          strategy: s.strategy,
          result: 'not-started',
          oldContainers: [],
          newContainers: [],
          durationMs: 0,
        }));
        throw new ServiceRolloutError(
          error.host,
          error.service,
          error.reason,
          [...results, ...error.results, ...rest],
          error.diagnostics,
        );
      }
      throw error;
    }
    results.push(result);
  }
  return results;
}
