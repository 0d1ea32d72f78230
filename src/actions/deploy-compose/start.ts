// Step 4: the release into its folder and up. The default start is ONE round trip: move the
// staged files to releases/<id> (+ pinned override and release.json from stdin), drop the
// scratch folder, point `live` at the release, `up -d` from `live`, wait on the droplet
// while healthchecks are still starting, and read the containers' state — which the wait
// then judges without asking again.

import type { Logger } from '../../lib/action/logger.js';
import { and, cmd, redirect, type Script, seq } from '../../lib/commands/cmd.js';
import { type ComposeProject, down, upDetached } from '../../lib/compose/compose.js';
import { inspectProjectScript, parseInspect, type ServiceState, settleScript } from '../../lib/compose/state.js';
import { waitForServices, type WaitResult } from '../../lib/compose/wait.js';
import type { AppPaths, ReleaseManifest } from '../../lib/release/model.js';
import { switchLiveScript } from '../../lib/release/remote.js';
import { tarArchive, untarStdin } from '../../lib/release/tar.js';
import type { RemoteHost } from '../../lib/ssh/executor.js';
import { tail } from './errors.js';
import type { Prepared } from './prepare.js';
import { liveProject } from './project.js';

const UP_OK = '@@dd:up-ok';
const STATES = '@@dd:states';

/** Moves a staged release to releases/<id> and adds its pinned override and release.json (stdin). */
export function placeScripts(paths: AppPaths, prepared: Prepared, scratch: string): Script[] {
  const dir = paths.release(prepared.manifest.id);
  const staged = prepared.staged;
  if (!staged) return [cmd('rm', '-rf', scratch)];
  return [
    ...(staged.restage ? [cmd('rm', '-rf', dir)] : []),
    cmd('mv', '-T', staged.dir, dir),
    untarStdin(dir),
    cmd('rm', '-rf', scratch),
  ];
}

export function placeStdin(prepared: Prepared): Buffer | undefined {
  return prepared.staged ? tarArchive(prepared.staged.add) : undefined;
}

/** For the start hooks (rolling-update, db-migrate): the release in place, nothing started. */
export async function placeRelease(
  host: RemoteHost,
  paths: AppPaths,
  prepared: Prepared,
  scratch: string,
): Promise<void> {
  const stdin = placeStdin(prepared);
  await host.run(and(...placeScripts(paths, prepared, scratch)), {
    ...(stdin ? { stdin } : {}),
    timeoutMs: 120_000,
  });
}

export interface UpResult {
  ok: boolean;
  /** Why `up` (or what ran before it) failed. */
  reason?: string;
  /** inspectProjectScript's output right after the wait on the droplet. */
  inspect: string;
}

/** [before…] && live → id && up -d && settle; then the containers' state. */
export function upScript(o: {
  before: Script[];
  paths: AppPaths;
  id: string;
  project: ComposeProject;
  app: string;
  settleMs: number;
}): Script {
  return seq(
    and(
      ...o.before,
      switchLiveScript(o.paths, o.id),
      upDetached(o.project),
      cmd('echo', UP_OK),
      settleScript(o.app, o.settleMs),
    ),
    cmd('echo', STATES),
    redirect(inspectProjectScript(o.app), '2>', '/dev/null'),
  );
}

export async function runUp(
  host: RemoteHost,
  script: Script,
  o: { stdin?: Buffer; stream: (line: string) => void; timeoutMs: number },
): Promise<UpResult> {
  let done = false;
  const r = await host.run(script, {
    allowFailure: true,
    ...(o.stdin ? { stdin: o.stdin } : {}),
    timeoutMs: o.timeoutMs,
    // Compose's progress is shown; the container state that follows (it holds the
    // containers' environment) never is
    onLine: (line, stream) => {
      if (stream === 'stdout' && (line === UP_OK || line === STATES)) {
        done ||= line === STATES;
        return;
      }
      if (!done) o.stream(line);
    },
  });
  // by lines: the marker may be the first line (nothing printed before it), and what follows
  // it (the containers' environment) is only ever the inspect output, never a reason
  const lines = r.stdout.split('\n');
  const at = lines.indexOf(STATES);
  const inspect = at >= 0 ? lines.slice(at + 1).join('\n') : '';
  const before = at >= 0 ? lines.slice(0, at) : lines;
  if (before.includes(UP_OK)) return { ok: true, inspect };
  const text = (r.stderr.trim() ? r.stderr : before.join('\n')).trim();
  return { ok: false, reason: tail(text) || `exit ${r.code}`, inspect };
}

/** The states the up script read after its wait; unreadable ones are read again by the wait. */
function firstStates(inspect: string): { firstStates?: ServiceState[] } {
  try {
    return { firstStates: parseInspect(inspect) };
  } catch {
    return {};
  }
}

export interface StartOptions {
  host: RemoteHost;
  paths: AppPaths;
  app: string;
  manifest: ReleaseManifest;
  project: ComposeProject;
  before: Script[];
  stdin?: Buffer;
  waitTimeoutMs: number;
  timeoutMs: number;
  log: Logger;
  stream: (line: string) => void;
  now: () => number;
  sleep?: (ms: number) => Promise<void>;
}

/** Up from `live` and wait for every service of the release. */
export async function startFromLive(o: StartOptions): Promise<{ up: UpResult; waited?: WaitResult }> {
  const startedAt = o.now();
  const up = await runUp(
    o.host,
    upScript({
      before: o.before,
      paths: o.paths,
      id: o.manifest.id,
      project: liveProject(o.project, o.paths, o.manifest),
      app: o.app,
      settleMs: o.waitTimeoutMs,
    }),
    { ...(o.stdin ? { stdin: o.stdin } : {}), stream: o.stream, timeoutMs: o.timeoutMs + o.waitTimeoutMs },
  );
  if (!up.ok) return { up };
  const waited = await waitForServices(o.host, {
    app: o.app,
    services: o.manifest.images.map((i) => i.service),
    // the wait on the droplet counted against it
    deadlineMs: Math.max(1000, o.waitTimeoutMs - (o.now() - startedAt)),
    ...firstStates(up.inspect),
    ...(o.sleep ? { sleep: o.sleep } : {}),
    onProgress: (d) => o.log.info(d),
  });
  return { up, waited };
}

/** Stops the project (nothing served before the failed release); named volumes stay. */
export async function stopProject(
  o: Pick<StartOptions, 'host' | 'paths' | 'project' | 'manifest' | 'stream' | 'timeoutMs'>,
): Promise<void> {
  await o.host.run(down(liveProject(o.project, o.paths, o.manifest)), {
    allowFailure: true,
    onLine: o.stream,
    timeoutMs: o.timeoutMs,
  });
}
