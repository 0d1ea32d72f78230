// Compose commands as data. Compose v2 (`docker compose`) and v1 (`docker-compose`) are
// detected once per host; every builder takes the detected flavour, so both versions run
// exactly the same steps. The project name is always the app name.

import { type Arg, cmd, type Cmd } from '../commands/cmd.js';

export interface ComposeFlavor {
  /** `['docker', 'compose']` or `['docker-compose']`. */
  command: readonly string[];
  /** e.g. "2.26.1" or "1.29.2". */
  version: string;
  major: number;
}

/** What one invocation works on: the app's project and one release's files. */
export interface ComposeProject {
  flavor: ComposeFlavor;
  /** Compose project name (the app name; never changes between releases). */
  project: string;
  /** Absolute paths of the compose files, in order (the first one's folder is the project directory). */
  files: readonly string[];
  /** Absolute path of the env file used for interpolation (the release's .env). */
  envFile?: string;
  profiles?: readonly string[];
  /** `--project-directory` (relative paths resolve against it); default: the first file's folder. */
  projectDirectory?: string;
}

export const COMPOSE_V2: ComposeFlavor = { command: ['docker', 'compose'], version: '2', major: 2 };
export const COMPOSE_V1: ComposeFlavor = { command: ['docker-compose'], version: '1', major: 1 };

export function parseDetect(stdout: string, usedPlugin: boolean): ComposeFlavor {
  const version = stdout.trim().split('\n').pop()?.trim().replace(/^v/, '') ?? '';
  const major = Number(version.split('.')[0]);
  if (!version || !Number.isFinite(major))
    throw new Error(`could not read the Compose version from ${JSON.stringify(stdout.trim())}`);
  return { command: usedPlugin ? ['docker', 'compose'] : ['docker-compose'], version, major };
}

/**
 * Reads the Compose part of probeScript's output (the version, and `plugin` for v2);
 * undefined when neither `docker compose` nor `docker-compose` answered.
 */
export function composeFromProbe(output: string): ComposeFlavor | undefined {
  const lines = output
    .trim()
    .split('\n')
    .map((l) => l.trim())
    .filter(Boolean);
  if (lines.length === 0) return undefined;
  const plugin = lines.at(-1) === 'plugin';
  const version = plugin ? lines.at(-2) : lines.at(-1);
  if (!version) return undefined;
  try {
    return parseDetect(version, plugin);
  } catch {
    return undefined;
  }
}

/** `docker compose -p <app> -f <file>… [--env-file f] [--profile p]…` */
export function composeBase(p: ComposeProject): Arg[] {
  return [...p.flavor.command, ...composeArgs(p)];
}

/** The global options of composeBase without the command (the same for v1 and v2). */
export function composeArgs(p: Omit<ComposeProject, 'flavor'>): Arg[] {
  const args: Arg[] = ['--project-name', p.project];
  for (const f of p.files) args.push('--file', f);
  if (p.projectDirectory) args.push('--project-directory', p.projectDirectory);
  if (p.envFile) args.push('--env-file', p.envFile);
  for (const profile of p.profiles ?? []) args.push('--profile', profile);
  return args;
}

/** Marks where probeScript's `config` output starts (stdout) and its exit code line. */
export const CONFIG_MARK = '@@dd:config';
export const CONFIG_EXIT_MARK = '@@dd:config-exit';

