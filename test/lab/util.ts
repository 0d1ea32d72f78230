// Small process helpers for the lab (never imported from src/).
import { spawn, type SpawnOptions } from 'node:child_process';
import { createHash } from 'node:crypto';

/** Debian's docker client: /usr/local/bin/docker (if any) is newer than the engine. */
export const DOCKER = process.env.LAB_DOCKER_CLI ?? '/usr/bin/docker';

export interface RunOptions {
  input?: string | Buffer;
  env?: NodeJS.ProcessEnv;
  cwd?: string;
  timeoutMs?: number;
  /** Called with each chunk of stderr (progress output of slow builds). */
  onStderr?: (chunk: string) => void;
  /** Do not throw on a non-zero exit. */
  allowFail?: boolean;
}

export interface RunResult {
  code: number;
  stdout: string;
  stderr: string;
}

export class CommandError extends Error {
  constructor(
    message: string,
    readonly result: RunResult,
  ) {
    super(message);
    this.name = 'CommandError';
  }
}

/** Runs a command (argv, no shell); rejects on non-zero exit unless allowFail. */
export function run(cmd: string, args: readonly string[], opts: RunOptions = {}): Promise<RunResult> {
  return new Promise((resolve, reject) => {
    const spawnOpts: SpawnOptions = {
      env: opts.env ?? process.env,
      cwd: opts.cwd,
      stdio: ['pipe', 'pipe', 'pipe'],
    };
    const child = spawn(cmd, [...args], spawnOpts);
    const out: Buffer[] = [];
    const err: Buffer[] = [];
    let timer: NodeJS.Timeout | undefined;
    if (opts.timeoutMs) {
      timer = setTimeout(() => child.kill('SIGKILL'), opts.timeoutMs);
    }
    child.stdout?.on('data', (d: Buffer) => out.push(d));
    child.stderr?.on('data', (d: Buffer) => {
      err.push(d);
      opts.onStderr?.(d.toString());
    });
    child.on('error', (e) => {
      if (timer) clearTimeout(timer);
      reject(e);
    });
    child.on('close', (code, signal) => {
      if (timer) clearTimeout(timer);
      const result: RunResult = {
        code: code ?? (signal ? 128 : 1),
        stdout: Buffer.concat(out).toString(),
        stderr: Buffer.concat(err).toString(),
      };
      if (result.code !== 0 && !opts.allowFail) {
        const shown = [cmd, ...args.slice(0, 3)].join(' ');
        reject(
          new CommandError(
            `${shown}${args.length > 3 ? ' …' : ''} exited ${result.code}${signal ? ` (${signal})` : ''}: ${result.stderr.trim().slice(-2000)}`,
            result,
          ),
        );
        return;
      }
      resolve(result);
    });
    if (opts.input !== undefined) child.stdin?.end(opts.input);
    else child.stdin?.end();
  });
}

/** Like run() but returns stdout as bytes (tar streams). */
export function runBuffer(cmd: string, args: readonly string[]): Promise<{ stdout: Buffer }> {
  return new Promise((resolve, reject) => {
    const child = spawn(cmd, [...args], { stdio: ['ignore', 'pipe', 'pipe'] });
    const out: Buffer[] = [];
    let err = '';
    child.stdout.on('data', (d: Buffer) => out.push(d));
    child.stderr.on('data', (d: Buffer) => (err += d.toString()));
    child.on('error', reject);
    child.on('close', (code) =>
      code === 0 ? resolve({ stdout: Buffer.concat(out) }) : reject(new Error(`${cmd} exited ${code}: ${err.trim()}`)),
    );
  });
}

export function docker(args: readonly string[], opts: RunOptions = {}): Promise<RunResult> {
  if (process.env.LAB_DEBUG_DOCKER !== '1') return run(DOCKER, args, opts);
  const t = Date.now();
  const done = (): void => log(`docker ${args.slice(0, 2).join(' ')}: ${Date.now() - t} ms`);
  return run(DOCKER, args, opts).finally(done);
}

export function sha256(...parts: (string | Buffer)[]): string {
  const h = createHash('sha256');
  for (const p of parts) {
    h.update(p);
    h.update('\0');
  }
  return h.digest('hex');
}

export const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/** Polls `check` until it returns a value (not undefined/false) or the deadline passes. */
export async function waitFor<T>(
  what: string,
  check: () => Promise<T | undefined | false>,
  {
    timeoutMs = 30_000,
    intervalMs = 200,
    fatal,
  }: { timeoutMs?: number; intervalMs?: number; fatal?: (e: unknown) => boolean } = {},
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let lastError: unknown;
  for (;;) {
    try {
      const v = await check();
      if (v !== undefined && v !== false) return v;
    } catch (e) {
      if (fatal?.(e)) throw e;
      lastError = e;
    }
    if (Date.now() > deadline) {
      const detail = lastError instanceof Error ? `: ${lastError.message}` : '';
      throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}${detail}`);
    }
    await sleep(intervalMs);
  }
}

/** Log line to stderr (stdout of the CLI is reserved for NAME=value lines). */
export function log(msg: string): void {
  if (process.env.LAB_QUIET === '1') return;
  process.stderr.write(`[lab ${new Date().toISOString().slice(11, 19)}] ${msg}\n`);
}
