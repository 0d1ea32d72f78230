// A private copy of one action's bundle (dist/<name>/, post step included): built from the
// current sources, then copied to a temporary folder, so a concurrent rebuild of dist/ by
// someone else cannot pull it away mid-test. Pass the returned folder as `distRoot`.
import { spawnSync } from 'node:child_process';
import { cpSync, existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

import { REPO_ROOT } from './run-action.js';

export function buildPrivateBundle(name: string, withPost = true): string {
  const root = mkdtempSync(join(tmpdir(), `ddlab-${name}-dist-`));
  const copy = join(root, name);
  for (let attempt = 1; ; attempt += 1) {
    const r = spawnSync(process.execPath, ['scripts/build.mjs', name], { cwd: REPO_ROOT, encoding: 'utf8' });
    if (r.status !== 0) throw new Error(`build of ${name} failed:\n${r.stdout}\n${r.stderr}`);
    rmSync(copy, { recursive: true, force: true });
    try {
      cpSync(join(REPO_ROOT, 'dist', name), copy, { recursive: true });
    } catch {
      /* rebuilt by someone else meanwhile: try again */
    }
    if (existsSync(join(copy, 'index.js')) && (!withPost || existsSync(join(copy, 'post', 'index.js')))) return root;
    if (attempt >= 3) throw new Error(`dist/${name} was rebuilt by someone else during every attempt`);
  }
}
