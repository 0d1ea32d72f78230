import type { Logger } from '../action/logger.js';
import { type BackupManifest, dumpFolder, isManifestKey, MANIFEST_SUFFIX, parseManifest } from './manifest.js';
import { type RetentionPolicy, selectForDeletion } from './retention.js';
import type { BackupStore, StoredObject } from './store.js';

// What backups exist: a backup is a manifest object; its data object is named in it.

export interface CatalogEntry {
  /** The manifest key: the backup's identity. */
  id: string;
  createdAt: Date;
  /** Data objects that belong to this backup (same base name). */
  objects: string[];
}

const STAMP = /\/(\d{4})(\d{2})(\d{2})T(\d{2})(\d{2})(\d{2})Z-[0-9a-f]+\.manifest\.json$/;

export function stampDate(manifestKey: string): Date | undefined {
  const m = STAMP.exec(manifestKey);
  if (!m) return undefined;
  const [, y, mo, d, h, mi, s] = m;
  return new Date(Date.UTC(Number(y), Number(mo) - 1, Number(d), Number(h), Number(mi), Number(s)));
}

function baseOf(key: string): string {
  const slash = key.lastIndexOf('/');
  const file = key.slice(slash + 1);
  const dash = file.indexOf('.');
  return key.slice(0, slash + 1) + (dash >= 0 ? file.slice(0, dash) : file);
}

export interface Catalog {
  backups: CatalogEntry[];
  /** Data objects without a manifest (failed or in-progress uploads): never counted as backups. */
  orphans: StoredObject[];
}

/** The backups of one dump, newest first. */
export async function readCatalog(store: BackupStore, prefix: string, name: string): Promise<Catalog> {
  const objects = await store.list(dumpFolder(prefix, name));
  const manifests = objects.filter((o) => isManifestKey(o.key));
  const byBase = new Map<string, CatalogEntry>();
  for (const m of manifests) {
    const createdAt = stampDate(m.key) ?? m.lastModified;
    byBase.set(baseOf(m.key), { id: m.key, createdAt, objects: [] });
  }
  const orphans: StoredObject[] = [];
  for (const o of objects) {
    if (isManifestKey(o.key)) continue;
    const entry = byBase.get(baseOf(o.key));
    if (entry) entry.objects.push(o.key);
    else orphans.push(o);
  }
  const backups = [...byBase.values()].sort(
    (a, b) => b.createdAt.getTime() - a.createdAt.getTime() || (a.id < b.id ? 1 : -1),
  );
  return { backups, orphans };
}

export async function readManifest(store: BackupStore, manifestKey: string): Promise<BackupManifest> {
  return parseManifest(await store.getText(manifestKey), manifestKey);
}

/**
 * `latest`, a manifest key, or a data key (its manifest is found next to it). Only backups
 * with a manifest can be chosen.
 */
export async function resolveBackup(
  store: BackupStore,
  prefix: string,
  name: string,
  ref: string,
): Promise<BackupManifest> {
  if (ref === 'latest') {
    const { backups } = await readCatalog(store, prefix, name);
    const newest = backups[0];
    if (!newest)
      throw new Error(
        `no backup of dump "${name}" exists under ${dumpFolder(prefix, name)} (a backup counts only once its manifest is written)`,
      );
    return readManifest(store, newest.id);
  }
  const manifestKey = isManifestKey(ref) ? ref : `${baseOf(ref)}${MANIFEST_SUFFIX}`;
  if (!(await store.exists(manifestKey))) {
    throw new Error(`backup ${ref} has no manifest (${manifestKey}); it is not a complete backup`);
  }
  return readManifest(store, manifestKey);
}

export interface RetentionOutcome {
  kept: string[];
  deleted: string[];
  orphansDeleted: string[];
}

/** Orphaned data objects younger than this may be uploads in progress elsewhere. */
export const ORPHAN_GRACE_MS = 24 * 3_600_000;

/**
 * Applies keep-last / max-age to one dump's backups. The newest backup and any in
 * `protect` are never deleted. The manifest goes first (the backup stops counting), then
 * its data. Orphans older than a day are removed too.
 */
export async function applyRetention(
  store: BackupStore,
  prefix: string,
  name: string,
  policy: RetentionPolicy,
  now: Date,
  protect: ReadonlySet<string>,
  logger: Logger,
): Promise<RetentionOutcome> {
  const { backups, orphans } = await readCatalog(store, prefix, name);
  const decision = selectForDeletion(backups, policy, now, protect);
  const deleted: string[] = [];
  for (const entry of decision.delete) {
    await store.delete(entry.id);
    for (const key of entry.objects) await store.delete(key);
    deleted.push(entry.id);
    logger.info(`retention: deleted backup ${entry.id} (${entry.createdAt.toISOString()})`);
  }
  const orphansDeleted: string[] = [];
  for (const o of orphans) {
    if (now.getTime() - o.lastModified.getTime() < ORPHAN_GRACE_MS) continue;
    await store.delete(o.key);
    orphansDeleted.push(o.key);
    logger.info(`retention: deleted ${o.key}, a data object without a manifest (an incomplete backup)`);
  }
  return { kept: decision.keep.map((e) => e.id), deleted, orphansDeleted };
}
