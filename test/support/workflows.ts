// Shared by the lab tests that run the example workflows through the local workflow runner.
import { type ActionRepo, buildActionRepo } from '../workflow-runner/bundle.js';
import type { WorkflowRun } from '../workflow-runner/runner.js';

/**
 * The action repository the workflows use: WORKFLOWS_ACTION_REPO (a directory with bundles built
 * earlier by buildActionRepo — saves the minutes of ncc when iterating), else `names` bundled
 * from the current sources now.
 */
export async function actionRepoFor(names: string[]): Promise<ActionRepo> {
  const prebuilt = process.env['WORKFLOWS_ACTION_REPO'];
  return prebuilt ? { dir: prebuilt, cleanup: () => undefined } : buildActionRepo(names);
}

/** A failed run in a few lines: every step's outcome, then the last 60 log lines. */
export function explainRun(r: WorkflowRun, lines: readonly string[]): string {
  const steps = Object.values(r.jobs).flatMap((j) =>
    j.steps.map((st) => `${j.id}/${st.name}: ${st.outcome}${st.error ? ` (${st.error})` : ''}`),
  );
  return `${r.name}: ${r.conclusion}\n${steps.join('\n')}\n--- last log lines ---\n${lines.slice(-60).join('\n')}`;
}
