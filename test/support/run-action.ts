// Runs a bundled action (dist/<name>/index.js, or its post step) as a child process the way
// the GitHub runner runs node24 actions: INPUT_* environment variables, GITHUB_OUTPUT /
// GITHUB_STATE / GITHUB_ENV / GITHUB_STEP_SUMMARY files, and STATE_* for the post step.
import { spawn, type ChildProcess } from 'node:child_process';
import { readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';

import { parse } from 'yaml';

import { scratchDir } from './run-scratch.js';

export const REPO_ROOT = resolve(new URL('../..', import.meta.url).pathname);

export interface ActionRunOptions {
  /** Input name → value, exactly as in `with:` (names are uppercased, spaces → _, hyphens kept). */
  inputs?: Record<string, string>;
  /** Extra environment (GITHUB_SHA, GITHUB_WORKSPACE…). */
  env?: Record<string, string>;
  /** STATE_* for a post step (from a previous run's `state`). */
  state?: Record<string, string>;
  cwd?: string;
  /** Kill the process (SIGKILL) after this long; the result then has `killed: true`. */
  killAfterMs?: number;
  /** Called with each log line as it arrives (e.g. to kill the run at a given point). */
  onLine?: (line: string, child: ChildProcess) => void;
  /** Which file to run: dist/<name>/index.js (main) or dist/<name>/post/index.js (post). */
  entry?: 'main' | 'post';
  timeoutMs?: number;
  /** Folder holding <name>/index.js (default: the repository's dist/). */
  distRoot?: string;
}

export interface ActionRunResult {
  exitCode: number | null;
  signal: NodeJS.Signals | null;
  killed: boolean;
  /** stdout and stderr interleaved, as the runner's log shows them. */
  log: string;
  outputs: Record<string, string>;
  state: Record<string, string>;
  env: Record<string, string>;
  summary: string;
  /** The `::error::` messages (core.setFailed / core.error), unescaped. */
  errors: string[];
  durationMs: number;
}

export function inputEnvName(name: string): string {
  return `INPUT_${name.replace(/ /g, '_').toUpperCase()}`;
}

/** Parses a GITHUB_OUTPUT / GITHUB_STATE / GITHUB_ENV file (`name<<delim` blocks and `name=value` lines). */
export function parseFileCommands(text: string): Record<string, string> {
  const out: Record<string, string> = {};
  const lines = text.split('\n');
  for (let i = 0; i < lines.length; i += 1) {
    const line = lines[i] as string;
    if (!line) continue;
    const heredoc = /^([^=<]+)<<(.+)$/.exec(line);
    if (heredoc) {
      const [, name = '', delimiter = ''] = heredoc;
      const value: string[] = [];
      i += 1;
      while (i < lines.length && lines[i] !== delimiter) {
        value.push(lines[i] as string);
        i += 1;
      }
      out[name] = value.join('\n');
      continue;
    }
    const eq = line.indexOf('=');
    if (eq > 0) out[line.slice(0, eq)] = line.slice(eq + 1);
  }
  return out;
}

function unescapeCommand(s: string): string {
  return s.replace(/%0D/g, '\r').replace(/%0A/g, '\n').replace(/%25/g, '%');
}

/**
 * The inputs the runner hands an action: every default of its action.yml (root action.yml for
 * `deploy`), overridden by the step's `with:`.
 */
export function withActionDefaults(name: string, given: Record<string, string>): Record<string, string> {
  const file = name === 'deploy' ? join(REPO_ROOT, 'action.yml') : join(REPO_ROOT, 'actions', name, 'action.yml');
  const spec = parse(readFileSync(file, 'utf8')) as { inputs?: Record<string, { default?: unknown }> };
  const inputs: Record<string, string> = {};
  for (const [input, def] of Object.entries(spec.inputs ?? {})) {
    if (def.default !== undefined) inputs[input] = String(def.default);
  }
  return { ...inputs, ...given };
}

export async function runAction(name: string, options: ActionRunOptions = {}): Promise<ActionRunResult> {
  const dir = scratchDir(`ddlab-action-${name}-`);
  const files = {
    GITHUB_OUTPUT: join(dir, 'output'),
    GITHUB_STATE: join(dir, 'state'),
    GITHUB_ENV: join(dir, 'env'),
    GITHUB_STEP_SUMMARY: join(dir, 'summary'),
    GITHUB_PATH: join(dir, 'path'),
  };
  for (const f of Object.values(files)) writeFileSync(f, '');
  const env: Record<string, string> = {
    PATH: process.env['PATH'] ?? '/usr/bin:/bin',
    HOME: process.env['HOME'] ?? '/root',
    GITHUB_ACTIONS: 'true',
    CI: 'true',
    RUNNER_TEMP: dir,
    ...files,
    ...options.env,
  };
  // the post step gets the same INPUT_* as the main step
  const inputs = withActionDefaults(name, options.inputs ?? {});
  for (const [k, v] of Object.entries(inputs)) env[inputEnvName(k)] = v;
  for (const [k, v] of Object.entries(options.state ?? {})) env[`STATE_${k}`] = v;
  const dist = options.distRoot ?? join(REPO_ROOT, 'dist');
  const script = options.entry === 'post' ? join(dist, name, 'post', 'index.js') : join(dist, name, 'index.js');
  const started = Date.now();
  const child = spawn(process.execPath, [script], {
    cwd: options.cwd ?? REPO_ROOT,
    env,
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let log = '';
  let pending = '';
  const onData = (chunk: Buffer): void => {
    const text = chunk.toString('utf8');
    log += text;
    pending += text;
    let nl = pending.indexOf('\n');
    while (nl >= 0) {
      options.onLine?.(pending.slice(0, nl), child);
      pending = pending.slice(nl + 1);
      nl = pending.indexOf('\n');
    }
  };
  child.stdout.on('data', onData);
  child.stderr.on('data', onData);
  let killed = false;
  const killTimer =
    options.killAfterMs !== undefined
      ? setTimeout(() => {
          killed = true;
          child.kill('SIGKILL');
        }, options.killAfterMs)
      : undefined;
  const guard = setTimeout(() => {
    killed = true;
    child.kill('SIGKILL');
  }, options.timeoutMs ?? 600_000);
  const [exitCode, signal] = await new Promise<[number | null, NodeJS.Signals | null]>((res) =>
    child.on('close', (code, sig) => res([code, sig])),
  );
  if (killTimer) clearTimeout(killTimer);
  clearTimeout(guard);
  if (signal === 'SIGKILL') killed = true;
  const read = (f: string): string => readFileSync(f, 'utf8');
  const result: ActionRunResult = {
    exitCode,
    signal,
    killed,
    log,
    outputs: parseFileCommands(read(files.GITHUB_OUTPUT)),
    state: parseFileCommands(read(files.GITHUB_STATE)),
    env: parseFileCommands(read(files.GITHUB_ENV)),
    summary: read(files.GITHUB_STEP_SUMMARY),
    errors: [...log.matchAll(/^::error(?: [^:]*)?::(.*)$/gm)].map((m) => unescapeCommand(m[1] ?? '')),
    durationMs: Date.now() - started,
  };
  rmSync(dir, { recursive: true, force: true });
  return result;
}

/** Runs the main step, then the post step with the state it saved (as the runner does with post-if: always()). */
export async function runActionWithPost(
  name: string,
  options: ActionRunOptions = {},
): Promise<{ main: ActionRunResult; post: ActionRunResult }> {
  const main = await runAction(name, options);
  const post = await runAction(name, {
    ...options,
    entry: 'post',
    state: main.state,
    killAfterMs: undefined,
    onLine: undefined,
  });
  return { main, post };
}
