// vitest globalSetup (vitest.config.e2e.ts): the run's scratch folder (see run-scratch.ts).
// Created here, in the main vitest process, before any worker starts (so every worker inherits
// its path), and removed by the teardown once every file has run. A run that was itself killed
// (SIGKILL, no teardown) leaves its folder: the next run removes the folders whose vitest
// process is gone.
import { readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

import { RUN_SCRATCH_ENV, RUN_SCRATCH_PATTERN, scratchDir } from './run-scratch.js';

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    // EPERM: the process exists but belongs to someone else
    return (error as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/** Removes the scratch folders of earlier runs whose vitest process no longer exists; returns their names. */
export function sweepStaleRuns(parent = tmpdir()): string[] {
  const removed: string[] = [];
  for (const name of readdirSync(parent)) {
    const pid = Number(RUN_SCRATCH_PATTERN.exec(name)?.[1] ?? NaN);
    if (!Number.isInteger(pid) || pid === process.pid || alive(pid)) continue;
    rmSync(join(parent, name), { recursive: true, force: true });
    removed.push(name);
  }
  return removed;
}

export default function setup(): () => void {
  sweepStaleRuns();
  delete process.env[RUN_SCRATCH_ENV];
  const root = scratchDir(`ddlab-run-${process.pid}-`);
  process.env[RUN_SCRATCH_ENV] = root;
  return () => {
    rmSync(root, { recursive: true, force: true });
    delete process.env[RUN_SCRATCH_ENV];
  };
}