// A fixed script (no user data in it: the project's options come as positional arguments,
// quoted by the one renderer): prints the Compose version (and `plugin` for v2, as
// composeFromProbe reads it), then, in config mode, the project's `config` with the flavour
// it found. With the v2 plugin, the version and `config` run at the same time (their outputs
// wait in a folder of the run's scratch space, given as $2, removed at once).
const PROBE = [
  'mode=$1; shift',
  'if [ "$mode" = config ]; then',
  // the resolved config holds secrets: its file is the runner's alone (0600), like the .env
  '  umask 077; t=$1; shift; mkdir -p "$t" || exit 0',
  '  docker compose version --short >"$t/v" 2>/dev/null &',
  '  docker compose "$@" config >"$t/c" 2>"$t/e"; c=$?; wait',
  '  if [ -s "$t/v" ]; then',
  '    printf \'%s\\nplugin\\n\' "$(cat "$t/v")"',
  `    echo ${CONFIG_MARK}; cat "$t/c"; cat "$t/e" >&2; rm -rf "$t"`,
  `    echo; echo "${CONFIG_EXIT_MARK} $c"; exit 0`,
  '  fi',
  '  rm -rf "$t"',
  '  v=$(docker-compose version --short 2>/dev/null) && [ -n "$v" ] || exit 0',
  '  printf \'%s\\n\' "$v"',
  `  echo ${CONFIG_MARK}; docker-compose "$@" config; c=$?`,
  `  echo; echo "${CONFIG_EXIT_MARK} $c"; exit 0`,
  'fi',
  'if v=$(docker compose version --short 2>/dev/null) && [ -n "$v" ]; then printf \'%s\\nplugin\\n\' "$v"',
  'elif v=$(docker-compose version --short 2>/dev/null) && [ -n "$v" ]; then printf \'%s\\n\' "$v"; fi',
].join('\n');

/**
 * Detects Compose (v2 plugin, else v1) and, given a project, validates and resolves it with
 * `config` in the same command (`tmp`: a folder it may use and removes, in the run's scratch
 * space). The resolved YAML (stdout, after CONFIG_MARK) holds interpolated secrets: parse it,
 * never log it.
 */
export function probeScript(project?: Omit<ComposeProject, 'flavor'>, tmp?: string): Cmd {
  return cmd(
    'sh',
    '-c',
    PROBE,
    'sh',
    project ? ['config', tmp ?? '/tmp/dd-probe', ...composeArgs(project)] : ['probe'],
  );
}

/** Validates without printing the resolved file (it would contain interpolated secrets). */
export function configQuiet(p: ComposeProject): Cmd {
  return cmd(composeBase(p), 'config', '--quiet');
}

/** The resolved configuration as YAML (both versions). Never log its stdout. */
export function configResolved(p: ComposeProject): Cmd {
  return cmd(composeBase(p), 'config');
}

export function pull(p: ComposeProject, services: readonly string[] = []): Cmd {
  return cmd(composeBase(p), 'pull', '--quiet', services);
}

/** Starts the release: recreates what changed, removes services the release no longer has. */
export function upDetached(p: ComposeProject): Cmd {
  return cmd(composeBase(p), 'up', '--detach', '--remove-orphans', '--no-build');
}

/** Stops and removes the project's containers; named volumes are kept (never `-v`). */
export function down(p: ComposeProject): Cmd {
  return cmd(composeBase(p), 'down', '--remove-orphans');
}

export interface OneOffOptions {
  /** Variables passed by name only (`-e NAME`): their values come from the compose process's environment. */
  envNames?: readonly string[];
}

/** A one-off container of a service: `run --rm --no-deps -T <service> <argv…>` (the image's entrypoint applies). */
export function runOneOff(
  p: ComposeProject,
  service: string,
  argv: readonly string[],
  options: OneOffOptions = {},
): Cmd {
  const env = (options.envNames ?? []).flatMap((name) => ['-e', name]);
  return cmd(composeBase(p), 'run', '--rm', '--no-deps', '-T', env, service, argv);
}

/** A command inside the running container of a service: `exec -T <service> <argv…>`. */
export function execInService(
  p: ComposeProject,
  service: string,
  argv: readonly string[],
  options: OneOffOptions = {},
): Cmd {
  const env = (options.envNames ?? []).flatMap((name) => ['-e', name]);
  return cmd(composeBase(p), 'exec', '-T', env, service, argv);
}

/** Starts services that are not running; running containers are left exactly as they are. */
export function upNoRecreate(p: ComposeProject, services: readonly string[]): Cmd {
  return cmd(composeBase(p), 'up', '--detach', '--no-recreate', '--no-build', services);
}
