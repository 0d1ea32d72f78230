// Which Compose project a release runs as: the app's project name, the release's files,
// and — for `up` — the stable `live` folder as project directory.

import { posix } from 'node:path';

import type { ComposeFlavor, ComposeProject } from '../../lib/compose/compose.js';
import { type AppPaths, PINNED_FILE, type ReleaseManifest } from '../../lib/release/model.js';

export function projectFor(
  flavor: ComposeFlavor,
  app: string,
  releaseDir: string,
  manifest: Pick<ReleaseManifest, 'composeFiles' | 'envFile' | 'profiles'>,
  pinned: boolean,
): ComposeProject {
  return {
    flavor,
    project: app,
    files: [
      ...manifest.composeFiles.map((f) => posix.join(releaseDir, f)),
      ...(pinned ? [posix.join(releaseDir, PINNED_FILE)] : []),
    ],
    envFile: posix.join(releaseDir, manifest.envFile),
    profiles: manifest.profiles,
  };
}

/** The same project run from the `live` symlink (stable bind-mount paths across releases). */
export function liveProject(
  project: ComposeProject,
  paths: AppPaths,
  manifest: Pick<ReleaseManifest, 'composeFiles'>,
): ComposeProject {
  return { ...project, projectDirectory: posix.join(paths.live, posix.dirname(manifest.composeFiles[0] as string)) };
}

/** Release ids whose folders the containers bind-mount directly (not through `live`): pruning must keep them. */
export function releasesInUse(paths: AppPaths, bindSources: readonly string[]): string[] {
  const prefix = `${paths.releases}/`;
  return [
    ...new Set(
      bindSources.filter((s) => s.startsWith(prefix)).map((s) => s.slice(prefix.length).split('/')[0] as string),
    ),
  ].filter(Boolean);
}
