// THE one place where third-party `uses:` steps get their local equivalents. Anything not in
// this table fails the run loudly ("no local equivalent for …"), so a workflow can never pass
// locally by silently skipping a step it depends on.
//
// Each entry says what the real action does and what the local runner does instead. Inputs
// not listed in `inputs` make the step fail, so an example cannot rely on a behaviour the
// equivalent does not have.
import { spawn } from 'node:child_process';
import { chmodSync, cpSync, existsSync, mkdirSync, readdirSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

export interface ThirdPartyContext {
  /** `with:` after expression evaluation (only names listed in the entry's `inputs`). */
  inputs: Record<string, string>;
  /** The step's environment (workflow + job + GITHUB_ENV + step env). */
  env: Record<string, string>;
  workspace: string;
  /** Local directory standing for the repository that actions/checkout would fetch. */
  repository: string | undefined;
  runnerTemp: string;
  log(line: string): void;
  setOutput(name: string, value: string): void;
  addMask(value: string): void;
  addPath(dir: string): void;
  /** Runs a command (argv, no shell), streaming its output to the log; throws on non-zero exit. */
  exec(
    file: string,
    args: string[],
    opts?: { cwd?: string; stdin?: string; env?: Record<string, string> },
  ): Promise<string>;
}

export interface ThirdPartyEquivalent {
  /** What the real action does, and what happens locally instead. */
  real: string;
  local: string;
  inputs: string[];
  /** Inputs the real action requires (for validation). */
  required?: string[];
  run(ctx: ThirdPartyContext): Promise<void>;
}

const DOCKER = process.env.DOCKER_CLI ?? '/usr/bin/docker';
const HERE = fileURLToPath(new URL('.', import.meta.url));

function lines(v: string | undefined): string[] {
  return (v ?? '')
    .split(/[\n,]/)
    .map((s) => s.trim())
    .filter(Boolean);
}

function bool(v: string | undefined, fallback: boolean): boolean {
  if (v === undefined || v === '') return fallback;
  if (v === 'true') return true;
  if (v === 'false') return false;
  throw new Error(`expected true or false, got "${v}"`);
}

export const THIRD_PARTY: Record<string, ThirdPartyEquivalent> = {
  'actions/checkout': {
    real: 'clones the repository at the triggering commit into $GITHUB_WORKSPACE',
    local: "copies the local directory given as the run's `repository` into $GITHUB_WORKSPACE (or `path` under it)",
    inputs: ['path', 'fetch-depth'],
    async run(ctx) {
      if (!ctx.repository)
        throw new Error('actions/checkout: the local run has no `repository` directory to check out');
      const dest = resolve(ctx.workspace, ctx.inputs['path'] || '.');
      mkdirSync(dest, { recursive: true });
      for (const name of readdirSync(ctx.repository)) {
        if (name === 'node_modules') continue;
        cpSync(join(ctx.repository, name), join(dest, name), { recursive: true });
      }
      ctx.log(`checked out ${ctx.repository} into ${dest}`);
    },
  },
  'docker/setup-buildx-action': {
    real: 'creates a Buildx builder (docker-container driver) for the job',
    local: "checks that the local Docker engine answers; images are built with the engine's own builder",
    inputs: ['driver', 'install'],
    async run(ctx) {
      const version = await ctx.exec(DOCKER, ['version', '--format', '{{.Server.Version}}']);
      ctx.setOutput('name', 'default');
      ctx.setOutput('driver', 'docker');
      ctx.log(`using the local Docker engine ${version.trim()}`);
    },
  },
  'docker/build-push-action': {
    real: 'builds with Buildx and optionally pushes / loads the image',
    local:
      '`docker build` on the local engine (`context`, `file`, `tags`, `build-args`, `labels`); `push: true` is refused (the lab has no registry the host engine trusts); the image stays in the local engine like `load: true`',
    inputs: ['context', 'file', 'tags', 'build-args', 'labels', 'push', 'load', 'cache-from', 'cache-to', 'provenance'],
    async run(ctx) {
      if (bool(ctx.inputs['push'], false))
        throw new Error('docker/build-push-action: push: true has no local equivalent; deliver with transfer');
      const context = resolve(ctx.workspace, ctx.inputs['context'] || '.');
      const args = ['build', '--pull=false'];
      if (ctx.inputs['file']) args.push('-f', resolve(ctx.workspace, ctx.inputs['file']));
      const tags = lines(ctx.inputs['tags']);
      if (tags.length === 0) throw new Error('docker/build-push-action: no tags given');
      for (const t of tags) args.push('-t', t);
      for (const a of (ctx.inputs['build-args'] ?? '')
        .split('\n')
        .map((s) => s.trim())
        .filter(Boolean))
        args.push('--build-arg', a);
      for (const l of (ctx.inputs['labels'] ?? '')
        .split('\n')
        .map((s) => s.trim())
        .filter(Boolean))
        args.push('--label', l);
      args.push(context);
      await ctx.exec(DOCKER, args, { env: { DOCKER_BUILDKIT: '0' } });
      const id = (await ctx.exec(DOCKER, ['image', 'inspect', '--format', '{{.Id}}', tags[0]!])).trim();
      ctx.setOutput('imageid', id);
      ctx.setOutput('digest', id);
    },
  },
  'digitalocean/action-doctl': {
    real: 'installs doctl and authenticates it with `token`',
    local:
      "puts test/workflow-runner/doctl-shim.mjs on PATH as `doctl`: it implements only the doctl sub-commands our examples use, against the API given with --api-url (the lab's)",
    inputs: ['token', 'version'],
    required: ['token'],
    async run(ctx) {
      if (!ctx.inputs['token']) throw new Error('digitalocean/action-doctl: token is required');
      ctx.addMask(ctx.inputs['token']);
      const bin = join(ctx.runnerTemp, 'doctl-bin');
      mkdirSync(bin, { recursive: true });
      const shim = join(bin, 'doctl');
      writeFileSync(
        shim,
        `#!/bin/sh\nDOCTL_SHIM_DIR='${bin}' exec '${process.execPath}' '${join(HERE, 'doctl-shim.mjs')}' "$@"\n`,
      );
      chmodSync(shim, 0o755);
      writeFileSync(join(bin, '.token'), ctx.inputs['token'], { mode: 0o600 });
      ctx.addPath(bin);
      ctx.log('doctl (local shim) is on PATH');
    },
  },
};

export function thirdPartyKey(uses: string): string {
  return uses.replace(/@.*$/, '').toLowerCase();
}

export function findThirdParty(
  uses: string,
  table: Record<string, ThirdPartyEquivalent> = THIRD_PARTY,
): ThirdPartyEquivalent {
  const key = thirdPartyKey(uses);
  const eq = table[key];
  if (!eq) {
    throw new Error(
      `no local equivalent for "${uses}": add one to test/workflow-runner/third-party.ts (known: ${Object.keys(table).join(', ')})`,
    );
  }
  return eq;
}

/** Runs a command with argv (no shell), for equivalents. */
export function execFileStreaming(
  file: string,
  args: string[],
  opts: { cwd: string; env: Record<string, string>; stdin?: string; log: (line: string) => void },
): Promise<string> {
  return new Promise((resolveP, reject) => {
    const child = spawn(file, args, { cwd: opts.cwd, env: opts.env, stdio: ['pipe', 'pipe', 'pipe'] });
    let out = '';
    let buf = '';
    const onData = (chunk: Buffer, keep: boolean): void => {
      const s = chunk.toString();
      if (keep) out += s;
      buf += s;
      const parts = buf.split('\n');
      buf = parts.pop() ?? '';
      for (const p of parts) opts.log(p);
    };
    child.stdout.on('data', (c: Buffer) => onData(c, true));
    child.stderr.on('data', (c: Buffer) => onData(c, false));
    child.on('error', reject);
    child.on('close', (code) => {
      if (buf) opts.log(buf);
      if (code === 0) resolveP(out);
      else reject(new Error(`${file} ${args[0] ?? ''} exited with code ${code}`));
    });
    child.stdin.end(opts.stdin ?? '');
  });
}

export function hasDoctlShim(): boolean {
  return existsSync(join(HERE, 'doctl-shim.mjs'));
}
