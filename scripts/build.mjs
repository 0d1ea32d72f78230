// Bundles every action entry with @vercel/ncc into dist/<name>/index.js (ESM).
// `node scripts/build.mjs [--out DIR] [name…]`: only the named actions; --out writes
// DIR/<name>/ instead of dist/<name>/ (the tests' private bundles and workflow-runner
// action repositories are built this way, so they never rewrite the shared dist/).
// ssh2's optional native addons (.node) and pagent.exe are left out on purpose: every
// machine runs ssh2's pure-JS code, whatever Node ABI the runner has.
// Types are checked by `tsc --noEmit` (npm run build/typecheck); ncc only transpiles, so a
// type error in an unrelated file never blocks bundling one action.
import { spawnSync } from 'node:child_process';
import { existsSync, readdirSync, rmSync, statSync } from 'node:fs';
import { join, resolve } from 'node:path';

const root = new URL('..', import.meta.url).pathname;
const entries = readdirSync(join(root, 'src/actions')).filter((name) =>
  existsSync(join(root, 'src/actions', name, 'index.ts')),
);
const args = process.argv.slice(2);
const outAt = args.indexOf('--out');
if (outAt >= 0 && !args[outAt + 1]) {
  console.error('--out needs a directory');
  process.exit(2);
}
const outRoot = outAt >= 0 ? resolve(args[outAt + 1]) : join(root, 'dist');
const only = outAt >= 0 ? args.filter((_, i) => i !== outAt && i !== outAt + 1) : args;
const targets = only.length ? entries.filter((e) => only.includes(e)) : entries;

function removeUnwanted(dir) {
  for (const name of readdirSync(dir)) {
    const path = join(dir, name);
    if (statSync(path).isDirectory()) {
      removeUnwanted(path);
      if (readdirSync(path).length === 0) rmSync(path, { recursive: true });
    } else if (name.endsWith('.node') || name.endsWith('.exe')) {
      rmSync(path);
    }
  }
}

function ncc(entry, outDir, name) {
  const result = spawnSync(
    process.execPath,
    [
      join(root, 'node_modules/@vercel/ncc/dist/ncc/cli.js'),
      'build',
      entry,
      '-o',
      outDir,
      '--quiet',
      '--transpile-only',
      '--target',
      'es2022',
    ],
    { cwd: root, stdio: 'inherit' },
  );
  if (result.status !== 0) {
    console.error(`build of ${name} failed`);
    process.exit(result.status ?? 1);
  }
}

for (const name of targets) {
  const out = join(outRoot, name);
  rmSync(out, { recursive: true, force: true });
  const started = Date.now();
  ncc(`src/actions/${name}/index.ts`, out, name);
  // An action with a `post:` step has src/actions/<name>/post.ts → dist/<name>/post/index.js
  if (existsSync(join(root, 'src/actions', name, 'post.ts'))) {
    ncc(`src/actions/${name}/post.ts`, join(out, 'post'), `${name} (post)`);
  }
  removeUnwanted(out);
  const shown = outAt >= 0 ? join(out, 'index.js') : `dist/${name}/index.js`;
  console.log(`built ${shown} in ${((Date.now() - started) / 1000).toFixed(1)}s`);
}
