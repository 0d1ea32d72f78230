// One host's deploy, steps 1–5 in order (see the issue): lock + upload + validate (begin),
// deliver + pin (prepare), start + wait (start, or the rolling-update / db-migrate hooks),
// switch + log + prune + unlock (finish). On a failure after `up`, the previous release is
// brought back before the error is thrown.

import { DiagnosedError, errorMessage } from '../../lib/action/errors.js';
import { type Logger, prefixedLogger } from '../../lib/action/logger.js';
import { cmd, type Script, seq } from '../../lib/commands/cmd.js';
import { type ComposeFlavor, composeFromProbe } from '../../lib/compose/compose.js';
import type { ServiceState } from '../../lib/compose/state.js';
import { appendLogScript } from '../../lib/release/remote.js';
import type { RemoteHost } from '../../lib/ssh/executor.js';
import { type Begun, lockAndBegin } from './begin.js';
import { DeployStepError, unchanged } from './errors.js';
import { finishRelease } from './finish.js';
import { type Prepared, prepareRelease } from './prepare.js';
import { projectFor } from './project.js';
import { logEntry, serviceReports } from './report.js';
import { placeRelease, placeScripts, placeStdin, startFromLive, stopProject } from './start.js';
import type { HostJob, HostOutcome } from './types.js';

export async function deployHost(job: HostJob): Promise<HostOutcome> {
  const { deps, target, paths } = job;
  const started = deps.now();
  const log = prefixedLogger(deps.io.logger, `[${target.label}]`);

  let host: RemoteHost;
  try {
    host = await deps.connector.connect(target);
  } catch (error) {
    throw new DeployStepError(target.label, 'connect', errorMessage(error), 'Nothing was changed.');
  }
  const begun = await lockAndBegin(job, host, log);
  let scratchLeft = true;
  try {
    const flavor = composeFromProbe(begun.state.compose);
    if (!flavor) {
      throw new DeployStepError(
        target.label,
        'detect compose',
        'neither `docker compose` (Compose v2) nor `docker-compose` (v1) works on the droplet',
        unchanged(begun.state.current),
      );
    }
    log.info(`Compose ${flavor.version} (${flavor.command.join(' ')})`);
    return await deployLocked({ job, host, flavor, begun, log, started, scratchGone: () => (scratchLeft = false) });
  } finally {
    if (scratchLeft)
      await host.run(cmd('rm', '-rf', begun.scratch), { allowFailure: true, timeoutMs: 60_000 }).catch(() => undefined);
    const released = await begun.lock.release().catch(() => false);
    if (released) job.onUnlocked();
    else log.warn(`could not release the deploy lock ${paths.lock}; the post step will try again`);
  }
}

interface Locked {
  job: HostJob;
  host: RemoteHost;
  flavor: ComposeFlavor;
  begun: Begun;
  log: Logger;
  started: number;
  /** Called once the scratch folder is gone (moved and removed by a start script). */
  scratchGone(): void;
}

