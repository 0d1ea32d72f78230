// Services dropped from a release: containers of the Compose project whose service the new
// release no longer declares. Removed like `compose up --remove-orphans` does (stopped, then
// removed; volumes are never touched), but only once the release's roll-out has succeeded on
// the droplet — a failed roll-out leaves them running with the previous release.
//
// A service the release still declares under a profile that is not enabled is NOT dropped
// (Compose does not call it an orphan either): the release's services are listed with every
// profile enabled before anything is removed.
import type { Logger } from '../action/logger.js';
import { cmd, type Cmd, render } from '../commands/cmd.js';
import { composeBase, type ComposeProject } from '../compose/compose.js';
import type { ServiceState } from '../compose/state.js';
import { outputTail, type RemoteHost } from '../ssh/executor.js';
import { stopRemove } from './commands.js';

/**
 * Every service the release declares: `config --services` with all profiles enabled
 * (Compose v2: `--profile '*'`; Compose v1 lists services of every profile by itself).
 */
export function declaredServices(p: ComposeProject): Cmd {
  const all: ComposeProject = { ...p, profiles: p.flavor.major >= 2 ? ['*'] : [] };
  return cmd(composeBase(all), 'config', '--services');
}

export function parseServiceNames(stdout: string): Set<string> {
  return new Set(
    stdout
      .split('\n')
      .map((l) => l.trim())
      .filter((l) => /^[A-Za-z0-9][A-Za-z0-9._-]*$/.test(l)),
  );
}

/** Containers (not one-off) of services missing from `declared`, grouped by service, in name order. */
export function droppedServices(
  states: readonly ServiceState[],
  declared: ReadonlySet<string>,
): { service: string; containers: ServiceState[] }[] {
  const by = new Map<string, ServiceState[]>();
  for (const s of states) {
    if (s.oneOff || !s.service || declared.has(s.service)) continue;
    by.set(s.service, [...(by.get(s.service) ?? []), s]);
  }
  return [...by.entries()]
    .sort(([a], [b]) => a.localeCompare(b))
    .map(([service, containers]) => ({ service, containers }));
}

export interface RemovedService {
  service: string;
  containers: string[];
}

export interface RemoveDroppedOptions {
  project: ComposeProject;
  /** The project's containers now (after the roll-out). */
  states: readonly ServiceState[];
  /** The services of the release's resolved config (enabled profiles). */
  active: ReadonlySet<string>;
  stopTimeoutSeconds: number;
}

/**
 * Stops and removes the containers of services the release dropped (never their volumes).
 * Returns what was removed; throws when listing the release's services or removing fails.
 */
export async function removeDropped(
  host: RemoteHost,
  o: RemoveDroppedOptions,
  deps: { logger: Logger },
): Promise<RemovedService[]> {
  // cheap first look: nothing outside the enabled services, nothing to check further
  if (droppedServices(o.states, o.active).length === 0) return [];
  const listed = await host.run(declaredServices(o.project), { allowFailure: true, timeoutMs: 120_000 });
  if (listed.code !== 0) {
    throw new Error(`listing the release's services failed (exit ${listed.code}): ${outputTail(listed, 2, ' ')}`);
  }
  const declared = new Set([...o.active, ...parseServiceNames(listed.stdout)]);
  const dropped = droppedServices(o.states, declared);
  if (dropped.length === 0) return [];
  const removed = dropped.map((d): RemovedService => ({
    service: d.service,
    containers: d.containers.map((c) => c.container),
  }));
  for (const r of removed) {
    deps.logger.info(
      `${host.label}: ${r.service}: no longer in the release; stopping and removing ${r.containers.join(', ')} (volumes kept)`,
    );
  }
  // every dropped service's containers in one stop/remove (one round trip)
  const script = stopRemove(
    dropped.flatMap((d) => d.containers.map((c) => c.id)),
    o.stopTimeoutSeconds,
  );
  deps.logger.debug(`${host.label}: ${render(script, 'log')}`);
  await host.run(script, { timeoutMs: 5 * 60_000 });
  return removed;
}
