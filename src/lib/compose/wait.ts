// Step 4 of a deploy: after `up -d`, wait until every service of the release is running
// and, where it has a healthcheck, healthy — read from Docker (labels + inspect) through
// the health library, so Compose v1 and v2 behave the same. A container that exited with
// 0 and was not restarted is a finished one-shot job (a migration), which counts as up.
// An `unhealthy` container or one that exited non-zero ends the wait at once.

import { containerDiagnostics, containerProbe } from '../health/container.js';
import { pollUntil } from '../health/poll.js';
import type { RemoteHost } from '../ssh/executor.js';
import type { ServiceState } from './state.js';

export interface WaitOptions {
  app: string;
  services: readonly string[];
  deadlineMs: number;
  intervalMs?: number;
  /** Log lines per failing container in the failure report. */
  logLines?: number;
  now?: () => number;
  sleep?: (ms: number) => Promise<void>;
  onProgress?: (detail: string) => void;
  /**
   * The containers' states read just now (e.g. at the end of the script that ran `up`): the
   * first check judges them instead of asking the droplet again.
   */
  firstStates?: readonly ServiceState[];
}

export interface WaitResult {
  ok: boolean;
  states: ServiceState[];
  /** One line: which services are not up and why. */
  problem?: string;
  /** Health log and log tail of the failing containers. */
  diagnostics?: string;
  elapsedMs: number;
}

function isFinishedJob(s: ServiceState): boolean {
  return s.status === 'exited' && s.exitCode === 0 && s.restartCount === 0;
}

function isTerminal(s: ServiceState): boolean {
  return s.health === 'unhealthy' || ((s.status === 'exited' || s.status === 'dead') && s.exitCode !== 0);
}

export async function waitForServices(host: RemoteHost, options: WaitOptions): Promise<WaitResult> {
  const probe = containerProbe(host, {
    app: options.app,
    services: options.services,
    require: 'healthy',
    ...(options.firstStates ? { first: options.firstStates } : {}),
  });
  const abort = new AbortController();
  let terminal: ServiceState[] = [];
  let lastDetail = '';
  const result = await pollUntil(
    async (ctx) => {
      const outcome = await probe.attempt(ctx);
      if (outcome.ok) return outcome;
      const failing = probe.failing();
      const states = probe.lastStates().filter((s) => !s.oneOff && options.services.includes(s.service));
      const missing = options.services.filter((svc) => !states.some((s) => s.service === svc));
      if (missing.length === 0 && failing.length > 0 && failing.every(isFinishedJob)) {
        return { ...outcome, ok: true, status: 'running', detail: 'up (one-shot jobs finished)' };
      }
      terminal = failing.filter(isTerminal);
      if (terminal.length > 0) abort.abort();
      return outcome;
    },
    {
      deadlineMs: options.deadlineMs,
      intervalMs: options.intervalMs ?? 500,
      successes: 1,
      signal: abort.signal,
      ...(options.now ? { now: options.now } : {}),
      ...(options.sleep ? { sleep: options.sleep } : {}),
      onAttempt: (a) => {
        const detail = a.ok ? `${a.status}: ${a.detail ?? ''}` : `waiting: ${a.detail ?? a.status}`;
        if (detail !== lastDetail) options.onProgress?.(detail);
        lastDetail = detail;
      },
    },
  );
  const states = probe.lastStates().filter((s) => !s.oneOff);
  if (result.passed) return { ok: true, states, elapsedMs: result.elapsedMs };
  const failing = terminal.length > 0 ? terminal : probe.failing();
  const problem =
    result.end === 'aborted'
      ? `${terminal.map((s) => `service ${s.service} is ${s.health === 'unhealthy' ? 'unhealthy' : `${s.status} (exit ${s.exitCode})`}`).join('; ')}`
      : `not every service was up within ${Math.round(options.deadlineMs / 1000)}s: ${result.last?.detail ?? result.last?.status ?? 'no answer'}`;
  const diagnostics = failing.length
    ? await containerDiagnostics(host, failing, options.logLines ?? 20).catch(
        (e: unknown) => `(could not read diagnostics: ${e instanceof Error ? e.message : String(e)})`,
      )
    : undefined;
  return {
    ok: false,
    states,
    problem,
    ...(diagnostics ? { diagnostics } : {}),
    elapsedMs: result.elapsedMs,
  };
}
