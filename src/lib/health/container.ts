// Container check: the Docker state of a Compose project's services on one droplet, read
// with compose/state.ts (works on Compose v1 and v2). Also what deploy-compose and
// rolling-update use to wait for services after `up -d`:
//   pollUntil(containerProbe(host, {app, services}).attempt, {...})

import {
  containerLogTail,
  readServiceStates,
  type ServiceRequirement,
  type ServiceState,
  serviceVerdict,
} from '../compose/state.js';
import type { Logger } from '../action/logger.js';
import { formatDuration } from '../action/parsers.js';
import type { RemoteHost } from '../ssh/executor.js';
import { type AttemptContext, type CheckOutcome, type PollResult, pollUntil } from './poll.js';

export interface ContainerProbeOptions {
  app: string;
  /** Services that must be up; empty = every (non one-off) service of the project. */
  services?: readonly string[];
  require?: ServiceRequirement;
  /**
   * The containers' states read just now (by the script that ran `up`): the first attempt
   * judges these instead of asking the droplet again.
   */
  first?: readonly ServiceState[];
}

export interface ContainerProbe {
  attempt: (ctx?: AttemptContext) => Promise<CheckOutcome>;
  /** Containers that were not up at the last attempt. */
  failing(): ServiceState[];
  /** Every container seen at the last attempt. */
  lastStates(): ServiceState[];
}

export function containerProbe(host: RemoteHost, options: ContainerProbeOptions): ContainerProbe {
  const wanted = [...(options.services ?? [])];
  const require = options.require ?? 'healthy';
  let failing: ServiceState[] = [];
  let last: ServiceState[] = [];
  let first = options.first ? [...options.first] : undefined;
  return {
    failing: () => failing,
    lastStates: () => last,
    async attempt(): Promise<CheckOutcome> {
      const started = performance.now();
      const all = first ?? (await readServiceStates(host, options.app));
      first = undefined;
      const latencyMs = Math.round(performance.now() - started);
      last = all;
      const states = all.filter((s) => !s.oneOff && (wanted.length === 0 || wanted.includes(s.service)));
      const missing = wanted.filter((w) => !states.some((s) => s.service === w));
      failing = [];
      const problems: string[] = [];
      for (const service of missing) problems.push(`${service}: no container`);
      if (states.length === 0 && missing.length === 0) {
        return { ok: false, status: 'no containers', latencyMs, detail: `project "${options.app}" has no containers` };
      }
      // One-shot jobs (exited 0, no restart policy) are fine when checking "every service";
      // a service named in `services` must be up.
      const verdict = (s: ServiceState) => serviceVerdict(s, require, { oneShotOk: !wanted.includes(s.service) });
      for (const s of states) {
        const v = verdict(s);
        if (!v.ok) {
          failing.push(s);
          problems.push(`${s.service} (${s.container}): ${v.status}`);
        }
      }
      if (problems.length > 0) {
        const first = failing[0];
        const status = missing.length > 0 ? 'missing' : first ? verdict(first).status : 'down';
        return { ok: false, status, latencyMs, detail: problems.join('; ') };
      }
      const statuses = states.map((s) => verdict(s).status);
      const allHealthy = statuses.every((st) => st === 'healthy' || st === 'completed') && statuses.includes('healthy');
      return {
        ok: true,
        status: allHealthy ? 'healthy' : 'running',
        latencyMs,
        detail: `${states.length} container(s) up`,
      };
    },
  };
}

/** For a failure report: each failing container's health log and its last log lines. */
export async function containerDiagnostics(
  host: RemoteHost,
  failing: readonly ServiceState[],
  logLines: number,
): Promise<string> {
  const parts: string[] = [];
  for (const s of failing.slice(0, 5)) {
    const lines: string[] = [
      `service ${s.service} (container ${s.container}, ${s.status}${s.health ? `, ${s.health}` : ''}):`,
    ];
    if (s.healthLog.length > 0) {
      lines.push('  health log:');
      for (const entry of s.healthLog.slice(-3)) {
        const output = entry.output.trim().split('\n').slice(-5).join(' | ');
        lines.push(`    exit ${entry.exitCode} at ${entry.end || entry.start}: ${output || '(no output)'}`);
      }
    }
    if (logLines > 0) {
      const tail = await containerLogTail(host, s.container, logLines);
      lines.push(`  last ${logLines} log lines:`);
      lines.push(...(tail ? tail.split('\n').map((l) => `    ${l}`) : ['    (empty)']));
    }
    parts.push(lines.join('\n'));
  }
  return parts.join('\n');
}

export interface WaitForServicesOptions extends ContainerProbeOptions {
  timeoutMs: number;
  /** Default 1s. */
  intervalMs?: number;
  /** Consecutive passes (default 1). */
  successes?: number;
  /** Log lines per failing container in the diagnostics (default 30). */
  logLines?: number;
  logger?: Logger;
  now?: () => number;
  sleep?: (ms: number) => Promise<void>;
}

export interface WaitForServicesResult {
  passed: boolean;
  poll: PollResult;
  /** Every container at the last attempt. */
  states: ServiceState[];
  /** Containers not up at the last attempt. */
  failing: ServiceState[];
  /** On failure: one line naming the services and their state. */
  message?: string;
  /** On failure: health log and last log lines of each failing container. */
  diagnostics?: string;
}

/**
 * Waits until the Compose services of `app` on one droplet are up (healthy when they have a
 * healthcheck, running otherwise, one-shot containers completed) — for deploy-compose and
 * rolling-update after `up -d`. Never throws for a service that does not come up: the
 * result says so, with diagnostics ready for an error message.
 */
export async function waitForServices(
  host: RemoteHost,
  options: WaitForServicesOptions,
): Promise<WaitForServicesResult> {
  const probe = containerProbe(host, options);
  const poll = await pollUntil(probe.attempt, {
    deadlineMs: options.timeoutMs,
    intervalMs: options.intervalMs ?? 1000,
    successes: options.successes ?? 1,
    ...(options.now ? { now: options.now } : {}),
    ...(options.sleep ? { sleep: options.sleep } : {}),
    onAttempt: (r) => {
      if (!r.ok)
        options.logger?.debug(
          `${host.label}: services of ${options.app} not up yet (attempt ${r.attempt}): ${r.detail ?? r.status}`,
        );
    },
  });
  const result: WaitForServicesResult = {
    passed: poll.passed,
    poll,
    states: probe.lastStates(),
    failing: probe.failing(),
  };
  if (!poll.passed) {
    const last = poll.last;
    result.message =
      `on ${host.label}: services of ${options.app} were not up within ${formatDuration(options.timeoutMs)}` +
      (last ? `: ${last.detail ?? last.status}` : '');
    if (result.failing.length > 0) {
      try {
        result.diagnostics = await containerDiagnostics(host, result.failing, options.logLines ?? 30);
      } catch (error) {
        result.diagnostics = `(could not read diagnostics: ${error instanceof Error ? error.message : String(error)})`;
      }
    }
  }
  return result;
}
