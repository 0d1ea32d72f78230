// Reading and changing the release model on a droplet. Every command is built as data.

import { and, cmd, redirect, type Script, seq } from '../commands/cmd.js';
import { CONFIG_EXIT_MARK, type ComposeProject, probeScript } from '../compose/compose.js';
import { moveHolderScript, takeLockDirScript } from '../lock/lock.js';
import type { RemoteHost } from '../ssh/executor.js';
import {
  type AppPaths,
  type DeployLogEntry,
  MANIFEST_FILE,
  parseDeployLog,
  parseManifest,
  type PrunePlan,
  type ReleaseManifest,
} from './model.js';
import { untarStdin } from './tar.js';

export function readCurrentScript(paths: AppPaths): Script {
  return cmd('readlink', paths.current);
}

export function listReleasesScript(paths: AppPaths): Script {
  return cmd('find', paths.releases, '-mindepth', '1', '-maxdepth', '1', '-type', 'd', '-printf', '%f\\n');
}

export function readManifestsScript(paths: AppPaths): Script {
  return cmd(
    'find',
    paths.releases,
    '-mindepth',
    '2',
    '-maxdepth',
    '2',
    '-name',
    MANIFEST_FILE,
    '-exec',
    'cat',
    '{}',
    '+',
  );
}

/** ln -sfn to a temporary name, then rename over `current`: readers never see it missing. */
export function switchCurrentScript(paths: AppPaths, id: string): Script {
  const tmp = `${paths.current}.next`;
  return and(cmd('ln', '-sfn', `releases/${id}`, tmp), cmd('mv', '-Tf', tmp, paths.current));
}

/** Points `live` at a release (atomic rename, like `current`). */
export function switchLiveScript(paths: AppPaths, id: string): Script {
  const tmp = `${paths.live}.next`;
  return and(cmd('ln', '-sfn', `releases/${id}`, tmp), cmd('mv', '-Tf', tmp, paths.live));
}

/** Appends stdin to deploys.log (the entry goes over stdin, never argv). */
export function appendLogScript(paths: AppPaths): Script {
  return redirect(cmd('tee', '-a', paths.deploysLog), '>', '/dev/null');
}

type Section = 'compose' | 'current' | 'manifests' | 'log' | 'dirs' | 'config';

const mark = (name: Section): Script => cmd('echo', `@@dd:${name}`);
const quietErr = (s: Script): Script => redirect(s, '2>', '/dev/null');

/** The reads of the begin script: current release, kept manifests, deploys.log, release folders. */
function stateReads(paths: AppPaths, logLines: number): Script[] {
  return [
    mark('current'),
    quietErr(readCurrentScript(paths)),
    mark('manifests'),
    quietErr(readManifestsScript(paths)),
    mark('log'),
    quietErr(cmd('tail', '-n', String(logLines), paths.deploysLog)),
    mark('dirs'),
    quietErr(listReleasesScript(paths)),
  ];
}

/** Printed by beginScript as soon as it has taken the lock. */
export const LOCKED_MARK = '@@dd:locked';

/** Name of the lock holder inside the archive beginScript unpacks. */
export const HOLDER_IN_ARCHIVE = 'holder.json';

export interface BeginOptions {
  /** Take the deploy lock first, in the same script (its holder comes in the archive as HOLDER_IN_ARCHIVE). */
  lockDir?: string;
  /** This run's scratch folder (under paths.scratch): the archive on stdin is unpacked into it. */
  scratch: string;
  /** A project (files in the scratch folder) to validate and resolve with `config`; absent: only detect Compose. */
  config?: Omit<ComposeProject, 'flavor'>;
  logLines?: number;
}

/**
 * The first round trip of a deploy: [take the lock,] clear what a killed run left in the
 * scratch space, unpack the archive on stdin (release files, 0600 .env, lock holder,
 * registry credentials) into this run's scratch folder, then read the state (current
 * release, kept manifests, deploys.log, folders), detect Compose and — given a project —
 * validate and resolve it. Nothing outside the scratch space changes but the lock.
 * Exit code non-zero only when the lock or the unpacking failed.
 */
export function beginScript(paths: AppPaths, o: BeginOptions): Script {
  const prelude: Script[] = [
    // the mark says the lock is ours: whatever fails after it, the caller removes it again
    ...(o.lockDir ? [takeLockDirScript(o.lockDir), cmd('echo', LOCKED_MARK)] : []),
    cmd('mkdir', '-p', paths.releases),
    cmd('rm', '-rf', paths.scratch),
    cmd('mkdir', '-p', o.scratch),
    untarStdin(o.scratch),
  ];
  if (o.lockDir) prelude.push(moveHolderScript(o.lockDir, `${o.scratch}/${HOLDER_IN_ARCHIVE}`));
  return and(
    ...prelude,
    seq(...stateReads(paths, o.logLines ?? 500), mark('compose'), probeScript(o.config, `${o.scratch}/probe`)),
  );
}

