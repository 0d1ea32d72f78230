import type { ActionIo } from '../../lib/action/core.js';
import { errorMessage } from '../../lib/action/errors.js';
import type { Logger } from '../../lib/action/logger.js';
import { formatDuration } from '../../lib/action/parsers.js';
import { maskSecret, redact } from '../../lib/action/secrets.js';
import { SummaryBuilder } from '../../lib/action/summary.js';
import { configResolved, upNoRecreate } from '../../lib/compose/compose.js';
import { buildChecks, runGate } from '../../lib/health/gate.js';
import { dependenciesOf, migrationScript } from '../../lib/migrate/command.js';
import type { RemoteHost } from '../../lib/ssh/executor.js';
import {
  type Deps as DeployDeps,
  type HostOutcome,
  run as runDeploy,
  StageFailure,
  type StartContext,
} from '../deploy-compose/run.js';
import type { Inputs } from './inputs.js';

export interface Deps {
  io: ActionIo;
  /** deploy-compose's dependencies: the release is staged exactly as deploy-compose stages it. */
  deploy: DeployDeps;
  /** The connection string of a DigitalOcean managed database (private connection preferred). */
  databaseUrl(clusterId: string): Promise<string>;
  now(): number;
}

interface HostMigration {
  host: string;
  release: string;
  applied: boolean;
  statusBefore?: string;
  statusAfter?: string;
  durationMs: number;
  tail: string;
}

const TAIL_LINES = 30;

/** Keeps the last lines of a stream in memory (the log gets all of them). */
class LineTail {
  private readonly lines: string[] = [];
  push(line: string): void {
    this.lines.push(line);
    if (this.lines.length > TAIL_LINES) this.lines.shift();
  }
  text(): string {
    return this.lines.join('\n');
  }
}

export async function run(inputs: Inputs, deps: Deps): Promise<void> {
  const { io } = deps;
  const started = deps.now();
  let databaseUrl = inputs.databaseUrl;
  if (databaseUrl) maskSecret((v) => io.setSecret(v), databaseUrl, 'url');
  if (inputs.databaseClusterId) {
    databaseUrl = await deps.databaseUrl(inputs.databaseClusterId);
    maskSecret((v) => io.setSecret(v), databaseUrl, 'url');
  }
  const secrets = [...inputs.deploy.secrets.values(), ...(databaseUrl ? [databaseUrl] : [])];
  const migrations: HostMigration[] = [];

  const stage = {
    step: 'migrate',
    run: async (ctx: StartContext): Promise<void> => {
      migrations.push(await migrateHost(ctx, inputs, deps, databaseUrl, secrets));
    },
  };
  await runDeploy(inputs.deploy, { ...deps.deploy, stage });

  const applied = migrations.some((m) => m.applied);
  io.setOutput('applied', String(applied));
  io.setOutput('release-id', migrations[0]?.release ?? '');
  io.setOutput('duration-seconds', String(Math.round((deps.now() - started) / 100) / 10));
  io.setOutput('log', migrations.map((m) => m.tail).join('\n'));
  const summary = new SummaryBuilder()
    .heading(`db-migrate: ${inputs.deploy.app} release ${migrations[0]?.release ?? ''}`)
    .table(
      ['Host', 'Applied', 'Status before', 'Status after', 'Took'],
      migrations.map((m) => [m.host, m.applied, m.statusBefore, m.statusAfter, formatDuration(m.durationMs)]),
    );
  await io.writeSummary(summary.build());
}

