import { createHash } from 'node:crypto';
import { posix } from 'node:path';

import { parse as parseYaml } from 'yaml';

import type { ActionIo } from '../../lib/action/core.js';
import { ConfigurationError, DiagnosedError, errorMessage } from '../../lib/action/errors.js';
import { type Logger, prefixedLogger } from '../../lib/action/logger.js';
import { maskSecret } from '../../lib/action/secrets.js';
import { SummaryBuilder } from '../../lib/action/summary.js';
import { and, cmd } from '../../lib/commands/cmd.js';
import {
  type ComposeFlavor,
  type ComposeProject,
  configResolved,
  composeFromProbe,
  detectCompose,
  down,
  upDetached,
} from '../../lib/compose/compose.js';
import type { ServiceState } from '../../lib/compose/state.js';
import { waitForServices, type WaitResult } from '../../lib/compose/wait.js';
import { inspectImages, pullImages, type RegistryAuth, repoDigestFor } from '../../lib/images/registry.js';
import { acquireLock, describeHolder, type HeldLock, type LockHolder } from '../../lib/lock/lock.js';
import {
  type AppPaths,
  appPaths,
  type DeployLogEntry,
  envLine,
  MANIFEST_FILE,
  PINNED_FILE,
  type PinnedImage,
  pinnedOverride,
  planPrune,
  previousRelease,
  type ReleaseManifest,
} from '../../lib/release/model.js';
import {
  appendDeployLog,
  applyPrune,
  extractScript,
  readCurrent,
  readState,
  type ReleaseState,
  switchAndLog,
  switchLiveScript,
} from '../../lib/release/remote.js';
import { tarArchive } from '../../lib/release/tar.js';
import type { RemoteHost } from '../../lib/ssh/executor.js';
import type { HostConnector } from '../../lib/ssh/pool.js';
import type { HostTarget } from '../../lib/ssh/target.js';
import type { Inputs, Targets } from './inputs.js';

/** A file to put into the release folder. */
export interface ReleaseFile {
  /** Path relative to the release folder (same as relative to the working directory). */
  path: string;
  content: Buffer;
  mode: number;
  /** One of the compose files (in the order they are given to Compose). */
  compose: boolean;
}

/** Sends local images to a droplet (the `transfer` delivery). */
export interface ImageTransfer {
  send(host: RemoteHost, refs: readonly string[], log: Logger): Promise<{ bytesSent: number }>;
}

export interface Deps {
  io: ActionIo;
  connector: HostConnector;
  /** droplet-tag / droplet-ids → hosts (the DigitalOcean API). */
  resolveTargets(targets: Exclude<Targets, { kind: 'hosts' }>): Promise<HostTarget[]>;
  /** DigitalOcean Container Registry credentials from the API. */
  docrAuth(): Promise<RegistryAuth[]>;
  /** The compose files and extra files, read from the working directory. */
  readReleaseFiles(inputs: Inputs): ReleaseFile[];
  /** The env-file input's content. */
  readEnvFile(path: string): string;
  transfer?: ImageTransfer;
  now(): number;
  newToken(): string;
  sleep?: (ms: number) => Promise<void>;
  /** Replaces `up -d` + wait (step 4); rolling-update passes its rollout here. */
  startRelease?: (ctx: StartContext) => Promise<StartOutcome>;
  /**
   * Stage mode (db-migrate): after the release is uploaded, validated and its images pinned,
   * run this under the deploy lock instead of steps 4–5; nothing is started or switched.
   */
  stage?: StageWork;
}

/** Work done on a staged release under the lock (db-migrate's migration). */
export interface StageWork {
  /** The step name used in errors, e.g. "migrate". */
  step: string;
  /** Throws (a DiagnosedError to show output under the message) to fail; the staged release is then removed. */
  run(ctx: StartContext): Promise<void>;
}

/** What a replacement for step 4 (`up -d` + wait) is given: rolling-update's service-by-service rollout. */
export interface StartContext {
  host: RemoteHost;
  target: HostTarget;
  log: Logger;
  flavor: ComposeFlavor;
  /** The release being started (pinned images). */
  project: ComposeProject;
  manifest: ReleaseManifest;
  /** The release serving before, if any (pinned images). */
  previous?: ComposeProject;
  previousManifest?: ReleaseManifest;
  action: 'deploy' | 'rollback';
}

