// vitest globalSetup for vitest.config.e2e.ts: reuse a lab that is already up (state file +
// API health check), else start one with the CLI (a detached holder process, so S3 gets
// NODE_OPTIONS=--openssl-legacy-provider) and tear it down when the run ends.
// LAB_KEEP=1 leaves a lab this run started running.
import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import type { TestProject } from 'vitest/node';
import type { LabEnv } from './contract.js';
import { LAB_DIR, downLab, labHealthy, readState, type LabInfo } from './lab.js';
import { log } from './util.js';

declare module 'vitest' {
  export interface ProvidedContext {
    lab: LabEnv;
    labInfo: LabInfo;
  }
}

const CLI = fileURLToPath(new URL('./cli.ts', import.meta.url));

function cli(cmd: 'up' | 'down'): Promise<string> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ['--import', 'tsx', CLI, cmd], { stdio: ['ignore', 'pipe', 'inherit'] });
    let out = '';
    child.stdout.on('data', (d: Buffer) => (out += d.toString()));
    child.on('error', reject);
    child.on('close', (code) =>
      code === 0 ? resolve(out) : reject(new Error(`npm run lab -- ${cmd} exited ${code}`)),
    );
  });
}

export default async function setup(project: TestProject): Promise<() => Promise<void>> {
  let started = false;
  let state = await labHealthy();
  if (state) {
    log(`reusing lab ${state.info.id} (${LAB_DIR})`);
  } else {
    const t = Date.now();
    await cli('up');
    started = true;
    state = readState();
    log(`lab ${state?.info.id ?? '?'} started for this run in ${((Date.now() - t) / 1000).toFixed(1)} s`);
  }
  if (!state?.env || state.status !== 'ready') throw new Error(`no ready lab in ${LAB_DIR}`);
  project.provide('lab', state.env);
  project.provide('labInfo', state.info as LabInfo);
  return async () => {
    if (!started || process.env.LAB_KEEP === '1') return;
    const r = await downLab();
    log(`lab torn down in ${r.seconds.toFixed(1)} s`);
  };
}