async function migrateHost(
  ctx: StartContext,
  inputs: Inputs,
  deps: Deps,
  databaseUrl: string | undefined,
  secrets: readonly string[],
): Promise<HostMigration> {
  const { host, log } = ctx;
  const started = deps.now();
  if (inputs.runMode === 'run') await startDependencies(ctx, inputs);
  if (inputs.waitFor.length) await waitForDatabase(host, inputs, log, secrets);

  const exec = async (argv: readonly string[], title: string, tail: LineTail) => {
    const script = migrationScript({
      project: ctx.project,
      service: inputs.service,
      argv,
      mode: inputs.runMode,
      ...(databaseUrl ? { secretEnvName: inputs.databaseUrlEnv } : {}),
    });
    return log.group(title, () =>
      host.run(script, {
        allowFailure: true,
        timeoutMs: inputs.timeoutMs,
        ...(databaseUrl ? { stdin: `${databaseUrl}\n` } : {}),
        onLine: (line) => {
          const clean = redact(line, secrets);
          tail.push(clean);
          log.info(clean);
        },
      }),
    );
  };

  const status = async (when: string): Promise<string | undefined> => {
    if (!inputs.statusCommand) return undefined;
    const tail = new LineTail();
    const result = await exec(
      inputs.statusCommand,
      `migration status ${when} (${inputs.statusCommand.join(' ')})`,
      tail,
    );
    if (result.code !== 0) log.warn(`status command exited with ${result.code}`);
    return tail.text().trim();
  };

  const statusBefore = await status('before');
  const tail = new LineTail();
  log.info(
    `migrating with release ${ctx.manifest.id}: ${inputs.runMode} ${inputs.service} ${inputs.command.join(' ')}`,
  );
  let result;
  try {
    result = await exec(inputs.command, `migration output (${inputs.command.join(' ')})`, tail);
  } catch (error) {
    throw new StageFailure(`the migration did not finish: ${redact(errorMessage(error), secrets)}`, tail.text());
  }
  if (result.code !== 0) {
    throw new StageFailure(
      `the migration command exited with code ${result.code}; the last lines of its output follow`,
      tail.text() || redact(result.stderr.trim(), secrets),
    );
  }
  const statusAfter = await status('after');
  const applied = statusBefore === undefined ? true : statusBefore !== statusAfter;
  log.info(
    statusBefore === undefined
      ? 'migration command succeeded'
      : applied
        ? 'migrations applied (status changed)'
        : 'nothing to apply (status unchanged)',
  );
  return {
    host: ctx.target.label,
    release: ctx.manifest.id,
    applied,
    ...(statusBefore !== undefined ? { statusBefore } : {}),
    ...(statusAfter !== undefined ? { statusAfter } : {}),
    durationMs: deps.now() - started,
    tail: tail.text(),
  };
}

/**
 * `run --no-deps` needs the service's dependencies (the database) up. They normally are: the
 * serving release runs them. On a first deploy they are started from the new release;
 * running containers are never recreated (`--no-recreate`), so nothing serving is touched.
 */
async function startDependencies(ctx: StartContext, inputs: Inputs): Promise<void> {
  const resolved = await ctx.host.run(configResolved(ctx.project), { timeoutMs: 120_000 });
  const needed = dependenciesOf(resolved.stdout, inputs.service);
  if (needed.length === 0) return;
  ctx.log.info(
    `making sure ${needed.join(', ')} ${needed.length > 1 ? 'are' : 'is'} running (running containers are left as they are)`,
  );
  const up = await ctx.host.run(upNoRecreate(ctx.project, needed), {
    allowFailure: true,
    timeoutMs: inputs.timeoutMs,
    onLine: (line) => ctx.log.info(line),
  });
  if (up.code !== 0) {
    throw new StageFailure(
      `could not start ${needed.join(', ')} for the migration`,
      (up.stderr || up.stdout).trim().split('\n').slice(-10).join('\n'),
    );
  }
}

async function waitForDatabase(
  host: RemoteHost,
  inputs: Inputs,
  log: Logger,
  secrets: readonly string[],
): Promise<void> {
  log.info(`waiting for the database: ${inputs.waitFor.map((c) => c.name).join(', ')}`);
  const gate = await runGate(buildChecks(inputs.waitFor, { hosts: [host], logger: log }), { logger: log, secrets });
  if (!gate.passed) {
    const failed = gate.checks.filter((c) => !c.passed);
    throw new StageFailure(
      `the database was not ready: ${failed.map((c) => c.failure ?? c.name).join('; ')}`,
      failed
        .map((c) => c.diagnostics ?? '')
        .join('\n')
        .trim() || undefined,
    );
  }
}

export type { HostOutcome };
