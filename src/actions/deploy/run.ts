// The one-step deploy: deploy-compose's release steps on each droplet (lock → upload →
// validate → deliver → pin … switch → log → prune), with step 4 made of the other actions'
// code: migrate the staged release, roll it out service by service, gate it. The lock is
// held from upload to switch; `current` moves only after the gate passed, and on any failure
// the previous release is left (or brought back) serving.
import type { ActionIo } from '../../lib/action/core.js';
import { DiagnosedError, errorMessage } from '../../lib/action/errors.js';
import { maskSecret } from '../../lib/action/secrets.js';
import { SummaryBuilder } from '../../lib/action/summary.js';
import { buildChecks, runGate } from '../../lib/health/gate.js';
import { type BackupBeforeDeps, backupTable, prepareBackupBefore } from '../../lib/migrate/backup-before.js';
import {
  type MigrationOptions,
  type MigrationResult,
  migrationTarget,
  runMigration,
} from '../../lib/migrate/migrate.js';
import {
  type Deps as DeployDeps,
  type HostOutcome,
  run as runDeploy,
  type StartContext,
  type StartOutcome,
} from '../deploy-compose/run.js';
import { makeStarter, type StarterRecord } from '../rolling-update/starter.js';
import type { Inputs } from './inputs.js';

export interface Deps {
  io: ActionIo;
  deploy: DeployDeps;
  /** The Spaces store, clock and sleep for backup-before. */
  backup: BackupBeforeDeps;
  sleep?: (ms: number) => Promise<void>;
  now(): number;
}

export async function run(inputs: Inputs, deps: Deps): Promise<HostOutcome[]> {
  const { io } = deps;
  if (inputs.databaseUrl) maskSecret((v) => io.setSecret(v), inputs.databaseUrl, 'url');
  const backup = prepareBackupBefore(inputs.backup, deps.backup, (v) => io.setSecret(v));
  const secrets = [
    ...inputs.rollout.deploy.secrets.values(),
    ...(inputs.databaseUrl ? [inputs.databaseUrl] : []),
    ...backup.secrets,
  ];
  const { backups } = backup;
  const migrationOptions: MigrationOptions = {
    ...(inputs.databaseUrl ? { databaseUrl: inputs.databaseUrl } : {}),
    secrets,
    now: deps.now,
    ...(backup.hook ? { backup: backup.hook } : {}),
  };
  const records = new Map<string, StarterRecord>();
  const migrations: MigrationResult[] = [];
  let gatePassed = inputs.gate.length === 0;

  // The gate runs inside the roll-out, after every service rolled and before the services the
  // release dropped are removed, so a refused release finds them where they were.
  const gateRelease = async (ctx: StartContext): Promise<StartOutcome | undefined> => {
    if (inputs.gate.length === 0) return undefined;
    ctx.log.info(`gate: ${inputs.gate.map((c) => c.name).join(', ')}`);
    const gate = await runGate(
      buildChecks(inputs.gate, {
        hosts: [ctx.host],
        targets: [{ label: ctx.target.label, address: ctx.target.host }],
        logger: ctx.log,
      }),
      {
        logger: ctx.log,
        secrets,
        ...(deps.sleep ? { sleep: deps.sleep } : {}),
      },
    );
    gatePassed = gate.passed;
    if (gate.passed) return undefined;
    const failed = gate.checks.filter((c) => !c.passed);
    const diagnostics = failed
      .map((c) => c.diagnostics ?? '')
      .join('\n')
      .trim();
    return {
      ok: false,
      reason: `health gate: ${failed.map((c) => c.failure ?? c.name).join('; ')}`,
      ...(diagnostics ? { diagnostics } : {}),
      previousServing: false,
    };
  };
  const rollOut = makeStarter(inputs.rollout, records, deps.sleep, gateRelease);

  const startRelease = async (ctx: StartContext): Promise<StartOutcome> => {
    if (inputs.migration && ctx.action === 'deploy') {
      try {
        migrations.push(await runMigration(migrationTarget(ctx), inputs.migration, migrationOptions));
      } catch (error) {
        return {
          ok: false,
          reason: `migration: ${errorMessage(error)}`,
          ...(error instanceof DiagnosedError && error.diagnostics ? { diagnostics: error.diagnostics } : {}),
          previousServing: true,
        };
      }
    }
    return rollOut(ctx);
  };

  const reportBackups = async (failed: boolean): Promise<void> => {
    if (!inputs.backup) return;
    io.setOutput('backup-key', backups.map((b) => b.key).join(','));
    if (backups.length === 0) return;
    const summary = backupTable(new SummaryBuilder(), backups);
    if (failed)
      summary.text(
        'The deploy failed after this backup was taken; restore it with snapshot-and-backup (`mode: restore`, `backup-key`) if the migration changed data.',
      );
    await io.writeSummary(summary.build()).catch(() => undefined);
  };
  let outcomes: HostOutcome[];
  try {
    outcomes = await runDeploy(inputs.rollout.deploy, { ...deps.deploy, startRelease });
  } catch (error) {
    await reportBackups(true);
    throw error;
  }
  await reportBackups(false);
  io.setOutput('migrated', String(migrations.some((m) => m.applied)));
  io.setOutput('gate-passed', String(gatePassed));
  return outcomes;
}
