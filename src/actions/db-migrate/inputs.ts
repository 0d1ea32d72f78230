import { ConfigurationError } from '../../lib/action/errors.js';
import type { InputGetter } from '../../lib/action/inputs.js';
import { InputReader } from '../../lib/action/inputs.js';
import { parseUrl } from '../../lib/action/parsers.js';
import { type CheckDefinition, parseCheckList } from '../../lib/health/definitions.js';
import { type BackupBeforeSettings, readBackupBeforeInputs } from '../../lib/migrate/backup-before.js';
import { parseCommand, type RunMode } from '../../lib/migrate/command.js';
import { type Inputs as DeployInputs, readInputs as readDeployInputs } from '../deploy-compose/inputs.js';

export interface Inputs {
  /** The release to stage and migrate: deploy-compose's target, SSH, release and image inputs. */
  deploy: DeployInputs;
  service: string;
  command: string[];
  runMode: RunMode;
  statusCommand?: string[];
  databaseUrl?: string;
  databaseClusterId?: string;
  /** The variable the database URL is passed in (input `database-url-env`). */
  databaseUrlEnv: string;
  waitFor: CheckDefinition[];
  /** Deadline for the migration command itself. */
  timeoutMs: number;
  /** backup-before: a dump taken with snapshot-and-backup's dump code before the migration. */
  backup?: BackupBeforeSettings;
}

export function readInputs(io: { getInput: InputGetter }, env: NodeJS.ProcessEnv = process.env): Inputs {
  const r = new InputReader((name) => io.getInput(name));
  const command = parseCommand('command', r.required('command'));
  const service = r.required('service');
  if (!/^[a-zA-Z0-9][a-zA-Z0-9_.-]*$/.test(service)) {
    throw new ConfigurationError(`input "service" has ${JSON.stringify(service)}: not a Compose service name`);
  }
  const databaseUrl = r.optional('database-url');
  const databaseClusterId = r.optional('database-cluster-id');
  if (databaseUrl && databaseClusterId) {
    throw new ConfigurationError(
      'inputs "database-url" and "database-cluster-id" cannot be used together; give only one',
    );
  }
  if (databaseUrl)
    parseUrl('database-url', databaseUrl, ['postgres:', 'postgresql:', 'mysql:', 'mariadb:'], { secret: true });
  const databaseUrlEnv = r.string('database-url-env', 'DATABASE_URL');
  if (!/^[A-Za-z_][A-Za-z0-9_]*$/.test(databaseUrlEnv)) {
    throw new ConfigurationError(`input "database-url-env" has ${JSON.stringify(databaseUrlEnv)}: not a variable name`);
  }
  const timeoutMs = r.duration('timeout', '10m', { minMs: 1000 });
  const deploy = readDeployInputs(io, env);
  if (databaseClusterId && !deploy.token) {
    throw new ConfigurationError(
      'input "database-cluster-id" needs "token" to read the connection string from the API',
    );
  }
  const waitFor = parseCheckList(
    r.raw('wait-for'),
    {
      intervalMs: 2000,
      successes: 1,
      timeoutMs: r.duration('wait-for-timeout', '2m'),
      startDelayMs: 0,
      app: deploy.app,
    },
    'wait-for',
  );
  const statusText = r.optional('status-command');
  const backup = readBackupBeforeInputs(r, {
    app: deploy.app,
    deployRoot: deploy.baseDir,
    ...(databaseUrl ? { databaseUrl } : {}),
    databaseUrlFromApi: Boolean(databaseClusterId),
  });
  return {
    deploy,
    service,
    command,
    runMode: r.enum<RunMode>('run-mode', ['run', 'exec'], 'run'),
    ...(statusText ? { statusCommand: parseCommand('status-command', statusText) } : {}),
    ...(databaseUrl ? { databaseUrl } : {}),
    ...(databaseClusterId ? { databaseClusterId } : {}),
    databaseUrlEnv,
    waitFor,
    timeoutMs,
    ...(backup ? { backup } : {}),
  };
}
