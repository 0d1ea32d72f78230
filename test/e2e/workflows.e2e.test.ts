// The example workflows, run end to end on the lab through the local workflow runner, with the
// actions bundled from the current sources: deploy-on-push (droplet created, app up), a changed
// app deployed again under load, scheduled-backup (snapshot + dump in the lab's S3), rollback.yml
// (the previous release serves again — checked over HTTP — with the data intact), destroy.yml
// (refused without the right confirmation, then the droplets are gone), pr-preview.yml (a droplet
// per pull request, deleted on close).
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { actionRepoFor, explainRun } from '../support/workflows.js';
import type { ActionRepo } from '../workflow-runner/bundle.js';
import { httpGet } from '../workflow-runner/load.js';
import type { WorkflowRun } from '../workflow-runner/runner.js';
import {
  appDroplets,
  appState,
  backup,
  changeApp,
  cleanupScenario,
  deploy,
  destroy,
  prepareScenario,
  preview,
  rollback,
  type Scenario,
  sha,
  stepOutputs,
} from '../workflow-runner/scenario.js';

const ACTIONS = [
  'provision-droplet',
  'deploy-compose',
  'db-migrate',
  'rolling-update',
  'health-gate',
  'snapshot-and-backup',
];
const lines: string[] = [];
let repo: ActionRepo;
let s: Scenario;

const explain = (r: WorkflowRun): string => explainRun(r, lines);

beforeAll(async () => {
  // WORKFLOWS_ACTION_REPO: bundles built earlier (see actionRepoFor); default: bundle the current sources now.
  repo = await actionRepoFor(ACTIONS);
  s = prepareScenario(inject('lab'), { actionRepo: repo.dir, onLog: (l) => lines.push(l) });
}, 1_200_000);

afterAll(async () => {
  if (s) {
    await cleanupScenario({ ...s, app: `${s.app}-pr-7` });
    await cleanupScenario(s);
  }
  repo?.cleanup();
});

describe.sequential('example workflows on the lab', () => {
  const v1 = sha();
  const v2 = sha();

  it('deploy-on-push creates the droplet and deploys the sample app', async () => {
    const r = await deploy(s, v1);
    expect(r.run.conclusion, explain(r.run)).toBe('success');
    expect(stepOutputs(r.run, 'deploy', 'droplet')['created-count']).toBe('1');
    const state = await appState(s);
    expect(state.version).toBe(v1);
    expect(state.visits).toBeGreaterThan(0);
  });

  it('a changed app (new migration) deploys again under load, the data survives', async () => {
    const before = await appState(s);
    changeApp(s);
    const r = await deploy(s, v2, { underLoad: true });
    expect(r.run.conclusion, explain(r.run)).toBe('success');
    expect(stepOutputs(r.run, 'deploy', 'droplet')['created-count']).toBe('0');
    const after = await appState(s);
    expect(after.version).toBe(v2);
    expect(after.visits).toBeGreaterThan(before.visits);
    console.log(`deploy under load: ${JSON.stringify(r.load)}`);
    expect(r.load!.total).toBeGreaterThan(0);
  });

  it('scheduled-backup snapshots the droplet and puts a verified dump into the lab S3', async () => {
    const r = await backup(s);
    expect(r.conclusion, explain(r)).toBe('success');
    const out = stepOutputs(r, 'backup', 'backup');
    expect(out['snapshot-ids']).toMatch(/\d/);
    expect(out['backup-keys']).toContain(s.app);
  });

  it('rollback.yml brings the previous release back (checked over HTTP) with the data intact', async () => {
    const before = await appState(s);
    const r = await rollback(s);
    expect(r.conclusion, explain(r)).toBe('success');
    const after = await appState(s);
    expect(after.version).toBe(v1);
    expect(after.visits).toBeGreaterThan(before.visits);
  });

  it('pr-preview.yml deploys a droplet of its own for the pull request, and deletes it on close', async () => {
    const number = 7;
    const opened = await preview(s, number, 'opened', sha());
    expect(opened.conclusion, explain(opened)).toBe('success');
    expect(opened.jobs['cleanup']!.result).toBe('skipped');
    const ip = stepOutputs(opened, 'deploy', 'droplet')['public-ips']!;
    expect(ip).not.toBe(s.ip);
    expect((await httpGet(`http://${ip}/`)).status).toBe(200);
    const closed = await preview(s, number, 'closed', sha());
    expect(closed.conclusion, explain(closed)).toBe('success');
    expect(closed.jobs['deploy']!.result).toBe('skipped');
    expect(await appDroplets({ ...s, app: `${s.app}-pr-${number}` })).toHaveLength(0);
    expect(await appDroplets(s)).toHaveLength(1); // production untouched
  });

  it('destroy.yml refuses a wrong confirmation, then deletes the droplets', async () => {
    const refused = await destroy(s, 'not-the-app');
    expect(refused.conclusion).toBe('failure');
    expect(refused.annotations.map((a) => a.message).join('\n')).toMatch(/nothing was deleted/);
    expect(await appDroplets(s)).toHaveLength(1);
    const r = await destroy(s, s.app);
    expect(r.conclusion, explain(r)).toBe('success');
    expect(await appDroplets(s)).toHaveLength(0);
  });
});
