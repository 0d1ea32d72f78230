// Reading and changing the release model on a droplet. Every command is built as data.

import { and, cmd, or, redirect, type Script, seq } from '../commands/cmd.js';
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

export function prepareAppScript(paths: AppPaths): Script {
  return cmd('mkdir', '-p', paths.releases);
}

/** Writes files into a folder from a tar archive on stdin (modes kept: the .env stays 0600). */
export function extractScript(dir: string): Script {
  return and(cmd('mkdir', '-p', dir), cmd('tar', '-x', '-f', '-', '-C', dir));
}

type Section = 'compose' | 'current' | 'manifests' | 'log' | 'dirs';

/**
 * One round trip for everything a deploy reads before it changes anything: the Compose
 * flavour (`plugin` printed after the version when `docker compose` works), the current
 * release, every kept release.json, the tail of deploys.log and the release folders.
 */
export function readStateScript(paths: AppPaths, logLines = 500): Script {
  const quietErr = (s: Script): Script => redirect(s, '2>', '/dev/null');
  const mark = (name: Section): Script => cmd('echo', `@@dd:${name}`);
  return seq(
    mark('compose'),
    quietErr(
      or(
        and(cmd('docker', 'compose', 'version', '--short'), cmd('echo', 'plugin')),
        cmd('docker-compose', 'version', '--short'),
      ),
    ),
    mark('current'),
    quietErr(readCurrentScript(paths)),
    mark('manifests'),
    quietErr(readManifestsScript(paths)),
    mark('log'),
    quietErr(cmd('tail', '-n', String(logLines), paths.deploysLog)),
    mark('dirs'),
    quietErr(listReleasesScript(paths)),
  );
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
  const text = (name: Section): string => (sections[name] ?? []).join('\n');
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

export async function readState(host: RemoteHost, paths: AppPaths): Promise<ReleaseState> {
  const r = await host.run(readStateScript(paths), { allowFailure: true, timeoutMs: 60_000 });
  return parseState(r.stdout);
}

/** Switches `current` and appends the entry (on stdin) to deploys.log in one round trip. */
export async function switchAndLog(
  host: RemoteHost,
  paths: AppPaths,
  id: string,
  entry: DeployLogEntry,
): Promise<void> {
  await host.run(and(switchCurrentScript(paths, id), appendLogScript(paths)), {
    stdin: `${JSON.stringify(entry)}\n`,
    timeoutMs: 30_000,
  });
}

export async function readCurrent(host: RemoteHost, paths: AppPaths): Promise<string | undefined> {
  const r = await host.run(readCurrentScript(paths), { allowFailure: true, timeoutMs: 30_000 });
  if (r.code !== 0) return undefined;
  const target = r.stdout.trim();
  return target ? target.split('/').pop() : undefined;
}

export async function listReleaseDirs(host: RemoteHost, paths: AppPaths): Promise<string[]> {
  const r = await host.run(listReleasesScript(paths), { allowFailure: true, timeoutMs: 30_000 });
  if (r.code !== 0) return [];
  return r.stdout
    .split('\n')
    .map((s) => s.trim())
    .filter(Boolean);
}

export async function readManifests(host: RemoteHost, paths: AppPaths): Promise<ReleaseManifest[]> {
  const r = await host.run(readManifestsScript(paths), { allowFailure: true, timeoutMs: 30_000 });
  return r.stdout
    .split('\n')
    .map((line) => parseManifest(line))
    .filter((m): m is ReleaseManifest => m !== undefined);
}

export async function readDeployLog(host: RemoteHost, paths: AppPaths, lines = 500): Promise<DeployLogEntry[]> {
  const r = await host.run(cmd('tail', '-n', String(lines), paths.deploysLog), {
    allowFailure: true,
    timeoutMs: 30_000,
  });
  return r.code === 0 ? parseDeployLog(r.stdout) : [];
}

export async function switchCurrent(host: RemoteHost, paths: AppPaths, id: string): Promise<void> {
  await host.run(switchCurrentScript(paths, id), { timeoutMs: 30_000 });
}

export async function appendDeployLog(host: RemoteHost, paths: AppPaths, entry: DeployLogEntry): Promise<void> {
  await host.run(appendLogScript(paths), { stdin: `${JSON.stringify(entry)}\n`, timeoutMs: 30_000 });
}

export interface PruneOutcome {
  releasesRemoved: string[];
  imagesRemoved: string[];
}

/** Removes pruned release folders, then the images only they pinned (images in use stay). */
export async function applyPrune(host: RemoteHost, paths: AppPaths, plan: PrunePlan): Promise<PruneOutcome> {
  if (plan.remove.length) {
    await host.run(
      cmd(
        'rm',
        '-rf',
        plan.remove.map((id) => paths.release(id)),
      ),
      { timeoutMs: 120_000 },
    );
  }
  const imagesRemoved: string[] = [];
  for (const id of plan.images) {
    // Untag every name first (an id with several tags cannot be removed by id alone).
    const tags = await host.run(cmd('docker', 'image', 'inspect', '--format', '{{json .RepoTags}}', id), {
      allowFailure: true,
      timeoutMs: 30_000,
    });
    if (tags.code !== 0) continue;
    let names: string[] = [];
    try {
      const parsed = JSON.parse(tags.stdout.trim() || '[]') as unknown;
      if (Array.isArray(parsed)) names = parsed.filter((t): t is string => typeof t === 'string');
    } catch {
      names = [];
    }
    const r = await host.run(cmd('docker', 'image', 'rm', names.length ? names : [id]), {
      allowFailure: true,
      timeoutMs: 120_000,
    });
    const still = await host.run(cmd('docker', 'image', 'inspect', '--format', '{{.Id}}', id), {
      allowFailure: true,
      timeoutMs: 30_000,
    });
    if (still.code !== 0 && r.code === 0) imagesRemoved.push(id);
  }
  return { releasesRemoved: plan.remove, imagesRemoved };
}
