import type { ActionIo } from '../../lib/action/core.js';
import { formatDuration } from '../../lib/action/parsers.js';
import { maskSecret } from '../../lib/action/secrets.js';
import { SummaryBuilder } from '../../lib/action/summary.js';
import { type MigrationResult, runMigration } from '../../lib/migrate/migrate.js';
import { type Deps as DeployDeps, run as runDeploy, type StartContext } from '../deploy-compose/run.js';
import type { Inputs } from './inputs.js';

export interface Deps {
  io: ActionIo;
  /** deploy-compose's dependencies: the release is staged exactly as deploy-compose stages it. */
  deploy: DeployDeps;
  /** The connection string of a DigitalOcean managed database (private connection preferred). */
  databaseUrl(clusterId: string): Promise<string>;
  now(): number;
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
  const migrations: MigrationResult[] = [];

  const stage = {
    step: 'migrate',
    run: async (ctx: StartContext): Promise<void> => {
      const target = {
        host: ctx.host,
        log: ctx.log,
        project: ctx.project,
        releaseId: ctx.manifest.id,
        label: ctx.target.label,
      };
      migrations.push(
        await runMigration(target, inputs, { ...(databaseUrl ? { databaseUrl } : {}), secrets, now: deps.now }),
      );
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
