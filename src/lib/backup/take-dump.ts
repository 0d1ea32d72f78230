import type { Logger } from '../action/logger.js';
import { cmd } from '../commands/cmd.js';
import type { RemoteHost } from '../ssh/executor.js';
import { prepareDump } from './kinds.js';
import { type BackupManifest, MANIFEST_SUFFIX } from './manifest.js';
import { streamBackup } from './pipeline.js';
import type { DumpSpec } from './spec.js';
import type { BackupStore } from './store.js';

// Taking ONE dump to the store: resolve the dump kind's source on the droplet, stream it
// through the pipeline, write the manifest. Used by snapshot-and-backup (scheduled backups)
// and by the migration runner (backup-before), so both produce the same objects and
// manifests and snapshot-and-backup's restore/verify read either.

export interface TakeDumpRequest {
  host: RemoteHost;
  store: BackupStore;
  spec: DumpSpec;
  app: string;
  /** Where the dump ran, for the manifest (e.g. "web-1 (203.0.113.7)"). */
  droplet: string;
  prefix: string;
  gzipLevel?: number;
  passphrase?: string;
  iterations?: number;
  /** The release serving while the dump was taken. */
  releaseId?: string;
  now: () => Date;
  sleep: (ms: number) => Promise<void>;
  logger: Logger;
  /** Deadline of the dump command. */
  timeoutMs: number;
  /** Deadline of waits inside a dump kind (e.g. Redis BGSAVE); default 5 minutes. */
  waitTimeoutMs?: number;
}

/** Streams one dump to the store; throws (BackupFailedError from the pipeline) when no complete backup was made. */
export async function takeDump(req: TakeDumpRequest): Promise<BackupManifest> {
  const { spec } = req;
  const source = await prepareDump(
    { host: req.host, app: req.app, logger: req.logger, sleep: req.sleep, waitTimeoutMs: req.waitTimeoutMs ?? 300_000 },
    spec,
  );
  const m = await streamBackup({
    host: req.host,
    store: req.store,
    source,
    app: req.app,
    name: spec.name,
    kind: spec.kind,
    droplet: req.droplet,
    prefix: req.prefix,
    compression: spec.compression,
    ...(req.gzipLevel !== undefined ? { gzipLevel: req.gzipLevel } : {}),
    ...(req.passphrase ? { passphrase: req.passphrase } : {}),
    ...(req.iterations !== undefined ? { iterations: req.iterations } : {}),
    ...(req.releaseId ? { releaseId: req.releaseId } : {}),
    now: req.now,
    logger: req.logger,
    timeoutMs: req.timeoutMs,
  });
  req.logger.info(`backup ${m.key}: ${m.rawSize} bytes dumped, ${m.size} bytes stored, sha256 ${m.sha256}`);
  return m;
}

/** The manifest object next to a backup's data object. */
export function manifestKeyOf(m: BackupManifest): string {
  return m.key.replace(/\.[^/]*$/, MANIFEST_SUFFIX);
}

/** The release serving now: the target of <deploy-root>/<app>/current, if there is one. */
export async function servingRelease(host: RemoteHost, deployRoot: string, app: string): Promise<string | undefined> {
  const out = await host.run(cmd('readlink', `${deployRoot.replace(/\/$/, '')}/${app}/current`), {
    allowFailure: true,
  });
  const target = out.stdout.trim();
  return out.code === 0 && target ? target.replace(/\/$/, '').split('/').pop() : undefined;
}

/** 1536 → "1.5 KiB". */
export function formatBytes(n: number): string {
  if (n < 1024) return `${n} B`;
  const units = ['KiB', 'MiB', 'GiB', 'TiB'];
  let v = n;
  let i = -1;
  do {
    v /= 1024;
    i += 1;
  } while (v >= 1024 && i < units.length - 1);
  return `${v.toFixed(1)} ${units[i]}`;
}
