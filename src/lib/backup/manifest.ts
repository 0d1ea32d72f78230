import { randomBytes } from 'node:crypto';

import type { EncryptionParams } from './encryption.js';
import { type Compression, type DumpKind, dumpExtension } from './spec.js';

// One backup = one data object + one manifest object next to it, written LAST.
// A backup counts (for restore, `latest`, and retention) only when its manifest exists,
// so an interrupted upload can never be mistaken for a backup.

export const MANIFEST_SUFFIX = '.manifest.json';

export interface BackupManifest {
  version: 1;
  app: string;
  /** The dump's name (its folder under the prefix). */
  name: string;
  kind: DumpKind;
  /** Human description of where the data came from, without secrets. */
  source: string;
  droplet: string;
  /** Key of the data object. */
  key: string;
  createdAt: string;
  releaseId?: string;
  /** Bytes of the stored object (after compression and encryption) and their SHA-256 (hex). */
  size: number;
  sha256: string;
  /** Bytes the dump command produced. */
  rawSize: number;
  compression: Compression;
  encryption?: EncryptionParams;
  durationMs: number;
}

/** `20261122T023000Z`: sorts as time. */
export function utcStamp(date: Date): string {
  return date
    .toISOString()
    .replace(/[-:]/g, '')
    .replace(/\.\d{3}Z$/, 'Z');
}

export function normalizePrefix(prefix: string): string {
  return prefix.replace(/^\/+|\/+$/g, '');
}

/** `<prefix>/<name>/` — everything of one dump lives under it. */
export function dumpFolder(prefix: string, name: string): string {
  const p = normalizePrefix(prefix);
  return p ? `${p}/${name}/` : `${name}/`;
}

export interface BackupKeys {
  data: string;
  manifest: string;
}

export function backupKeys(
  prefix: string,
  name: string,
  kind: DumpKind,
  compression: Compression,
  encrypted: boolean,
  at: Date,
  suffix: string = timeSuffix(at),
): BackupKeys {
  const base = `${dumpFolder(prefix, name)}${utcStamp(at)}-${suffix}`;
  const ext = `.${dumpExtension(kind)}${compression === 'gzip' ? '.gz' : ''}${encrypted ? '.enc' : ''}`;
  return { data: `${base}${ext}`, manifest: `${base}${MANIFEST_SUFFIX}` };
}

/**
 * The 6 hex digits after the stamp: the milliseconds (3 hex digits, 000-3e7) then 3 random ones.
 * Catalogs order backups of the same second by key, so this keeps them in time order (with a
 * random suffix alone, keep-last could keep the older of two backups made in one second).
 */
export function timeSuffix(at: Date): string {
  return at.getUTCMilliseconds().toString(16).padStart(3, '0') + randomBytes(2).toString('hex').slice(0, 3);
}

export function isManifestKey(key: string): boolean {
  return key.endsWith(MANIFEST_SUFFIX);
}

/** Checks the shape of a manifest read back from storage. */
export function parseManifest(text: string, key: string): BackupManifest {
  let m: unknown;
  try {
    m = JSON.parse(text);
  } catch {
    throw new Error(`manifest ${key} is not valid JSON`);
  }
  const o = m as Partial<BackupManifest>;
  if (
    typeof o !== 'object' ||
    o === null ||
    o.version !== 1 ||
    typeof o.key !== 'string' ||
    typeof o.kind !== 'string' ||
    typeof o.sha256 !== 'string' ||
    typeof o.size !== 'number' ||
    typeof o.createdAt !== 'string'
  ) {
    throw new Error(`manifest ${key} is not a droplet-deploy backup manifest (version 1)`);
  }
  return o as BackupManifest;
}
