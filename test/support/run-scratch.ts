// One scratch folder per e2e run: test/support/run-scratch-setup.ts (a globalSetup of
// vitest.config.e2e.ts) creates it before the workers start and removes it, with everything in
// it, when the run ends. Vitest ends its workers without an `exit` event, so a file's own
// clean-up on exit never runs there; whatever the support code puts under this folder (private
// bundles, the runner files of each action run) goes with the run instead of piling up in /tmp.
// Outside such a run (benches, scripts) the folder is the system's temporary folder.
import { existsSync, mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

/** Environment variable the globalSetup sets; the workers (started after it) inherit it. */
export const RUN_SCRATCH_ENV = 'DDLAB_RUN_SCRATCH';

/** Name of a run's folder in the system's temporary folder: ddlab-run-<pid of the vitest process>-XXXXXX. */
export const RUN_SCRATCH_PATTERN = /^ddlab-run-(\d+)-/;

export function runScratchRoot(): string {
  const root = process.env[RUN_SCRATCH_ENV];
  return root && existsSync(root) ? root : tmpdir();
}

/** A new folder `<prefix>XXXXXX` in the run's scratch folder. */
export function scratchDir(prefix: string): string {
  return mkdtempSync(join(runScratchRoot(), prefix));
}