export type StartOutcome =
  | { ok: true; states: ServiceState[] }
  | {
      ok: false;
      reason: string;
      diagnostics?: string;
      /** true: the starter left the previous release serving (nothing to restore). */
      previousServing: boolean;
    };

export const STATE_LOCKS = 'locks';

/** What the post step needs to release locks this run still holds. */
export interface LockState {
  app: string;
  dir: string;
  token: string;
  hosts: HostTarget[];
}

export class DeployStepError extends Error {
  override readonly name = 'DeployStepError';
  constructor(
    readonly host: string,
    readonly step: string,
    readonly reason: string,
    readonly outcome: string,
    readonly diagnostics?: string,
  ) {
    super(
      `host ${host}, step "${step}": ${reason.replace(/\.$/, '')}. ${outcome}${diagnostics ? `\n${diagnostics}` : ''}`,
    );
  }
}

export interface ServiceReport {
  host: string;
  name: string;
  image: string;
  digest: string;
  state: string;
  health: string;
}

export interface HostOutcome {
  target: HostTarget;
  release: string;
  previous: string | undefined;
  services: ServiceReport[];
  durationMs: number;
  action: 'deploy' | 'rollback';
  pruned: string[];
  composeVersion: string;
}

function unchanged(current: string | undefined): string {
  return current
    ? `Nothing was changed; release ${current} is still serving.`
    : 'Nothing was changed; no release was serving before.';
}

function shortSha(sha: string): string {
  return sha ? sha.slice(0, 7) : '';
}

function timestampId(ms: number): string {
  return new Date(ms).toISOString().replace(/[-:T]/g, '').slice(0, 14);
}

/** The service name → image map of a resolved compose config (active profiles only). */
export function servicesFromConfig(yamlText: string, profiles: readonly string[]): Map<string, string> {
  const doc = parseYaml(yamlText) as { services?: Record<string, Record<string, unknown>> } | null;
  const out = new Map<string, string>();
  for (const [name, svc] of Object.entries(doc?.services ?? {})) {
    const svcProfiles = Array.isArray(svc['profiles']) ? (svc['profiles'] as string[]) : [];
    if (svcProfiles.length && !svcProfiles.some((p) => profiles.includes(p))) continue;
    const image = svc['image'];
    if (typeof image !== 'string' || !image) {
      throw new Error(`service "${name}" has no image: deploy-compose runs images, it does not build them`);
    }
    out.set(name, image);
  }
  if (out.size === 0) throw new Error('the compose files define no services');
  return out;
}

/**
 * Per service, a hash of the content of the release files it bind-mounts (sources under
 * `releaseDir` in the resolved config; short and long volume syntax, Compose v1 and v2).
 */
export function bindMountHashes(
  yamlText: string,
  releaseDir: string,
  files: readonly { path: string; content: Buffer | string }[],
): Record<string, string> {
  const doc = parseYaml(yamlText) as { services?: Record<string, { volumes?: unknown[] }> } | null;
  const out: Record<string, string> = {};
  for (const [name, svc] of Object.entries(doc?.services ?? {})) {
    const rels = new Set<string>();
    for (const v of svc.volumes ?? []) {
      let source: string | undefined;
      if (typeof v === 'string') source = v.split(':')[0];
      else if (v && typeof v === 'object' && (v as { type?: string }).type === 'bind')
        source = (v as { source?: string }).source;
      if (source && source.startsWith(`${releaseDir}/`))
        rels.add(source.slice(releaseDir.length + 1).replace(/\/+$/, ''));
    }
    if (rels.size === 0) continue;
    const matched = files
      .filter((f) => [...rels].some((r) => f.path === r || f.path.startsWith(`${r}/`)))
      .map((f) => `${f.path}\0${createHash('sha256').update(f.content).digest('hex')}`)
      .sort();
    out[name] = createHash('sha256')
      .update([...rels].sort().join('\n'))
      .update('\n')
      .update(matched.join('\n'))
      .digest('hex')
      .slice(0, 16);
  }
  return out;
}

/** The same project run from the `live` symlink (stable bind-mount paths across releases). */
export function liveProject(
  project: ComposeProject,
  paths: AppPaths,
  manifest: Pick<ReleaseManifest, 'composeFiles'>,
): ComposeProject {
  return { ...project, projectDirectory: posix.join(paths.live, posix.dirname(manifest.composeFiles[0] as string)) };
}

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

