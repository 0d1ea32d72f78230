// Step 5 in one round trip: `current` → the release, deploys.log, pruned release folders
// removed, the lock released. Images only pruned releases pinned are removed after that
// script and before the lock goes (rare: only when such images exist).

import { errorMessage } from '../../lib/action/errors.js';
import type { Logger } from '../../lib/action/logger.js';
import type { ServiceState } from '../../lib/compose/state.js';
import type { HeldLock } from '../../lib/lock/lock.js';
import { type DeployLogEntry, planPrune, type ReleaseManifest } from '../../lib/release/model.js';
import type { BeginState } from '../../lib/release/remote.js';
import { applyPrune, finishScript } from '../../lib/release/remote.js';
import type { RemoteHost } from '../../lib/ssh/executor.js';
import { releasesInUse } from './project.js';
import type { HostJob } from './types.js';

export async function finishRelease(o: {
  job: HostJob;
  host: RemoteHost;
  lock: HeldLock;
  state: BeginState;
  manifest: ReleaseManifest;
  entry: DeployLogEntry;
  states: readonly ServiceState[];
  log: Logger;
}): Promise<string[]> {
  const { job, host, state, manifest, log } = o;
  const { paths, inputs } = job;
  // planned from what the begin script read plus this release: no second look needed.
  // Kept as well: releases a running container bind-mounts directly (rolling-update runs
  // Compose from the release folder), so a restart of it still finds its files.
  const dirs = [...new Set([...state.dirs, manifest.id])];
  const all = [...state.manifests.filter((m) => m.id !== manifest.id), manifest];
  const inUse = releasesInUse(
    paths,
    o.states.flatMap((s) => s.bindSources ?? []),
  );
  const plan = planPrune(all, dirs, inputs.keepReleases, [manifest.id, state.current, ...inUse]);
  const releaseNow = plan.images.length === 0;
  const r = await host.run(finishScript(paths, manifest.id, plan.remove, releaseNow ? o.lock.handOff() : undefined), {
    stdin: `${JSON.stringify(o.entry)}\n`,
    allowFailure: true,
    timeoutMs: 120_000,
  });
  const lines = r.stdout.split('\n');
  if (!lines.includes('@@dd:switched')) {
    throw new Error(`switching ${paths.current} to ${manifest.id} failed: ${r.stderr.trim() || `exit ${r.code}`}`);
  }
  if (lines.includes('@@dd:unlocked')) o.lock.released();
  log.info(`release ${manifest.id} is serving (previous: ${state.current ?? 'none'})`);
  if (plan.remove.length === 0) return [];
  let imagesRemoved = 0;
  if (!releaseNow) {
    try {
      imagesRemoved = (await applyPrune(host, paths, { ...plan, remove: [] })).imagesRemoved.length;
    } catch (error) {
      log.warn(`removing images of pruned releases failed (the deploy itself succeeded): ${errorMessage(error)}`);
    }
  }
  log.info(`pruned releases ${plan.remove.join(', ')}; removed ${imagesRemoved} image(s)`);
  return plan.remove;
}
