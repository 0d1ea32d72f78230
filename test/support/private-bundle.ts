// A private bundle of one action (<root>/<name>/, post step included), built from the current
// sources by scripts/build.mjs straight into a temporary folder: the tests never rewrite the
// shared dist/, and a concurrent rebuild of dist/ by someone else cannot pull the bundle away
// mid-test. Pass the returned folder as `distRoot`. In an e2e run it lies in the run's scratch
// folder, which the run's teardown removes (run-scratch.ts: vitest ends its workers without an
// `exit` event); elsewhere (benches) it is removed when the process exits. Remove it yourself
// when done if you like.
import { spawnSync } from 'node:child_process';
import { existsSync, rmSync } from 'node:fs';
import { join } from 'node:path';

import { REPO_ROOT } from './run-action.js';
import { scratchDir } from './run-scratch.js';

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
  const root = scratchDir(`ddlab-${name}-dist-`);
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
