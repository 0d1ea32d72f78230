// A private copy of the action repository for workflow runs: the action.yml files plus
// dist/<name>/ bundles built from the current sources by scripts/build.mjs (--out), in a
// temporary directory — so a test or the demo never rewrites the shared dist/ while others
// work on it. Runs use it as `actionRepo`.
import { spawn } from 'node:child_process';
import { copyFileSync, existsSync, mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { REPO_ROOT } from './runner.js';

/** scripts/build.mjs --out <outRoot> <name>: dist/<name>/ (post step included) under outRoot. */
function build(name: string, outRoot: string): Promise<void> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [join(REPO_ROOT, 'scripts/build.mjs'), '--out', outRoot, name], {
      cwd: REPO_ROOT,
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let out = '';
    child.stdout.on('data', (d: Buffer) => (out += d.toString()));
    child.stderr.on('data', (d: Buffer) => (out += d.toString()));
    child.on('error', reject);
    child.on('close', (code) =>
      code === 0 && existsSync(join(outRoot, name, 'index.js'))
        ? resolve()
        : reject(new Error(`build of ${name} failed:\n${out.slice(-3000)}`)),
    );
  });
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
    await build(name, join(dir, 'dist'));
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
