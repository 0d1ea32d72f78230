// A gate: several checks polled together under one deadline, each with its own poll
// settings; the gate passes only when every check passes (and stays within its latency
// budget). Used by health-gate and by the deploy actions after switching a release.

import type { Logger } from '../action/logger.js';
import { formatDuration } from '../action/parsers.js';
import { redact } from '../action/secrets.js';
import type { RemoteHost } from '../ssh/executor.js';
import type { HealthCheck } from './check.js';
import { containerDiagnostics, containerProbe } from './container.js';
import { type CheckDefinition, displayUrl, fillHost, usesHostPlaceholder } from './definitions.js';
import { dropletHttpAttempt } from './http-droplet.js';
import { runnerHttpAttempt } from './http-runner.js';
import { type CheckOutcome, p50, p95, pollUntil } from './poll.js';
import { tcpAttempt } from './tcp.js';

/** Whether a definition runs on droplets (and so needs SSH targets). */
export function runsOnDroplet(def: CheckDefinition): boolean {
  return def.kind === 'container' || (def.kind === 'http' && def.via === 'droplet');
}

export interface BuildDeps {
  /** Connected droplets; droplet-side checks get one copy per host. */
  hosts: readonly RemoteHost[];
  /** Droplet addresses (input host/hosts) for runner-side checks written with `{host}`. */
  targets?: readonly { label: string; address: string }[];
  logger: Logger;
  now?: () => number;
}

/** Binds definitions to where they run. Warns once per check that turns TLS verification off. */
export function buildChecks(defs: readonly CheckDefinition[], deps: BuildDeps): HealthCheck[] {
  const checks: HealthCheck[] = [];
  const now = deps.now ?? Date.now;
  for (const def of defs) {
    if (def.kind === 'http' && !def.tlsVerify && def.url.startsWith('https:')) {
      deps.logger.warn(
        `check "${def.name}": TLS verification is off (tls-verify: false); the certificate is not checked, so anyone in the path could answer`,
      );
    }
    if (!runsOnDroplet(def) && usesHostPlaceholder(def)) {
      const targets = deps.targets ?? [];
      if (targets.length === 0)
        throw new Error(`${def.where} ("${def.name}") uses {host} but no droplet address was given`);
      for (const t of targets) {
        const name = `${def.name} @ ${t.label}`;
        if (def.kind === 'http') {
          const copy = { ...def, url: fillHost(def.url, t.address), name };
          checks.push({
            name,
            kind: 'http',
            target: `${copy.method} ${displayUrl(copy.url)}`,
            poll: def.poll,
            attempt: runnerHttpAttempt(copy, { now }),
          });
        } else if (def.kind === 'tcp') {
          const copy = { ...def, host: t.address, name };
          checks.push({
            name,
            kind: 'tcp',
            target: `${t.address}:${def.port}`,
            poll: def.poll,
            attempt: tcpAttempt(copy),
          });
        }
      }
      continue;
    }
    if (!runsOnDroplet(def)) {
      if (def.kind === 'http') {
        checks.push({
          name: def.name,
          kind: 'http',
          target: `${def.method} ${displayUrl(def.url)}`,
          poll: def.poll,
          attempt: runnerHttpAttempt(def, { now }),
        });
      } else if (def.kind === 'tcp') {
        checks.push({
          name: def.name,
          kind: 'tcp',
          target: `${def.host}:${def.port}`,
          poll: def.poll,
          attempt: tcpAttempt(def),
        });
      }
      continue;
    }
    if (deps.hosts.length === 0) {
      throw new Error(`${def.where} ("${def.name}") runs on the droplet but no droplet is connected`);
    }
    for (const host of deps.hosts) {
      const name = deps.hosts.length > 1 ? `${def.name} @ ${host.label}` : def.name;
      if (def.kind === 'http') {
        const copy = { ...def, url: fillHost(def.url, host.address), name };
        checks.push({
          name,
          kind: 'http',
          target: `${copy.method} ${displayUrl(copy.url)} (from ${host.label})`,
          poll: def.poll,
          attempt: dropletHttpAttempt(copy, host, { now }),
        });
      } else if (def.kind === 'container') {
        const probe = containerProbe(host, { app: def.app, services: def.services, require: def.require });
        checks.push({
          name,
          kind: 'container',
          target: `${def.app}${def.services.length ? ` [${def.services.join(', ')}]` : ''} on ${host.label}`,
          poll: def.poll,
          attempt: probe.attempt,
          diagnose: async () => {
            const failing = probe.failing();
            if (failing.length === 0) return undefined;
            return containerDiagnostics(host, failing, def.logLines);
          },
        });
      }
    }
  }
  return checks;
}

export interface CheckReport {
  name: string;
  kind: string;
  target: string;
  passed: boolean;
  attempts: number;
  passes: number;
  lastStatus: string;
  lastDetail?: string;
  /** Body excerpt of the last attempt (redacted). */
  excerpt?: string;
  latencyP50Ms?: number;
  latencyP95Ms?: number;
  latencyBudgetMs?: number;
  elapsedMs: number;
  /** Why the check failed, one paragraph; undefined when it passed. */
  failure?: string;
  /** Container health log / log tail (redacted). */
  diagnostics?: string;
}

