// Running a migration tool for a staged release on one droplet: dependencies started without
// recreating anything, wait-for checks, status before/after, the tool's output streamed to
// the log (masked) with its tail kept for errors and outputs. Used by db-migrate and the
// one-step deploy.
import { DiagnosedError, errorMessage } from '../action/errors.js';
import type { Logger } from '../action/logger.js';
import { redact } from '../action/secrets.js';
import { type ComposeProject, configResolved, upNoRecreate } from '../compose/compose.js';
import type { CheckDefinition } from '../health/definitions.js';
import { buildChecks, runGate } from '../health/gate.js';
import type { RemoteHost } from '../ssh/executor.js';
import { dependenciesOf, migrationScript, type RunMode } from './command.js';

export interface MigrationSettings {
  service: string;
  command: string[];
  runMode: RunMode;
  statusCommand?: string[];
  /** The variable the database URL is passed in. */
  databaseUrlEnv: string;
  waitFor: CheckDefinition[];
  timeoutMs: number;
}

/** Where the migration runs: a droplet and the staged release's (pinned) Compose project. */
export interface MigrationTarget {
  host: RemoteHost;
  log: Logger;
  project: ComposeProject;
  releaseId: string;
  label: string;
  /** The release `current` points at, when the caller already read it (deploy-compose's state round trip). */
  servingRelease?: string;
}

/** The migration target of a release being started (deploy-compose's start context). */
export function migrationTarget(ctx: {
  host: RemoteHost;
  log: Logger;
  project: ComposeProject;
  manifest: { id: string };
  previousManifest?: { id: string };
  target: { label: string };
}): MigrationTarget {
  return {
    host: ctx.host,
    log: ctx.log,
    project: ctx.project,
    releaseId: ctx.manifest.id,
    label: ctx.target.label,
    ...(ctx.previousManifest ? { servingRelease: ctx.previousManifest.id } : {}),
  };
}

export interface MigrationResult {
  host: string;
  release: string;
  applied: boolean;
  statusBefore?: string;
  statusAfter?: string;
  durationMs: number;
  tail: string;
}

export interface MigrationOptions {
  databaseUrl?: string;
  /** Values redacted from everything printed or kept. */
  secrets: readonly string[];
  now: () => number;
  /**
   * backup-before: called once the database is up (dependencies started, wait-for passed)
   * and before the status and migration commands. If it throws, the migration does not run.
   */
  backup?: (ctx: MigrationTarget, databaseUrl: string | undefined) => Promise<unknown>;
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

export async function runMigration(
  ctx: MigrationTarget,
  inputs: MigrationSettings,
  options: MigrationOptions,
): Promise<MigrationResult> {
  const { host, log } = ctx;
  const { databaseUrl, secrets } = options;
  const started = options.now();
  if (inputs.runMode === 'run') await startDependencies(ctx, inputs);
  if (inputs.waitFor.length) await waitForDatabase(host, inputs, log, secrets);
  if (options.backup) {
    try {
      await options.backup(ctx, databaseUrl);
    } catch (error) {
      throw new Error(
        `the backup before the migration failed, so the migration did not run: ${redact(errorMessage(error), secrets)}`,
        { cause: error },
      );
    }
  }

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
  log.info(`migrating with release ${ctx.releaseId}: ${inputs.runMode} ${inputs.service} ${inputs.command.join(' ')}`);
  let result;
  try {
    result = await exec(inputs.command, `migration output (${inputs.command.join(' ')})`, tail);
  } catch (error) {
    throw new DiagnosedError(`the migration did not finish: ${redact(errorMessage(error), secrets)}`, tail.text());
  }
  if (result.code !== 0) {
    throw new DiagnosedError(
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
    host: ctx.label,
    release: ctx.releaseId,
    applied,
    ...(statusBefore !== undefined ? { statusBefore } : {}),
    ...(statusAfter !== undefined ? { statusAfter } : {}),
    durationMs: options.now() - started,
    tail: tail.text(),
  };
}

/**
 * `run --no-deps` needs the service's dependencies (the database) up. They normally are: the
 * serving release runs them. On a first deploy they are started from the new release;
 * running containers are never recreated (`--no-recreate`), so nothing serving is touched.
 */
async function startDependencies(ctx: MigrationTarget, inputs: MigrationSettings): Promise<void> {
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
    throw new DiagnosedError(
      `could not start ${needed.join(', ')} for the migration`,
      (up.stderr || up.stdout).trim().split('\n').slice(-10).join('\n'),
    );
  }
}

async function waitForDatabase(
  host: RemoteHost,
  inputs: MigrationSettings,
  log: Logger,
  secrets: readonly string[],
): Promise<void> {
  log.info(`waiting for the database: ${inputs.waitFor.map((c) => c.name).join(', ')}`);
  const gate = await runGate(
    buildChecks(inputs.waitFor, {
      hosts: [host],
      targets: [{ label: host.label, address: host.address }],
      logger: log,
    }),
    { logger: log, secrets },
  );
  if (!gate.passed) {
    const failed = gate.checks.filter((c) => !c.passed);
    throw new DiagnosedError(
      `the database was not ready: ${failed.map((c) => c.failure ?? c.name).join('; ')}`,
      failed
        .map((c) => c.diagnostics ?? '')
        .join('\n')
        .trim() || undefined,
    );
  }
}
