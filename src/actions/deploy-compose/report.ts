// What a deploy reports: the services table, deploys.log entries, outputs and job summary.

import type { ActionIo } from '../../lib/action/core.js';
import { SummaryBuilder } from '../../lib/action/summary.js';
import type { ServiceState } from '../../lib/compose/state.js';
import type { DeployLogEntry, ReleaseManifest } from '../../lib/release/model.js';
import type { HostTarget } from '../../lib/ssh/target.js';
import type { HostJob, HostOutcome, ServiceReport } from './types.js';

export function serviceReports(
  target: HostTarget,
  manifest: ReleaseManifest,
  states: readonly ServiceState[],
): ServiceReport[] {
  return manifest.images.map((img) => {
    const s = states.find((st) => st.service === img.service);
    return {
      host: target.label,
      name: img.service,
      image: img.image,
      digest: img.repoDigest ?? img.id,
      state: s ? (s.status === 'exited' ? `exited (${s.exitCode})` : s.status) : 'unknown',
      health: s?.health ?? 'none',
    };
  });
}

export function logEntry(
  job: Pick<HostJob, 'deps' | 'inputs'>,
  manifest: ReleaseManifest,
  action: 'deploy' | 'rollback',
  result: 'success' | 'failed',
  previous: string | undefined,
  serving: string | null,
  started: number,
  error?: string,
): DeployLogEntry {
  return {
    time: new Date(job.deps.now()).toISOString(),
    app: job.inputs.app,
    action,
    result,
    release: manifest.id,
    previous: previous ?? null,
    serving,
    sha: job.inputs.context.sha,
    repo: job.inputs.context.repo,
    runId: job.inputs.context.runId,
    actor: job.inputs.context.actor,
    durationSeconds: Math.round((job.deps.now() - started) / 100) / 10,
    images: Object.fromEntries(manifest.images.map((i) => [i.service, i.id])),
    ...(error ? { error: error.split('\n')[0] } : {}),
  };
}

/** The action's outputs and its job summary (one table per host). */
export async function writeOutputs(
  io: ActionIo,
  app: string,
  outcomes: readonly HostOutcome[],
  durationMs: number,
): Promise<void> {
  const first = outcomes[0] as HostOutcome;
  io.setOutput('release-id', first.release);
  io.setOutput('previous-release-id', first.previous ?? '');
  io.setOutput('services', JSON.stringify(outcomes.flatMap((o) => o.services)));
  io.setOutput('duration-seconds', String(Math.round(durationMs / 100) / 10));
  const summary = new SummaryBuilder().heading(
    `deploy-compose: ${app} ${first.action === 'rollback' ? 'rolled back to' : 'released'} ${first.release}`,
  );
  for (const o of outcomes) {
    summary.heading(
      `${o.target.label} — ${o.previous ?? '(none)'} → ${o.release} in ${Math.round(o.durationMs / 100) / 10}s (Compose ${o.composeVersion})`,
      4,
    );
    summary.table(
      ['Service', 'Image', 'Pinned', 'State', 'Health'],
      o.services.map((s) => [
        s.name,
        s.image,
        s.digest.replace(/^(sha256:[0-9a-f]{12})[0-9a-f]+$/, '$1…'),
        s.state,
        s.health,
      ]),
    );
    if (o.pruned.length) summary.text(`Pruned releases: ${o.pruned.join(', ')}`);
  }
  await io.writeSummary(summary.build());
}
