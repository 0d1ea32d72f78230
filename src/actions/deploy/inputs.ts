import { ConfigurationError } from '../../lib/action/errors.js';
import type { InputGetter } from '../../lib/action/inputs.js';
import { InputReader } from '../../lib/action/inputs.js';
import { parseUrl } from '../../lib/action/parsers.js';
import { type CheckDefinition, parseCheckList, shorthandDefinition } from '../../lib/health/definitions.js';
import { type BackupBeforeSettings, readBackupBeforeInputs } from '../../lib/migrate/backup-before.js';
import { parseCommand, type RunMode } from '../../lib/migrate/command.js';
import type { MigrationSettings } from '../../lib/migrate/migrate.js';
import { type Inputs as RolloutInputs, readInputs as readRolloutInputs } from '../rolling-update/inputs.js';

export interface Inputs {
  /** rolling-update's inputs (which hold deploy-compose's target, SSH, release and image inputs). */
  rollout: RolloutInputs;
  /** Present when `migrate-command` is given. */
  migration?: MigrationSettings;
  databaseUrl?: string;
  /** backup-before: a dump taken with snapshot-and-backup's dump code before the migration. */
  backup?: BackupBeforeSettings;
  /** The gate after the roll-out, before `current` is switched (empty: none). */
  gate: CheckDefinition[];
}

export function readInputs(io: { getInput: InputGetter }, env: NodeJS.ProcessEnv = process.env): Inputs {
  const r = new InputReader((name) => io.getInput(name));
  const rollout = readRolloutInputs(io, env);
  if (rollout.mode !== 'compose') {
    throw new ConfigurationError(
      'input "mode" must be "compose" in the one-step deploy; use actions/rolling-update for Swarm',
    );
  }
  if (rollout.loadBalancerId) {
    throw new ConfigurationError(
      'input "load-balancer-id" is not used by the one-step deploy (droplets are deployed one after the other); use actions/rolling-update for a fleet behind a load balancer',
    );
  }

  let migration: MigrationSettings | undefined;
  const commandText = r.optional('migrate-command');
  if (commandText) {
    const service = r.required('migrate-service');
    const statusText = r.optional('migrate-status-command');
    migration = {
      service,
      command: parseCommand('migrate-command', commandText),
      runMode: r.enum<RunMode>('migrate-run-mode', ['run', 'exec'], 'run'),
      ...(statusText ? { statusCommand: parseCommand('migrate-status-command', statusText) } : {}),
      databaseUrlEnv: r.string('database-url-env', 'DATABASE_URL'),
      waitFor: parseCheckList(
        r.raw('migrate-wait-for'),
        { intervalMs: 2000, successes: 1, timeoutMs: 120_000, startDelayMs: 0, app: rollout.deploy.app },
        'migrate-wait-for',
      ),
      timeoutMs: r.duration('migrate-timeout', '10m', { minMs: 1000 }),
    };
  } else if (r.has('migrate-service')) {
    throw new ConfigurationError('input "migrate-service" is set but "migrate-command" is not');
  }
  const databaseUrl = r.optional('database-url');
  if (databaseUrl)
    parseUrl('database-url', databaseUrl, ['postgres:', 'postgresql:', 'mysql:', 'mariadb:'], { secret: true });

  const backup = readBackupBeforeInputs(r, {
    app: rollout.deploy.app,
    deployRoot: rollout.deploy.baseDir,
    ...(databaseUrl ? { databaseUrl } : {}),
  });
  if (backup && !migration) {
    throw new ConfigurationError(
      'input "backup-before" takes its dump just before the migration: it needs "migrate-command" (and "migrate-service")',
    );
  }

  const defaults = {
    intervalMs: r.duration('gate-interval', '2s', { minMs: 100 }),
    successes: r.int('gate-successes', 1, { min: 1, max: 100 }),
    timeoutMs: r.duration('gate-timeout', '2m', { minMs: 1000 }),
    startDelayMs: 0,
    app: rollout.deploy.app,
  };
  const gate = parseCheckList(r.raw('gate-checks'), defaults, 'gate-checks');
  if (r.has('gate-url')) gate.push(shorthandDefinition(r.raw('gate-url'), r.raw('gate-expect-status'), defaults));
  return {
    rollout,
    ...(migration ? { migration } : {}),
    ...(databaseUrl ? { databaseUrl } : {}),
    ...(backup ? { backup } : {}),
    gate,
  };
}