export interface GateResult {
  passed: boolean;
  checks: CheckReport[];
  attempts: number;
  lastStatus: string;
  latencyP50Ms?: number;
  latencyP95Ms?: number;
}

export interface GateOptions {
  logger: Logger;
  /** Secret values (and their derived forms are computed) to redact from everything reported. */
  secrets: readonly string[];
  now?: () => number;
  sleep?: (ms: number) => Promise<void>;
}

function redactOutcome(o: CheckOutcome, secrets: readonly string[]): CheckOutcome {
  return {
    ...o,
    status: redact(o.status, secrets),
    ...(o.detail !== undefined ? { detail: redact(o.detail, secrets) } : {}),
    ...(o.excerpt !== undefined ? { excerpt: redact(o.excerpt, secrets) } : {}),
  };
}

async function runOne(check: HealthCheck, options: GateOptions): Promise<{ report: CheckReport; latencies: number[] }> {
  const { logger, secrets } = options;
  const successes = check.poll.successes;
  const result = await pollUntil(async (ctx) => redactOutcome(await check.attempt(ctx), secrets), {
    deadlineMs: check.poll.timeoutMs,
    intervalMs: check.poll.intervalMs,
    successes,
    startDelayMs: check.poll.startDelayMs,
    ...(options.now ? { now: options.now } : {}),
    ...(options.sleep ? { sleep: options.sleep } : {}),
    onAttempt: (r) => {
      const streak = successes > 1 ? ` (${r.streak}/${successes} in a row)` : '';
      const why = r.ok ? '' : r.detail ? ` — ${r.detail}` : '';
      logger.info(
        `[${check.name}] attempt ${r.attempt}: ${r.ok ? 'pass' : 'fail'} ${r.status} in ${r.latencyMs}ms${streak}${why}`,
      );
    },
  });
  const last = result.last;
  const report: CheckReport = {
    name: check.name,
    kind: check.kind,
    target: redact(check.target, secrets),
    passed: result.passed,
    attempts: result.attempts,
    passes: result.passes,
    lastStatus: last?.status ?? 'not run',
    elapsedMs: result.elapsedMs,
  };
  if (last?.detail) report.lastDetail = last.detail;
  if (last?.excerpt) report.excerpt = last.excerpt;
  const latencies = result.passLatenciesMs;
  const q50 = p50(latencies);
  const q95 = p95(latencies);
  if (q50 !== undefined) report.latencyP50Ms = q50;
  if (q95 !== undefined) report.latencyP95Ms = q95;
  if (check.poll.latencyBudgetMs !== undefined) report.latencyBudgetMs = check.poll.latencyBudgetMs;

  if (
    result.passed &&
    q95 !== undefined &&
    check.poll.latencyBudgetMs !== undefined &&
    q95 > check.poll.latencyBudgetMs
  ) {
    report.passed = false;
    report.failure =
      `check "${check.name}" answered but too slowly: latency p95 ${q95}ms is over the budget of ` +
      `${formatDuration(check.poll.latencyBudgetMs)} (p50 ${q50}ms over ${latencies.length} passing attempt(s))`;
  } else if (!result.passed) {
    const why =
      result.end === 'aborted' ? 'was stopped' : `did not pass within ${formatDuration(check.poll.timeoutMs)}`;
    const streak =
      successes > 1
        ? ` (needed ${successes} passes in a row; ${result.passes} of ${result.attempts} attempts passed)`
        : '';
    const parts = [
      `check "${check.name}" ${why} after ${result.attempts} attempt(s)${streak}: last status ${report.lastStatus}` +
        (last?.detail ? ` (${last.detail})` : ''),
    ];
    if (last?.excerpt) parts.push(`body: ${JSON.stringify(last.excerpt)}`);
    report.failure = parts.join('; ');
    if (check.diagnose) {
      try {
        const d = await check.diagnose();
        if (d) report.diagnostics = redact(d, secrets);
      } catch (error) {
        report.diagnostics = `(could not read diagnostics: ${redact(error instanceof Error ? error.message : String(error), secrets)})`;
      }
    }
  }
  return { report, latencies };
}

/** Polls every check concurrently; never throws for a failing check (the result says so). */
export async function runGate(checks: readonly HealthCheck[], options: GateOptions): Promise<GateResult> {
  const ran = await Promise.all(checks.map((c) => runOne(c, options)));
  return summarize(
    ran.map((r) => r.report),
    ran.flatMap((r) => r.latencies),
  );
}

/** Gate-wide figures: total attempts, last statuses, percentiles over every passing attempt of every check. */
export function summarize(reports: CheckReport[], passLatenciesMs: readonly number[]): GateResult {
  const result: GateResult = {
    passed: reports.length > 0 && reports.every((r) => r.passed),
    checks: reports,
    attempts: reports.reduce((n, r) => n + r.attempts, 0),
    lastStatus:
      reports.length === 1
        ? (reports[0] as CheckReport).lastStatus
        : reports.map((r) => `${r.name}: ${r.lastStatus}`).join('; '),
  };
  const q50 = p50(passLatenciesMs);
  const q95 = p95(passLatenciesMs);
  if (q50 !== undefined) result.latencyP50Ms = q50;
  if (q95 !== undefined) result.latencyP95Ms = q95;
  return result;
}
