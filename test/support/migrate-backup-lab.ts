// Helpers for the backup-before lab tests (db-migrate and the one-step root action): the SQL
// script of a stored PostgreSQL dump (pg_restore -f - in the stack's db container). The lab's
// S3 as Spaces inputs and as a store: lab-s3.ts.
import { rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { buffer } from 'node:stream/consumers';

import type { BackupManifest } from '../../src/lib/backup/manifest.js';
import { openBackup } from '../../src/lib/backup/pipeline.js';
import type { S3Store } from '../../src/lib/backup/store.js';
import type { FixtureDroplet, LabFixture } from '../lab/fixture.js';
import { scratchDir } from './run-scratch.js';

/** The SQL script of a stored backup: downloaded, checked against its manifest, decrypted, then pg_restore -f - in the stack's db container. */
export async function restoredSql(
  lab: LabFixture,
  d: FixtureDroplet,
  store: S3Store,
  manifest: BackupManifest,
  passphrase?: string,
): Promise<string> {
  const data = await buffer(await openBackup(store, manifest, passphrase));
  const dir = scratchDir('ddlab-migbk-');
  const ssh = await lab.ssh(d);
  try {
    writeFileSync(join(dir, 'dump'), data);
    await ssh.putFile(join(dir, 'dump'), '/root/pre-migrate.pgdump');
  } finally {
    ssh.dispose();
    rmSync(dir, { recursive: true, force: true });
  }
  const r = await lab.exec(d, 'docker exec -i shop-db-1 pg_restore -f - < /root/pre-migrate.pgdump');
  if (r.code !== 0) throw new Error(`pg_restore failed: ${r.stderr}`);
  return r.stdout;
}

/** The column list of `CREATE TABLE public.visits (…)` in a pg_restore script. */
export function visitsColumns(sql: string): string {
  return /CREATE TABLE public\.visits \(([^;]*)\);/.exec(sql)?.[1] ?? '';
}
