// vitest globalSetup for vitest.config.e2e.ts: reuse a lab that is already up (state file +
// API health check), else start one with the CLI (a detached holder process, so S3 gets
// NODE_OPTIONS=--openssl-legacy-provider). Concurrent runs share it; see setup() below.
import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import type { TestProject } from 'vitest/node';
import type { LabEnv } from './contract.js';
import { LAB_DIR, labHealthy, readState, type LabInfo } from './lab.js';
import { log } from './util.js';

declare module 'vitest' {
  export interface ProvidedContext {
    lab: LabEnv;
    labInfo: LabInfo;
  }
}

const CLI = fileURLToPath(new URL('./cli.ts', import.meta.url));

function cli(args: string[]): Promise<string> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ['--import', 'tsx', CLI, ...args], { stdio: ['ignore', 'pipe', 'inherit'] });
    let out = '';
    child.stdout.on('data', (d: Buffer) => (out += d.toString()));
    child.on('error', reject);
    child.on('close', (code) =>
      code === 0 ? resolve(out) : reject(new Error(`npm run lab -- ${args[0]} exited ${code}`)),
    );
  });
}

/**
 * Registers this run as a user of the lab in LAB_DIR (starting one if none is healthy). At the
 * end, a lab started for test runs goes down when its last run ends; a lab started by hand
 * (`npm run lab -- up`) stays. LAB_KEEP=1 keeps a lab this run started.
 */
export default async function setup(project: TestProject): Promise<() => Promise<void>> {
  const t = Date.now();
  const reused = await labHealthy();
  await cli(['up', ...(process.env.LAB_KEEP === '1' ? [] : ['--ephemeral']), '--user', String(process.pid)]);
  const state = readState();
  if (!state?.env || state.status !== 'ready') throw new Error(`no ready lab in ${LAB_DIR}`);
  log(
    `${reused ? 'reusing' : 'started'} lab ${state.info.id} (${LAB_DIR}) in ${((Date.now() - t) / 1000).toFixed(1)} s`,
  );
  project.provide('lab', state.env);
  project.provide('labInfo', state.info as LabInfo);
  return async () => {
    await cli(['release', String(process.pid)]);
  };
}
