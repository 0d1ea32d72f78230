// Step 5 in one round trip: `current` → the release, deploys.log, pruned release folders and
// the images only they pinned removed, the lock released.

import type { Logger } from '../../lib/action/logger.js';
import type { ServiceState } from '../../lib/compose/state.js';
import type { HeldLock } from '../../lib/lock/lock.js';
import { type DeployLogEntry, planPrune, type ReleaseManifest } from '../../lib/release/model.js';
import type { BeginState } from '../../lib/release/remote.js';
import { finishScript, removedImages } from '../../lib/release/remote.js';
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
  const r = await host.run(finishScript(paths, manifest.id, plan, o.lock.handOff()), {
    stdin: `${JSON.stringify(o.entry)}\n`,
    allowFailure: true,
    // image removal can take a while (layers deleted on a slow disk)
    timeoutMs: 120_000 + 30_000 * plan.images.length,
  });
  const lines = r.stdout.split('\n');
  if (!lines.includes('@@dd:switched')) {
    throw new Error(`switching ${paths.current} to ${manifest.id} failed: ${r.stderr.trim() || `exit ${r.code}`}`);
  }
  if (lines.includes('@@dd:unlocked')) o.lock.released();
  log.info(`release ${manifest.id} is serving (previous: ${state.current ?? 'none'})`);
  if (plan.remove.length === 0) return [];
  log.info(`pruned releases ${plan.remove.join(', ')}; removed ${removedImages(r.stdout).length} image(s)`);
  return plan.remove;
}
