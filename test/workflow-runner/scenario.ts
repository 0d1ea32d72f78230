// The example workflows played on the lab as a user would: deploy the sample app, change it and
// deploy again under load, back it up, roll back, destroy. Shared by the workflow e2e tests
// (which assert) and `npm run demo` (which narrates).
import { cpSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import type { LabEnv } from '../lab/contract.js';
import { labRunOptions, labWorkflowSettings, SAMPLE_APP_DIR, type LabWorkflowSettings } from './lab-options.js';
import { httpGet, startLoad, type LoadResult } from './load.js';
import { runWorkflow, type RunWorkflowOptions, type WorkflowRun } from './runner.js';

const DOCKER = process.env.DOCKER_CLI ?? '/usr/bin/docker';

export interface Scenario {
  env: LabEnv;
  app: string;
  settings: LabWorkflowSettings;
  /** The user's repository: a copy of workflows-examples/app that changes between deploys. */
  repoDir: string;
  actionRepo: string;
  /** The droplet's public address once deploy-on-push provisioned it. */
  ip?: string;
  onLog: (line: string) => void;
}

export function prepareScenario(
  env: LabEnv,
  opts: { actionRepo: string; onLog?: (line: string) => void; app?: string },
): Scenario {
  const app = opts.app ?? `wf${randomBytes(3).toString('hex')}`;
  const settings = labWorkflowSettings(env);
  settings.vars['APP_NAME'] = app;
  const repoDir = mkdtempSync(join(tmpdir(), 'ddwf-repo-'));
  cpSync(SAMPLE_APP_DIR, repoDir, { recursive: true });
  return { env, app, settings, repoDir, actionRepo: opts.actionRepo, onLog: opts.onLog ?? (() => undefined) };
}

function run(
  s: Scenario,
  workflow: string,
  extra: Partial<RunWorkflowOptions> & { sha?: string },
): Promise<WorkflowRun> {
  return runWorkflow({
    ...labRunOptions(workflow, s.settings, extra),
    repository: s.repoDir,
    actionRepo: s.actionRepo,
    onLog: s.onLog,
  });
}

export function stepOutputs(r: WorkflowRun, job: string, stepId: string): Record<string, string> {
  return r.jobs[job]?.steps.find((st) => st.id === stepId && st.phase === 'main')?.outputs ?? {};
}

/** A commit: a fake 40-hex sha. */
export function sha(): string {
  return randomBytes(20).toString('hex');
}

export interface DeployResult {
  run: WorkflowRun;
  sha: string;
  load?: LoadResult;
}

/** Runs deploy-on-push for commit `commit`; with `underLoad`, sends traffic to the app meanwhile. */
export async function deploy(
  s: Scenario,
  commit: string,
  opts: { underLoad?: boolean; rps?: number } = {},
): Promise<DeployResult> {
  const load = opts.underLoad && s.ip ? startLoad(`http://${s.ip}/version`, { rps: opts.rps ?? 20 }) : undefined;
  const r = await run(s, 'deploy-on-push.yml', { event: { name: 'push' }, sha: commit });
  const result: DeployResult = { run: r, sha: commit, ...(load ? { load: await load.stop() } : {}) };
  const ip = stepOutputs(r, 'deploy', 'droplet')['public-ips'];
  if (ip) s.ip = ip.split(',')[0]!.trim();
  return result;
}

/** Runs deploy-one-step.yml (provision + the one-step root action) for commit `commit`. */
export async function deployOneStep(s: Scenario, commit: string): Promise<WorkflowRun> {
  const r = await run(s, 'deploy-one-step.yml', { event: { name: 'push' }, sha: commit });
  const ip = stepOutputs(r, 'deploy', 'droplet')['public-ips'];
  if (ip) s.ip = ip.split(',')[0]!.trim();
  return r;
}

/** A change to the user's app: a new migration (a column) and a new version string. */
export function changeApp(s: Scenario): void {
  writeFileSync(
    join(s.repoDir, 'web/migrations/002_visits_user_agent.sql'),
    'ALTER TABLE visits ADD COLUMN user_agent text;\n',
  );
}

export function backup(s: Scenario): Promise<WorkflowRun> {
  return run(s, 'scheduled-backup.yml', { event: { name: 'workflow_dispatch' } });
}

export function rollback(s: Scenario, release = 'previous'): Promise<WorkflowRun> {
  return run(s, 'rollback.yml', {
    event: { name: 'workflow_dispatch', inputs: { environment: 'production', release } },
  });
}

export function destroy(s: Scenario, confirm: string): Promise<WorkflowRun> {
  return run(s, 'destroy.yml', { event: { name: 'workflow_dispatch', inputs: { confirm } } });
}

/** pr-preview.yml for pull request `number` (`action`: opened, synchronize, closed…). */
export function preview(s: Scenario, number: number, action: string, commit: string): Promise<WorkflowRun> {
  return run(s, 'pr-preview.yml', {
    event: { name: 'pull_request', payload: { action, number, pull_request: { number, head: { sha: commit } } } },
    sha: commit,
  });
}

/** What the app answers now. */
export async function appState(s: Scenario): Promise<{ version: string; visits: number }> {
  if (!s.ip) throw new Error('no droplet address yet');
  const v = await httpGet(`http://${s.ip}/version`);
  const root = await httpGet(`http://${s.ip}/`);
  const visits = root.status === 200 ? (JSON.parse(root.body) as { visits: number }).visits : -1;
  return { version: v.status === 200 ? v.body.trim() : `HTTP ${v.status}`, visits };
}

/** Droplets of the app through the lab's API. */
export async function appDroplets(s: Scenario): Promise<Array<{ id: number; name: string }>> {
  const res = await fetch(`${s.env.DIGITALOCEAN_API_URL}/droplets?tag_name=${encodeURIComponent(s.app)}&per_page=200`, {
    headers: { authorization: `Bearer ${s.env.DIGITALOCEAN_TOKEN}` },
  });
  if (!res.ok) throw new Error(`list droplets: ${res.status}`);
  return ((await res.json()) as { droplets: Array<{ id: number; name: string }> }).droplets;
}

/** Deletes what the scenario made: the app's droplets (by tag), its web and proxy images on this host, the repo copy. */
export async function cleanupScenario(s: Scenario): Promise<void> {
  await fetch(`${s.env.DIGITALOCEAN_API_URL}/droplets?tag_name=${encodeURIComponent(s.app)}`, {
    method: 'DELETE',
    headers: { authorization: `Bearer ${s.env.DIGITALOCEAN_TOKEN}` },
  }).catch(() => undefined);
  // snapshots scheduled-backup made (named <app>-<droplet>-<timestamp>)
  try {
    const headers = { authorization: `Bearer ${s.env.DIGITALOCEAN_TOKEN}` };
    const res = await fetch(`${s.env.DIGITALOCEAN_API_URL}/snapshots?resource_type=droplet&per_page=200`, { headers });
    const { snapshots } = (await res.json()) as { snapshots: Array<{ id: string; name: string }> };
    for (const snap of snapshots.filter((x) => x.name.startsWith(`${s.app}-`))) {
      await fetch(`${s.env.DIGITALOCEAN_API_URL}/snapshots/${snap.id}`, { method: 'DELETE', headers });
    }
  } catch {
    /* best effort: the lab's teardown removes the rest */
  }
  try {
    const images = [`${s.app}-web`, `${s.app}-nginx`].flatMap((repo) =>
      execFileSync(DOCKER, ['images', '--format', '{{.Repository}}:{{.Tag}}', repo], { encoding: 'utf8' })
        .split('\n')
        .filter(Boolean),
    );
    if (images.length) execFileSync(DOCKER, ['rmi', ...images], { stdio: 'ignore' });
  } catch {
    /* nothing to remove */
  }
  rmSync(s.repoDir, { recursive: true, force: true });
}
