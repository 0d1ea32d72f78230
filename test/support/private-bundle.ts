// A private bundle of one action (<root>/<name>/, post step included), built from the current
// sources by scripts/build.mjs straight into a temporary folder: the tests never rewrite the
// shared dist/, and a concurrent rebuild of dist/ by someone else cannot pull the bundle away
// mid-test. Pass the returned folder as `distRoot`; it is removed when the process exits (or
// remove it yourself when done).
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

import { REPO_ROOT } from './run-action.js';

const built = new Set<string>();
let cleanupRegistered = false;

function removeOnExit(root: string): void {
  built.add(root);
  if (cleanupRegistered) return;
  cleanupRegistered = true;
  process.once('exit', () => {
    for (const dir of built) rmSync(dir, { recursive: true, force: true });
  });
}

export function buildPrivateBundle(name: string): string {
  const root = mkdtempSync(join(tmpdir(), `ddlab-${name}-dist-`));
  removeOnExit(root);
  const r = spawnSync(process.execPath, ['scripts/build.mjs', '--out', root, name], {
    cwd: REPO_ROOT,
    encoding: 'utf8',
  });
  if (r.status !== 0 || !existsSync(join(root, name, 'index.js'))) {
    rmSync(root, { recursive: true, force: true });
    throw new Error(`build of ${name} failed:\n${r.stdout}\n${r.stderr}`);
  }
  return root;
}
