// deploy-one-step.yml — provision-droplet + the one-step root action (OWNER/droplet-deploy@v1) —
// run on the lab through the local workflow runner, with both bundled from the current sources:
// a new droplet gets the sample app with its migration, then a new commit deploys over it.
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { actionRepoFor, explainRun } from '../support/workflows.js';
import type { ActionRepo } from '../workflow-runner/bundle.js';
import type { WorkflowRun } from '../workflow-runner/runner.js';
import {
  appState,
  cleanupScenario,
  deployOneStep,
  prepareScenario,
  type Scenario,
  sha,
  stepOutputs,
} from '../workflow-runner/scenario.js';

const lines: string[] = [];
let repo: ActionRepo;
let one: Scenario;

const explain = (r: WorkflowRun): string => explainRun(r, lines);

beforeAll(async () => {
  repo = await actionRepoFor(['provision-droplet', 'deploy']);
  one = prepareScenario(inject('lab'), { actionRepo: repo.dir, onLog: (l) => lines.push(l) });
}, 1_200_000);

afterAll(async () => {
  if (one) await cleanupScenario(one);
  repo?.cleanup();
});

describe('deploy-one-step.yml (the root action) on the lab', () => {
  it('deploys the sample app on a new droplet (migration included), then a new commit', async () => {
    const v1 = sha();
    const first = await deployOneStep(one, v1);
    expect(first.conclusion, explain(first)).toBe('success');
    expect(await appState(one)).toEqual({ version: v1, visits: 1 });
    const v2 = sha();
    const second = await deployOneStep(one, v2);
    expect(second.conclusion, explain(second)).toBe('success');
    expect(stepOutputs(second, 'deploy', 'droplet')['created-count']).toBe('0');
    const state = await appState(one);
    expect(state.version).toBe(v2);
    expect(state.visits).toBe(2);
  });
});
