// Step 2–3 of a deploy: the release to start. A new one: its id, its validated config
// (from the begin script), its images delivered and pinned. A rollback: the kept release
// asked for, its pinned images checked.

import { errorMessage } from '../../lib/action/errors.js';
import type { Logger } from '../../lib/action/logger.js';
import { inspectImages, repoDigestFor } from '../../lib/images/registry.js';
import {
  MANIFEST_FILE,
  PINNED_FILE,
  type PinnedImage,
  pinnedOverride,
  previousRelease,
  type ReleaseManifest,
} from '../../lib/release/model.js';
import type { TarFile } from '../../lib/release/tar.js';
import type { RemoteHost } from '../../lib/ssh/executor.js';
import type { Begun } from './begin.js';
import { bindMountHashes, type ParsedConfig, parseConfig, servicesFromConfig } from './config.js';
import { deliverImages } from './deliver.js';
import { DeployStepError, tail, unchanged } from './errors.js';
import type { HostJob } from './types.js';

export interface Prepared {
  manifest: ReleaseManifest;
  action: 'deploy' | 'rollback';
  /** A new release (removed again if it is not switched in). */
  created: boolean;
  /** A new release's files, still in the scratch folder, and what to add to them (pinned override, release.json). */
  staged?: { dir: string; restage: boolean; add: TarFile[] };
}

function shortSha(sha: string): string {
  return sha ? sha.slice(0, 7) : '';
}

function timestampId(ms: number): string {
  return new Date(ms).toISOString().replace(/[-:T]/g, '').slice(0, 14);
}

function uniqueId(base: string, existing: readonly string[]): string {
  if (!existing.includes(base)) return base;
  for (let n = 2; ; n += 1) if (!existing.includes(`${base}-${n}`)) return `${base}-${n}`;
}

export async function prepareRelease(
  job: HostJob,
  host: RemoteHost,
  begun: Begun,
  log: Logger,
  stream: (line: string) => void,
): Promise<Prepared> {
  const { inputs, deps, target } = job;
  const { current, manifests, log: history, dirs } = begun.state;
  const fail = (step: string, reason: string): never => {
    throw new DeployStepError(target.label, step, reason, unchanged(current));
  };

  if (inputs.rollbackTo) {
    const wanted = inputs.rollbackTo === 'previous' ? previousRelease(current, history, manifests) : inputs.rollbackTo;
    const found = wanted ? manifests.find((m) => m.id === wanted) : undefined;
    if (!found) {
      const kept = manifests.map((m) => m.id).join(', ') || 'none';
      fail(
        'find release',
        inputs.rollbackTo === 'previous'
          ? `there is no previous release to roll back to (kept releases: ${kept})`
          : `release ${inputs.rollbackTo} is not kept on this droplet (kept releases: ${kept})`,
      );
    }
    const manifest = found as ReleaseManifest;
    const { missing } = await inspectImages(
      host,
      manifest.images.map((i) => i.id),
    );
    if (missing.length) {
      fail(
        'check pinned images',
        `release ${manifest.id} pins images that are no longer on the droplet: ${missing.join(', ')}`,
      );
    }
    log.info(
      `rolling back to release ${manifest.id} (${manifest.images.map((i) => `${i.service}=${i.id.slice(7, 19)}`).join(', ')})`,
    );
    return { manifest, action: 'rollback', created: false };
  }

  const draft = begun.draft as NonNullable<Begun['draft']>;
  const base = inputs.releaseId ?? (shortSha(inputs.context.sha) || timestampId(deps.now()));
  // A release id already on the droplet is staged again in place unless it is serving
  // (db-migrate stages the release that rolling-update / deploy-compose then start).
  const restage = dirs.includes(base) && base !== current;
  const id = restage ? base : uniqueId(base, dirs);
  if (id !== base) log.info(`release ${base} is serving on this droplet; this one is ${id}`);
  if (restage) log.info(`release ${id} is on the droplet but not serving: staging it again`);
  const releaseDir = job.paths.release(id);

  // 2. validated by the begin script (`config`): paths in its messages name the release's folder
  const config = begun.state.config;
  if (!config) return fail('detect compose', 'neither `docker compose` (Compose v2) nor `docker-compose` (v1) works');
  if (config.code !== 0) {
    fail('compose config', tail(begun.stderr.split(draft.stageDir).join(releaseDir)) || `exit ${config.code}`);
  }
  let services: Map<string, string>;
  let doc: ParsedConfig | null;
  try {
    doc = parseConfig(config.yaml);
    services = servicesFromConfig(doc, inputs.profiles);
  } catch (error) {
    return fail('compose config', errorMessage(error));
  }
  const manifest: ReleaseManifest = {
    version: 1,
    id,
    app: inputs.app,
    createdAt: new Date(deps.now()).toISOString(),
    sha: inputs.context.sha,
    repo: inputs.context.repo,
    runId: inputs.context.runId,
    actor: inputs.context.actor,
    composeFiles: draft.composeFiles,
    envFile: draft.envFile,
    profiles: inputs.profiles,
    images: [],
    delivery: inputs.images,
    fileHashes: bindMountHashes(doc, draft.stageDir, [...job.files, { path: draft.envFile, content: job.envText }]),
  };
  const refs = [...new Set(services.values())];

  // 3. deliver the images and pin what was delivered
  let delivered: Awaited<ReturnType<typeof deliverImages>>;
  try {
    delivered = await deliverImages(host, refs, {
      inputs,
      ...(begun.dockerConfigDir ? { dockerConfigDir: begun.dockerConfigDir } : {}),
      ...(deps.transfer ? { transfer: deps.transfer } : {}),
      log,
      onLine: stream,
    });
  } catch (error) {
    return fail('deliver images', errorMessage(error));
  }
  const { found, missing } = delivered;
  if (missing.length) {
    fail(
      'deliver images',
      `image${missing.length > 1 ? 's' : ''} ${missing.join(', ')} ${missing.length > 1 ? 'are' : 'is'} not on the droplet${inputs.images === 'none' ? ' (images: none expects them there already)' : ''}`,
    );
  }
  manifest.images = [...services].map(([service, image]): PinnedImage => {
    const info = found.get(image);
    const digest = info ? repoDigestFor(image, info.repoDigests) : undefined;
    return { service, image, id: info?.id ?? '', ...(digest ? { repoDigest: digest } : {}) };
  });
  return {
    manifest,
    action: 'deploy',
    created: true,
    staged: {
      dir: draft.stageDir,
      restage,
      add: [
        { path: PINNED_FILE, content: pinnedOverride(manifest.images, manifest.fileHashes), mode: 0o644 },
        { path: MANIFEST_FILE, content: `${JSON.stringify(manifest)}\n`, mode: 0o644 },
      ],
    },
  };
}
