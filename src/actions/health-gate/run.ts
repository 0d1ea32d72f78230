import type { ActionIo } from '../../lib/action/core.js';
import { formatDuration } from '../../lib/action/parsers.js';
import { maskSecret, redact } from '../../lib/action/secrets.js';
import { type Cell, SummaryBuilder } from '../../lib/action/summary.js';
import { buildChecks, type GateResult, runGate } from '../../lib/health/gate.js';
import type { RemoteHost } from '../../lib/ssh/executor.js';
import { guardSshInputs } from '../../lib/ssh/inputs.js';
import type { HostConnector } from '../../lib/ssh/pool.js';
import type { HostTarget } from '../../lib/ssh/target.js';
import type { Inputs, SshInputs } from './inputs.js';

export interface Deps {
  /** Opens SSH connections (one per host); only called when a check runs on droplets. */
  openConnector(ssh: SshInputs): HostConnector;
  now?: () => number;
  sleep?: (ms: number) => Promise<void>;
}

export interface Outputs {
  passed: boolean;
  attempts: number;
  lastStatus: string;
  latencyP50Ms?: number;
  latencyP95Ms?: number;
  report: GateResult;
}

export class HealthGateFailure extends Error {
  override readonly name = 'HealthGateFailure';
}

function summary(result: GateResult): SummaryBuilder {
  const b = new SummaryBuilder().heading(result.passed ? 'Health gate passed' : 'Health gate failed');
  const rows: Cell[][] = result.checks.map((c) => [
    c.name,
    c.kind,
    c.target,
    c.passed ? 'pass' : 'FAIL',
    `${c.passes}/${c.attempts}`,
    c.lastStatus,
    c.latencyP50Ms,
    c.latencyP95Ms,
    c.latencyBudgetMs !== undefined ? formatDuration(c.latencyBudgetMs) : undefined,
    formatDuration(c.elapsedMs),
  ]);
  b.table(
    ['Check', 'Kind', 'Target', 'Result', 'Passes/attempts', 'Last status', 'p50 ms', 'p95 ms', 'Budget', 'Time'],
    rows,
  );
  for (const c of result.checks) {
    if (!c.failure) continue;
    b.details(`${c.name}: why it failed`, [c.failure, c.diagnostics].filter(Boolean).join('\n\n'));
  }
  return b;
}

export async function run(inputs: Inputs, io: ActionIo, deps: Deps): Promise<Outputs> {
  const { logger } = io;
  for (const s of inputs.secrets) maskSecret((v) => io.setSecret(v), s);
  for (const u of inputs.secretUrls) maskSecret((v) => io.setSecret(v), u, 'url');
  if (inputs.ssh) guardSshInputs(inputs.ssh.settings, io);
  const secrets = [...inputs.secrets];

  let connector: HostConnector | undefined;
  const hosts: RemoteHost[] = [];
  try {
    if (inputs.ssh) {
      connector = deps.openConnector(inputs.ssh);
      const open = connector;
      try {
        const connected = await Promise.all(inputs.ssh.targets.map((t: HostTarget) => open.connect(t)));
        hosts.push(...connected);
      } catch (error) {
        // No check ran: say so in the outputs too, so a following step reading them sees a failed gate.
        io.setOutput('passed', 'false');
        io.setOutput('attempts', '0');
        io.setOutput('last-status', 'ssh connection failed');
        throw new HealthGateFailure(
          `could not reach the droplet(s) for the in-droplet checks, no check ran: ${redact(error instanceof Error ? error.message : String(error), secrets)}`,
          { cause: error },
        );
      }
    }
    const checks = buildChecks(inputs.checks, {
      hosts,
      targets: inputs.targets.map((t) => ({ label: t.label, address: t.host })),
      logger,
      ...(deps.now ? { now: deps.now } : {}),
    });
    logger.info(
      `health-gate: ${checks.length} check(s), overall deadline ${formatDuration(inputs.timeoutMs)}: ${checks.map((c) => c.name).join(', ')}`,
    );
    const result = await runGate(checks, {
      logger,
      secrets,
      ...(deps.now ? { now: deps.now } : {}),
      ...(deps.sleep ? { sleep: deps.sleep } : {}),
    });

    io.setOutput('passed', String(result.passed));
    io.setOutput('attempts', String(result.attempts));
    io.setOutput('last-status', result.lastStatus);
    io.setOutput('latency-p50-ms', result.latencyP50Ms !== undefined ? String(result.latencyP50Ms) : '');
    io.setOutput('latency-p95-ms', result.latencyP95Ms !== undefined ? String(result.latencyP95Ms) : '');
    io.setOutput('report', redact(JSON.stringify(result.checks), secrets));
    await io.writeSummary(summary(result).build());

    for (const c of result.checks) {
      if (c.passed)
        logger.info(
          `[${c.name}] passed: ${c.passes}/${c.attempts} attempts passed, p50 ${c.latencyP50Ms ?? '—'}ms, p95 ${c.latencyP95Ms ?? '—'}ms`,
        );
    }
    if (!result.passed) {
      const failed = result.checks.filter((c) => !c.passed);
      const message = failed
        .map((c) => [c.failure ?? `check "${c.name}" failed`, c.diagnostics].filter(Boolean).join('\n'))
        .join('\n');
      throw new HealthGateFailure(
        `${failed.length} of ${result.checks.length} check(s) failed; the deploy should not stand.\n${message}`,
      );
    }
    return {
      passed: result.passed,
      attempts: result.attempts,
      lastStatus: result.lastStatus,
      ...(result.latencyP50Ms !== undefined ? { latencyP50Ms: result.latencyP50Ms } : {}),
      ...(result.latencyP95Ms !== undefined ? { latencyP95Ms: result.latencyP95Ms } : {}),
      report: result,
    };
  } finally {
    await connector?.closeAll();
  }
}