async function deployLocked(l: Locked): Promise<HostOutcome> {
  const { job, host, flavor, begun, log, started } = l;
  const { inputs, deps, target, paths } = job;
  const { current, manifests } = begun.state;
  const stream = (line: string): void => log.info(line);
  const fail = (step: string, reason: string, outcome: string, diagnostics?: string): never => {
    throw new DeployStepError(target.label, step, reason, outcome, diagnostics);
  };

  const prepared: Prepared = await prepareRelease(job, host, begun, log, stream);
  const { manifest, action } = prepared;
  const releaseDir = paths.release(manifest.id);
  const project = projectFor(flavor, inputs.app, releaseDir, manifest, true);
  const previousManifest = current && current !== manifest.id ? manifests.find((m) => m.id === current) : undefined;
  const previousProject = previousManifest
    ? projectFor(flavor, inputs.app, paths.release(previousManifest.id), previousManifest, true)
    : undefined;
  const removeRelease = (): Script[] => (prepared.created ? [cmd('rm', '-rf', releaseDir)] : []);
  /**
   * After a failed start: the previous release back up (unless it kept serving), then the
   * failure logged and the new release's folder removed in one round trip.
   */
  const failStarted = async (
    step: string,
    reason: string,
    o: { previousServing?: boolean; diagnostics?: string } = {},
  ): Promise<never> => {
    const serving = o.previousServing
      ? current
        ? `Release ${current} kept serving.`
        : 'No release was serving before.'
      : await restore();
    const entry = logEntry(job, manifest, action, 'failed', current, current ?? null, started, reason);
    await host
      .run(seq(appendLogScript(paths), ...removeRelease()), {
        stdin: `${JSON.stringify(entry)}\n`,
        allowFailure: true,
        timeoutMs: 60_000,
      })
      .catch(() => undefined);
    return fail(step, reason, `Release ${manifest.id} was not switched in. ${serving}`, o.diagnostics);
  };
  const startOptions = {
    host,
    paths,
    app: inputs.app,
    waitTimeoutMs: inputs.waitTimeoutMs,
    timeoutMs: inputs.timeoutMs,
    log,
    stream,
    now: () => deps.now(),
    ...(deps.sleep ? { sleep: deps.sleep } : {}),
  };
  const restore = async (): Promise<string> => {
    if (!previousManifest || !previousProject) {
      if (current === manifest.id) return `Release ${manifest.id} was already serving and is not healthy now.`;
      await stopProject({ host, paths, project, manifest, stream, timeoutMs: inputs.timeoutMs });
      return 'No release was serving before; the failed release was stopped (named volumes kept).';
    }
    log.info(`bringing release ${previousManifest.id} back up`);
    const back = await startFromLive({
      ...startOptions,
      manifest: previousManifest,
      project: previousProject,
      before: [],
    });
    if (!back.up.ok) return `Bringing release ${previousManifest.id} back up failed too: ${back.up.reason ?? ''}`;
    return back.waited?.ok
      ? `Release ${previousManifest.id} was brought back up and is serving.`
      : `Release ${previousManifest.id} was brought back up but is not healthy either: ${back.waited?.problem ?? ''}`;
  };

  let states: ServiceState[];
  if (deps.stage || deps.startRelease) {
    await placeRelease(host, paths, prepared, begun.scratch);
    l.scratchGone();
    const ctx = { host, target, log, flavor, project, manifest, action };
    if (deps.stage) {
      try {
        await deps.stage.run(ctx);
      } catch (error) {
        if (prepared.created) await host.run(cmd('rm', '-rf', releaseDir), { allowFailure: true, timeoutMs: 60_000 });
        const diagnostics = error instanceof DiagnosedError ? error.diagnostics : undefined;
        return fail(
          deps.stage.step,
          errorMessage(error),
          `Release ${manifest.id} was not switched in. ${unchanged(current)}`,
          diagnostics,
        );
      }
      return {
        target,
        release: manifest.id,
        previous: current,
        services: [],
        durationMs: deps.now() - started,
        action,
        pruned: [],
        composeVersion: flavor.version,
      };
    }
    const startRelease = deps.startRelease as NonNullable<typeof deps.startRelease>;
    const outcome = await startRelease({
      ...ctx,
      ...(previousProject && previousManifest ? { previous: previousProject, previousManifest } : {}),
    });
    if (!outcome.ok) {
      return failStarted('rollout', outcome.reason, {
        previousServing: outcome.previousServing,
        ...(outcome.diagnostics ? { diagnostics: outcome.diagnostics } : {}),
      });
    }
    states = outcome.states;
  } else {
    log.info(`starting release ${manifest.id}`);
    const before: Script[] = placeScripts(paths, prepared, begun.scratch);
    const stdin = placeStdin(prepared);
    const started4 = await startFromLive({ ...startOptions, manifest, project, before, ...(stdin ? { stdin } : {}) });
    // once up ran, the release was moved in (and the scratch folder removed) by the script;
    // if it failed before, the scratch folder is left to deployHost's clean-up
    if (!started4.up.ok) return failStarted('compose up', started4.up.reason ?? 'compose up failed');
    l.scratchGone();
    const waited = started4.waited;
    if (!waited?.ok) {
      return failStarted('wait for services', waited?.problem ?? 'services did not come up', {
        ...(waited?.diagnostics ? { diagnostics: waited.diagnostics } : {}),
      });
    }
    states = waited.states;
  }

  // 5. switch current, log, prune, unlock
  let pruned: string[];
  try {
    pruned = await finishRelease({
      job,
      host,
      lock: begun.lock,
      state: begun.state,
      manifest,
      entry: logEntry(job, manifest, action, 'success', current, manifest.id, started),
      states,
      log,
    });
  } catch (error) {
    return fail(
      'switch',
      errorMessage(error),
      `Release ${manifest.id} is running but ${current ? `current still points to ${current}` : 'current was not set'}.`,
    );
  }
  return {
    target,
    release: manifest.id,
    previous: current,
    services: serviceReports(target, manifest, states),
    durationMs: deps.now() - started,
    action,
    pruned,
    composeVersion: flavor.version,
  };
}
