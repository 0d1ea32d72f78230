import type { ActionIo } from '../../lib/action/core.js';
import { formatDuration } from '../../lib/action/parsers.js';
import { maskSecret } from '../../lib/action/secrets.js';
import { SummaryBuilder } from '../../lib/action/summary.js';
import { type BackupBeforeDeps, backupTable, prepareBackupBefore } from '../../lib/migrate/backup-before.js';
import {
  type MigrationOptions,
  type MigrationResult,
  migrationTarget,
  runMigration,
} from '../../lib/migrate/migrate.js';
import { type Deps as DeployDeps, run as runDeploy, type StartContext } from '../deploy-compose/run.js';
import type { Inputs } from './inputs.js';

export interface Deps {
  io: ActionIo;
  /** deploy-compose's dependencies: the release is staged exactly as deploy-compose stages it. */
  deploy: DeployDeps;
  /** The connection string of a DigitalOcean managed database (private connection preferred). */
  databaseUrl(clusterId: string): Promise<string>;
  /** The Spaces store, clock and sleep for backup-before. */
  backup: BackupBeforeDeps;
  now(): number;
}

export async function run(inputs: Inputs, deps: Deps): Promise<void> {
  const { io } = deps;
  const started = deps.now();
  let databaseUrl = inputs.databaseUrl;
  if (databaseUrl) maskSecret((v) => io.setSecret(v), databaseUrl, 'url');
  const backup = prepareBackupBefore(inputs.backup, deps.backup, (v) => io.setSecret(v));
  if (inputs.databaseClusterId) {
    databaseUrl = await deps.databaseUrl(inputs.databaseClusterId);
    maskSecret((v) => io.setSecret(v), databaseUrl, 'url');
  }
  const secrets = [...inputs.deploy.secrets.values(), ...(databaseUrl ? [databaseUrl] : []), ...backup.secrets];
  const migrations: MigrationResult[] = [];
  const { backups } = backup;
  const options: MigrationOptions = {
    ...(databaseUrl ? { databaseUrl } : {}),
    secrets,
    now: deps.now,
    ...(backup.hook ? { backup: backup.hook } : {}),
  };

  const stage = {
    step: 'migrate',
    run: async (ctx: StartContext): Promise<void> => {
      migrations.push(await runMigration(migrationTarget(ctx), inputs, options));
    },
  };
  try {
    await runDeploy(inputs.deploy, { ...deps.deploy, stage });
  } catch (error) {
    if (inputs.backup) io.setOutput('backup-key', backups.map((b) => b.key).join(','));
    if (backups.length) {
      await io
        .writeSummary(
          backupTable(new SummaryBuilder().heading(`db-migrate: ${inputs.deploy.app} — migration failed`), backups)
            .text(
              'The migration failed after this backup was taken; restore it with snapshot-and-backup (`mode: restore`, `backup-key`).',
            )
            .build(),
        )
        .catch(() => undefined);
    }
    throw error;
  }
  const applied = migrations.some((m) => m.applied);
  io.setOutput('applied', String(applied));
  io.setOutput('release-id', migrations[0]?.release ?? '');
  io.setOutput('duration-seconds', String(Math.round((deps.now() - started) / 100) / 10));
  io.setOutput('log', migrations.map((m) => m.tail).join('\n'));
  if (inputs.backup) io.setOutput('backup-key', backups.map((b) => b.key).join(','));
  const summary = new SummaryBuilder()
    .heading(`db-migrate: ${inputs.deploy.app} release ${migrations[0]?.release ?? ''}`)
    .table(
      ['Host', 'Applied', 'Status before', 'Status after', 'Took'],
      migrations.map((m) => [m.host, m.applied, m.statusBefore, m.statusAfter, formatDuration(m.durationMs)]),
    );
  if (backups.length) backupTable(summary, backups);
  await io.writeSummary(summary.build());
}
