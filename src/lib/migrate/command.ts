import { parse } from 'shell-quote';
import { parse as parseYaml } from 'yaml';

import { ConfigurationError } from '../action/errors.js';
import { and, cmd, type Script, sh } from '../commands/cmd.js';
import { type ComposeProject, execInService, runOneOff } from '../compose/compose.js';

/**
 * A migration command as the user wrote it (`alembic upgrade head`, `/app/migrate.sh --all`),
 * split into argv WITHOUT a shell: the image needs no shell, and nothing in it is expanded.
 * Shell features need an explicit `sh -c '…'`.
 */
export function parseCommand(name: string, text: string): string[] {
  const argv: string[] = [];
  for (const entry of parse(text, (key) => `$${key}`)) {
    if (typeof entry !== 'string') {
      const what = 'comment' in entry ? '#' : entry.op === 'glob' ? entry.pattern : entry.op;
      throw new ConfigurationError(
        `input "${name}" has ${JSON.stringify(text)}: "${what}" would need a shell; the command runs without one — write sh -c '…' to use shell features`,
      );
    }
    argv.push(entry);
  }
  if (argv.length === 0) throw new ConfigurationError(`input "${name}" is empty`);
  return argv;
}

export type RunMode = 'run' | 'exec';

export interface MigrationCommand {
  project: ComposeProject;
  service: string;
  argv: readonly string[];
  mode: RunMode;
  /** When set, the command's stdin carries the value of this variable (e.g. DATABASE_URL) on its first line. */
  secretEnvName?: string;
}

/**
 * The remote script. A secret value (the database URL) never reaches any argv: the
 * wrapping shell reads it from stdin into the environment, and Compose passes it on by name.
 */
export function migrationScript(m: MigrationCommand): Script {
  const envNames = m.secretEnvName ? [m.secretEnvName] : [];
  const compose =
    m.mode === 'run'
      ? runOneOff(m.project, m.service, m.argv, { envNames })
      : execInService(m.project, m.service, m.argv, { envNames });
  if (!m.secretEnvName) return compose;
  return sh(and(cmd('read', '-r', m.secretEnvName), cmd('export', m.secretEnvName), compose));
}

/** The services a service depends on (`depends_on`, list or map form) in a resolved compose config. */
export function dependenciesOf(resolvedConfig: string, service: string): string[] {
  const doc = parseYaml(resolvedConfig) as { services?: Record<string, { depends_on?: unknown }> } | null;
  const svc = doc?.services?.[service];
  if (!svc) throw new Error(`the release has no service "${service}"`);
  const deps = svc.depends_on;
  if (Array.isArray(deps)) return deps.map(String);
  if (deps && typeof deps === 'object') return Object.keys(deps);
  return [];
}
