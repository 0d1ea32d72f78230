// Helpers for the backup-before lab tests (db-migrate and the one-step root action): the
// lab's S3 as Spaces inputs, a store to read what was written, and the SQL script of a
// stored PostgreSQL dump (pg_restore -f - in the stack's db container).
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { buffer } from 'node:stream/consumers';

import type { BackupManifest } from '../../src/lib/backup/manifest.js';
import { openBackup } from '../../src/lib/backup/pipeline.js';
import { S3Store } from '../../src/lib/backup/store.js';
import type { FixtureDroplet, LabFixture } from '../lab/fixture.js';

export function labSpaces(
  lab: LabFixture,
  prefix: string,
  overrides: Record<string, string> = {},
): Record<string, string> {
  return {
    'spaces-endpoint': lab.env.LAB_S3_ENDPOINT,
    'spaces-bucket': lab.env.LAB_S3_BUCKET,
    'spaces-prefix': prefix,
    'spaces-access-key-id': lab.env.LAB_S3_ACCESS_KEY_ID,
    'spaces-secret-access-key': lab.env.LAB_S3_SECRET_ACCESS_KEY,
    ...overrides,
  };
}

export function labStore(lab: LabFixture): S3Store {
  return new S3Store({
    endpoint: lab.env.LAB_S3_ENDPOINT,
    bucket: lab.env.LAB_S3_BUCKET,
    accessKeyId: lab.env.LAB_S3_ACCESS_KEY_ID,
    secretAccessKey: lab.env.LAB_S3_SECRET_ACCESS_KEY,
  });
}

/** The SQL script of a stored backup: downloaded, checked against its manifest, decrypted, then pg_restore -f - in the stack's db container. */
export async function restoredSql(
  lab: LabFixture,
  d: FixtureDroplet,
  store: S3Store,
  manifest: BackupManifest,
  passphrase?: string,
): Promise<string> {
  const data = await buffer(await openBackup(store, manifest, passphrase));
  const dir = mkdtempSync(join(tmpdir(), 'ddlab-migbk-'));
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