function uniqueId(base: string, existing: readonly string[]): string {
  if (!existing.includes(base)) return base;
  for (let n = 2; ; n += 1) if (!existing.includes(`${base}-${n}`)) return `${base}-${n}`;
}

function tail(text: string, lines = 8): string {
  return text.trim().split('\n').slice(-lines).join('\n');
}

export async function run(inputs: Inputs, deps: Deps): Promise<HostOutcome[]> {
  const { io } = deps;
  const started = deps.now();
  for (const value of inputs.secrets.values()) maskSecret((v) => io.setSecret(v), value);
  if (inputs.registry) maskSecret((v) => io.setSecret(v), inputs.registry.password);
  maskSecret((v) => io.setSecret(v), inputs.ssh.privateKey);
  if (inputs.ssh.insecure) {
    io.logger.warn(
      'host keys are NOT verified (insecure-skip-host-key-check: true): anyone on the path can impersonate the droplet',
    );
  }

  const targets: HostTarget[] =
    inputs.targets.kind === 'hosts'
      ? inputs.targets.hosts.map((h) => ({ ...h, label: h.port === 22 ? h.host : `${h.host}:${h.port}` }))
      : await deps.resolveTargets(inputs.targets);
  if (targets.length === 0) throw new ConfigurationError('no droplets matched the given targets');

  let files: ReleaseFile[] = [];
  let envText = '';
  if (!inputs.rollbackTo) {
    files = deps.readReleaseFiles(inputs);
    envText = buildEnv(inputs, deps);
  }
  let auths: RegistryAuth[] = [];
  if (!inputs.rollbackTo && inputs.images === 'registry') {
    if (inputs.docr) auths = await deps.docrAuth();
    for (const a of auths) maskSecret((v) => io.setSecret(v), `${a.username}:${a.password}`);
  }
  if (!inputs.rollbackTo && inputs.images === 'transfer' && !deps.transfer) {
    throw new ConfigurationError('input "images" is "transfer" but no local Docker is available on this runner');
  }

  const token = deps.newToken();
  const holder: LockHolder = {
    repo: inputs.context.repo,
    runId: inputs.context.runId,
    ...(inputs.context.runAttempt ? { runAttempt: inputs.context.runAttempt } : {}),
    actor: inputs.context.actor,
    sha: inputs.context.sha,
    time: new Date(deps.now()).toISOString(),
    token,
    action: 'deploy-compose',
    staleAfterSeconds: Math.round(inputs.lockStaleAfterMs / 1000),
  };
  const paths = appPaths(inputs.app, inputs.baseDir);
  const lockedHosts: HostTarget[] = [];
  const saveLocks = (): void =>
    io.saveState(
      STATE_LOCKS,
      JSON.stringify({ app: inputs.app, dir: paths.lock, token, hosts: lockedHosts } satisfies LockState),
    );

  const outcomes: HostOutcome[] = [];
  try {
    for (const target of targets) {
      const outcome = await io.logger.group(
        `${target.label}: ${inputs.rollbackTo ? 'rollback' : 'deploy'} ${inputs.app}`,
        () =>
          deployHost({
            inputs,
            deps,
            target,
            paths,
            holder,
            files,
            envText,
            auths,
            onLocked: () => {
              lockedHosts.push(target);
              saveLocks();
            },
            onUnlocked: () => {
              lockedHosts.splice(lockedHosts.indexOf(target), 1);
              saveLocks();
            },
          }).catch((error: unknown) => {
            if (outcomes.length > 0 && error instanceof Error) {
              error.message += ` Hosts already on the new release: ${outcomes.map((o) => o.target.label).join(', ')}.`;
            }
            throw error;
          }),
      );
      outcomes.push(outcome);
    }
  } finally {
    await deps.connector.closeAll();
  }

  if (deps.stage) return outcomes;
  const first = outcomes[0] as HostOutcome;
  io.setOutput('release-id', first.release);
  io.setOutput('previous-release-id', first.previous ?? '');
  io.setOutput('services', JSON.stringify(outcomes.flatMap((o) => o.services)));
  io.setOutput('duration-seconds', String(Math.round((deps.now() - started) / 100) / 10));
  const summary = new SummaryBuilder().heading(
    `deploy-compose: ${inputs.app} ${first.action === 'rollback' ? 'rolled back to' : 'released'} ${first.release}`,
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
  return outcomes;
}

function buildEnv(inputs: Inputs, deps: Deps): string {
  const parts: string[] = [];
  if (inputs.envFile) {
    const text = deps.readEnvFile(inputs.envFile);
    parts.push(text.endsWith('\n') || text === '' ? text : `${text}\n`);
  }
  const entries = new Map<string, string>([...inputs.env, ...inputs.secrets]);
  for (const [k, v] of entries) parts.push(`${envLine(k, v)}\n`);
  return parts.join('');
}

interface HostJob {
  inputs: Inputs;
  deps: Deps;
  target: HostTarget;
  paths: AppPaths;
  holder: LockHolder;
  files: ReleaseFile[];
  envText: string;
  auths: RegistryAuth[];
  onLocked(): void;
  onUnlocked(): void;
}

async function deployHost(job: HostJob): Promise<HostOutcome> {
  const { inputs, deps, target, paths } = job;
  const started = deps.now();
  const log = prefixedLogger(job.deps.io.logger, `[${target.label}]`);
  const stream = (line: string): void => log.info(line);

  let host: RemoteHost;
  try {
    host = await deps.connector.connect(target);
  } catch (error) {
    throw new DeployStepError(target.label, 'connect', errorMessage(error), 'Nothing was changed.');
  }
  let lock: HeldLock;
  try {
    lock = await acquireLock(host, {
      dir: paths.lock,
      holder: job.holder,
      timeoutMs: inputs.lockTimeoutMs,
      staleAfterMs: inputs.lockStaleAfterMs,
      onWait: (h, age) =>
        log.info(`waiting for the deploy lock, held by ${describeHolder(h)} (last heartbeat ${age}s ago)`),
      onStaleTakeover: (h, age) =>
        log.warn(`taking over a stale deploy lock held by ${describeHolder(h)} (no heartbeat for ${age}s)`),
      ...(deps.sleep ? { sleep: deps.sleep } : {}),
    });
  } catch (error) {
    const current = await readCurrent(host, paths).catch(() => undefined);
    throw new DeployStepError(target.label, 'lock', errorMessage(error), unchanged(current));
  }
  job.onLocked();
  try {
    // one round trip: compose flavour, current release, kept manifests, deploys.log, folders
    const state = await readState(host, paths);
    const flavor =
      composeFromProbe(host, state.compose) ??
      (await detectCompose(host).catch((error: unknown) => {
        throw new DeployStepError(target.label, 'detect compose', errorMessage(error), unchanged(state.current));
      }));
    log.info(`Compose ${flavor.version} (${flavor.command.join(' ')})`);
    return await deployLocked(job, host, flavor, state, log, stream, started);
  } finally {
    const released = await lock.release().catch(() => false);
    if (released) job.onUnlocked();
    else log.warn(`could not release the deploy lock ${paths.lock}; the post step will try again`);
  }
}

async function deployLocked(
  job: HostJob,
  host: RemoteHost,
  flavor: ComposeFlavor,
  state: ReleaseState,
  log: Logger,
  stream: (line: string) => void,
  started: number,
): Promise<HostOutcome> {
  const { inputs, deps, target, paths } = job;
  const { current, manifests, log: history } = state;
  const fail = (step: string, reason: string, outcome = unchanged(current), diagnostics?: string): never => {
    throw new DeployStepError(target.label, step, reason, outcome, diagnostics);
  };

  let manifest: ReleaseManifest;
  let action: 'deploy' | 'rollback' = 'deploy';
  let created = false;
  if (inputs.rollbackTo) {
    action = 'rollback';
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
    manifest = found as ReleaseManifest;
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
  } else {
    const dirs = state.dirs;
    const base = inputs.releaseId ?? (shortSha(inputs.context.sha) || timestampId(deps.now()));
    // A release id already on the droplet is staged again in place unless it is serving
    // (db-migrate stages the release that rolling-update / deploy-compose then start).
    const restage = dirs.includes(base) && base !== current;
    const id = restage ? base : uniqueId(base, dirs);
    if (id !== base) log.info(`release ${base} is serving on this droplet; this one is ${id}`);
    const dir = paths.release(id);
    if (restage) {
      log.info(`release ${id} is on the droplet but not serving: staging it again`);
      await host.run(cmd('rm', '-rf', dir), { timeoutMs: 60_000 });
    }
    const composeFiles = job.files.filter((f) => f.compose).map((f) => f.path);
    const envFile = posix.join(posix.dirname(composeFiles[0] as string), '.env');
    manifest = {
      version: 1,
      id,
      app: inputs.app,
      createdAt: new Date(deps.now()).toISOString(),
      sha: inputs.context.sha,
      repo: inputs.context.repo,
      runId: inputs.context.runId,
      actor: inputs.context.actor,
      composeFiles,
      envFile,
      profiles: inputs.profiles,
      images: [],
      delivery: inputs.images,
    };
    created = true;
    const cleanup = async (): Promise<void> => {
      await host.run(cmd('rm', '-rf', dir), { allowFailure: true, timeoutMs: 60_000 });
    };
    try {
      // 2. upload the release and validate it
      // every file and the 0600 .env in one archive on stdin: one round trip, no argv
      const archive = tarArchive([
        ...job.files.map((f) => ({ path: f.path, content: f.content, mode: f.mode })),
        { path: envFile, content: job.envText, mode: 0o600 },
      ]);
      await host.run(extractScript(dir), { stdin: archive, timeoutMs: 120_000 });
      const project = projectFor(flavor, inputs.app, dir, manifest, false);
      // validates and resolves in one go; its stdout holds interpolated secrets: parsed, never logged
      const resolved = await host.run(configResolved(project), { allowFailure: true, timeoutMs: 120_000 });
      if (resolved.code !== 0) fail('compose config', tail(resolved.stderr) || `exit ${resolved.code}`);
      let services: Map<string, string>;
      try {
        services = servicesFromConfig(resolved.stdout, inputs.profiles);
      } catch (error) {
        return fail('compose config', errorMessage(error));
      }
      manifest.fileHashes = bindMountHashes(resolved.stdout, dir, [
        ...job.files,
        { path: envFile, content: job.envText },
      ]);
      const refs = [...new Set(services.values())];

      // 3. deliver the images and pin what was delivered
      try {
        if (inputs.images === 'registry') {
          await pullImages(host, refs, {
            auths: job.auths,
            scratchDir: paths.scratch,
            onLine: stream,
            timeoutMs: inputs.timeoutMs,
          });
        } else if (inputs.images === 'transfer') {
          const sent = await (deps.transfer as ImageTransfer).send(host, refs, log);
          log.info(`transfer: ${sent.bytesSent} bytes sent`);
        }
      } catch (error) {
        fail('deliver images', errorMessage(error));
      }
      const { found, missing } = await inspectImages(host, refs);
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
      await host.run(extractScript(dir), {
        stdin: tarArchive([
          { path: PINNED_FILE, content: pinnedOverride(manifest.images, manifest.fileHashes), mode: 0o644 },
          { path: MANIFEST_FILE, content: `${JSON.stringify(manifest)}\n`, mode: 0o644 },
        ]),
        timeoutMs: 60_000,
      });
    } catch (error) {
      await cleanup();
      throw error;
    }
  }

  // 4. up -d with the pinned images, wait for every service
  const releaseDir = paths.release(manifest.id);
  const project = projectFor(flavor, inputs.app, releaseDir, manifest, true);
  const services = manifest.images.map((i) => i.service);
  const previousManifest = current && current !== manifest.id ? manifests.find((m) => m.id === current) : undefined;
  const recordFailure = async (reason: string): Promise<void> => {
    await appendDeployLog(
      host,
      paths,
      logEntry(job, manifest, action, 'failed', current, current ?? null, started, reason),
    ).catch(() => undefined);
  };

  const restore = async (): Promise<string> => {
    if (!previousManifest) {
      if (current === manifest.id) return `Release ${manifest.id} was already serving and is not healthy now.`;
      await host.run(down(liveProject(project, paths, manifest)), {
        allowFailure: true,
        onLine: stream,
        timeoutMs: inputs.timeoutMs,
      });
      return 'No release was serving before; the failed release was stopped (named volumes kept).';
    }
    log.info(`bringing release ${previousManifest.id} back up`);
    const prev = liveProject(
      projectFor(flavor, inputs.app, paths.release(previousManifest.id), previousManifest, true),
      paths,
      previousManifest,
    );
    const up = await host.run(and(switchLiveScript(paths, previousManifest.id), upDetached(prev)), {
      allowFailure: true,
      onLine: stream,
      timeoutMs: inputs.timeoutMs,
    });
    if (up.code !== 0) return `Bringing release ${previousManifest.id} back up failed too: ${tail(up.stderr, 3)}`;
    const again = await waitForServices(host, {
      app: inputs.app,
      services: previousManifest.images.map((i) => i.service),
      deadlineMs: inputs.waitTimeoutMs,
      ...(deps.sleep ? { sleep: deps.sleep } : {}),
    });
    return again.ok
      ? `Release ${previousManifest.id} was brought back up and is serving.`
      : `Release ${previousManifest.id} was brought back up but is not healthy either: ${again.problem ?? ''}`;
  };

  const cleanupFailed = async (): Promise<void> => {
    if (created) await host.run(cmd('rm', '-rf', releaseDir), { allowFailure: true, timeoutMs: 60_000 });
  };

  if (deps.stage) {
    try {
      await deps.stage.run({ host, target, log, flavor, project, manifest, action });
    } catch (error) {
      await cleanupFailed();
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

  let waited: WaitResult;
  if (deps.startRelease) {
    const previousProject = previousManifest
      ? projectFor(flavor, inputs.app, paths.release(previousManifest.id), previousManifest, true)
      : undefined;
    const startedRelease = await deps.startRelease({
      host,
      target,
      log,
      flavor,
      project,
      manifest,
      ...(previousProject && previousManifest ? { previous: previousProject, previousManifest } : {}),
      action,
    });
    if (!startedRelease.ok) {
      const outcome = startedRelease.previousServing
        ? current
          ? `Release ${current} kept serving.`
          : 'No release was serving before.'
        : await restore();
      await recordFailure(startedRelease.reason);
      await cleanupFailed();
      return fail(
        'rollout',
        startedRelease.reason,
        `Release ${manifest.id} was not switched in. ${outcome}`,
        startedRelease.diagnostics,
      );
    }
    waited = { ok: true, states: startedRelease.states, elapsedMs: 0 };
  } else {
    log.info(`starting release ${manifest.id}`);
    // `live` → this release, then up, in one round trip
    const up = await host.run(
      and(switchLiveScript(paths, manifest.id), upDetached(liveProject(project, paths, manifest))),
      {
        allowFailure: true,
        onLine: stream,
        timeoutMs: inputs.timeoutMs,
      },
    );
    if (up.code !== 0) {
      const reason = tail(up.stderr || up.stdout) || `exit ${up.code}`;
      const outcome = await restore();
      await recordFailure(reason);
      await cleanupFailed();
      fail('compose up', reason, `Release ${manifest.id} was not switched in. ${outcome}`);
    }
    waited = await waitForServices(host, {
      app: inputs.app,
      services,
      deadlineMs: inputs.waitTimeoutMs,
      ...(deps.sleep ? { sleep: deps.sleep } : {}),
      onProgress: (d) => log.info(d),
    });
    if (!waited.ok) {
      const reason = waited.problem ?? 'services did not come up';
      const outcome = await restore();
      await recordFailure(reason);
      await cleanupFailed();
      fail('wait for services', reason, `Release ${manifest.id} was not switched in. ${outcome}`, waited.diagnostics);
    }
  }

  // 5. switch current, log, prune
  await switchAndLog(
    host,
    paths,
    manifest.id,
    logEntry(job, manifest, action, 'success', current, manifest.id, started),
  );
  log.info(`release ${manifest.id} is serving (previous: ${current ?? 'none'})`);
  let pruned: string[] = [];
  try {
    // planned from what was read at the start plus this release: no second look needed
    const dirs = [...new Set([...state.dirs, manifest.id])];
    const all = [...manifests.filter((m) => m.id !== manifest.id), manifest];
    const plan = planPrune(all, dirs, inputs.keepReleases, [manifest.id, current]);
    const done = plan.remove.length ? await applyPrune(host, paths, plan) : { releasesRemoved: [], imagesRemoved: [] };
    pruned = done.releasesRemoved;
    if (pruned.length) log.info(`pruned releases ${pruned.join(', ')}; removed ${done.imagesRemoved.length} image(s)`);
  } catch (error) {
    log.warn(`pruning old releases failed (the deploy itself succeeded): ${errorMessage(error)}`);
  }

  return {
    target,
    release: manifest.id,
    previous: current,
    services: serviceReports(target, manifest, waited.states),
    durationMs: deps.now() - started,
    action,
    pruned,
    composeVersion: flavor.version,
  };
}

function serviceReports(
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

function logEntry(
  job: HostJob,
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
