// The shapes deploy-compose shares with its callers (rolling-update, db-migrate, the
// one-step deploy) and between its own modules. No logic here.

import type { ActionIo } from '../../lib/action/core.js';
import type { Logger } from '../../lib/action/logger.js';
import type { ComposeFlavor, ComposeProject } from '../../lib/compose/compose.js';
import type { ServiceState } from '../../lib/compose/state.js';
import type { RegistryAuth } from '../../lib/images/registry.js';
import type { LockHolder } from '../../lib/lock/lock.js';
import type { AppPaths, ReleaseManifest } from '../../lib/release/model.js';
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

/** Everything one host's deploy works with. */
export interface HostJob {
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