export interface BeginState extends ReleaseState {
  /** `config` of the given project: exit code (-1: it did not run) and the resolved YAML (never log it). */
  config?: { code: number; yaml: string };
}

export function parseBegin(stdout: string): BeginState {
  const state: BeginState = parseState(stdout);
  const at = stdout.indexOf('\n@@dd:config\n');
  if (at >= 0) {
    const body = stdout.slice(at + '\n@@dd:config\n'.length);
    const exit = body.lastIndexOf(`\n${CONFIG_EXIT_MARK} `);
    const code = exit >= 0 ? Number(/^(\d+)/.exec(body.slice(exit + CONFIG_EXIT_MARK.length + 2))?.[1] ?? -1) : -1;
    state.config = { code, yaml: exit >= 0 ? body.slice(0, exit) : body };
  }
  return state;
}

export interface ReleaseState {
  /** Raw output of the compose detection ('' when neither works). */
  compose: string;
  current: string | undefined;
  manifests: ReleaseManifest[];
  log: DeployLogEntry[];
  dirs: string[];
}

export function parseState(stdout: string): ReleaseState {
  const sections: Record<string, string[]> = {};
  let at: string | undefined;
  for (const line of stdout.split('\n')) {
    const m = /^@@dd:(\w+)$/.exec(line);
    if (m) {
      at = m[1] as string;
      sections[at] = [];
    } else if (at) (sections[at] as string[]).push(line);
  }
  const text = (name: Exclude<Section, 'config'>): string => (sections[name] ?? []).join('\n');
  const current = text('current').trim();
  return {
    compose: text('compose').trim(),
    current: current ? current.split('/').pop() : undefined,
    manifests: (sections['manifests'] ?? [])
      .map((l) => parseManifest(l))
      .filter((m): m is ReleaseManifest => m !== undefined),
    log: parseDeployLog(text('log')),
    dirs: (sections['dirs'] ?? []).map((l) => l.trim()).filter(Boolean),
  };
}

// A fixed script (the image ids come as positional arguments): each image no kept release
// pins is untagged by every name it has (an id with several tags cannot be removed by id
// alone) and reported as removed once it is gone. An image still in use stays (rm fails).
const PRUNE_IMAGES = [
  'set -f',
  'for id in "$@"; do',
  '  tags=$(docker image inspect --format "{{range .RepoTags}}{{.}} {{end}}" "$id" 2>/dev/null) || continue',
  '  docker image rm ${tags:-$id} >/dev/null 2>&1 && ! docker image inspect "$id" >/dev/null 2>&1 && echo "@@dd:image-removed $id"',
  'done',
  'exit 0',
].join('\n');

/** Removes the given images (ids), printing `@@dd:image-removed <id>` for each one gone. */
export function pruneImagesScript(ids: readonly string[]): Script {
  return cmd('sh', '-c', PRUNE_IMAGES, 'sh', ids);
}

/** The image ids a finish script's output says it removed. */
export function removedImages(stdout: string): string[] {
  return stdout
    .split('\n')
    .filter((l) => l.startsWith('@@dd:image-removed '))
    .map((l) => l.slice('@@dd:image-removed '.length));
}

/**
 * The last round trip of a deploy: `current` → the release, the entry (stdin) appended to
 * deploys.log, pruned release folders and the images only they pinned removed, then the
 * lock released (`unlock`, the lock's hand-off command). Prints @@dd:switched /
 * @@dd:unlocked as each part succeeds, and @@dd:image-removed <id> per image removed.
 */
export function finishScript(
  paths: AppPaths,
  id: string,
  prune: Pick<PrunePlan, 'remove' | 'images'>,
  unlock: Script,
): Script {
  const parts: Script[] = [and(switchCurrentScript(paths, id), appendLogScript(paths), cmd('echo', '@@dd:switched'))];
  if (prune.remove.length)
    parts.push(
      quietErr(
        cmd(
          'rm',
          '-rf',
          prune.remove.map((d) => paths.release(d)),
        ),
      ),
    );
  if (prune.images.length) parts.push(pruneImagesScript(prune.images));
  parts.push(and(unlock, cmd('echo', '@@dd:unlocked')));
  return seq(...parts);
}

export async function readCurrent(host: RemoteHost, paths: AppPaths): Promise<string | undefined> {
  const r = await host.run(readCurrentScript(paths), { allowFailure: true, timeoutMs: 30_000 });
  if (r.code !== 0) return undefined;
  const target = r.stdout.trim();
  return target ? target.split('/').pop() : undefined;
}
