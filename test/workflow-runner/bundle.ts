// A private copy of the action repository for workflow runs: the action.yml files plus
// dist/<name>/ bundles built from the current sources with the same ncc flags as
// scripts/build.mjs, in a temporary directory — so a test or the demo never rewrites the
// shared dist/ while others work on it. Runs use it as `actionRepo`.
import { spawn } from 'node:child_process';
import { copyFileSync, existsSync, mkdirSync, mkdtempSync, readdirSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { REPO_ROOT } from './runner.js';

function ncc(entry: string, outDir: string): Promise<void> {
  return new Promise((resolve, reject) => {
    const child = spawn(
      process.execPath,
      [
        join(REPO_ROOT, 'node_modules/@vercel/ncc/dist/ncc/cli.js'),
        'build',
        entry,
        '-o',
        outDir,
        '--quiet',
        '--transpile-only',
        '--target',
        'es2022',
      ],
      { cwd: REPO_ROOT, stdio: ['ignore', 'pipe', 'pipe'] },
    );
    let err = '';
    child.stdout.on('data', (d: Buffer) => (err += d.toString()));
    child.stderr.on('data', (d: Buffer) => (err += d.toString()));
    child.on('error', reject);
    child.on('close', (code) =>
      code === 0 ? resolve() : reject(new Error(`ncc ${entry} failed:\n${err.slice(-3000)}`)),
    );
  });
}

function removeNative(dir: string): void {
  for (const name of readdirSync(dir)) {
    const p = join(dir, name);
    if (statSync(p).isDirectory()) removeNative(p);
    else if (name.endsWith('.node') || name.endsWith('.exe')) rmSync(p);
  }
}

export interface ActionRepo {
  dir: string;
  cleanup(): void;
}

/**
 * Builds the given actions (folder names under src/actions; `deploy` is the root action) into
 * a temporary action repository. Builds run two at a time (2 cores here).
 */
export async function buildActionRepo(
  names: string[],
  onProgress: (line: string) => void = () => undefined,
): Promise<ActionRepo> {
  const dir = mkdtempSync(join(tmpdir(), 'ddwf-actions-'));
  const one = async (name: string): Promise<void> => {
    const started = Date.now();
    const yml = name === 'deploy' ? 'action.yml' : `actions/${name}/action.yml`;
    mkdirSync(join(dir, yml, '..'), { recursive: true });
    copyFileSync(join(REPO_ROOT, yml), join(dir, yml));
    const out = join(dir, 'dist', name);
    await ncc(`src/actions/${name}/index.ts`, out);
    if (existsSync(join(REPO_ROOT, 'src/actions', name, 'post.ts')))
      await ncc(`src/actions/${name}/post.ts`, join(out, 'post'));
    removeNative(out);
    onProgress(`built ${name} in ${((Date.now() - started) / 1000).toFixed(1)} s`);
  };
  const queue = [...names];
  await Promise.all(
    [0, 1].map(async () => {
      for (let n = queue.shift(); n; n = queue.shift()) await one(n);
    }),
  );
  return { dir, cleanup: () => rmSync(dir, { recursive: true, force: true }) };
}
