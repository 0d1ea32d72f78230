// db-migrate with backup-before on the lab, with the BUNDLED action (a private copy of
// dist/db-migrate) run as the runner runs it: PostgreSQL in the stack and the lab's
// "managed" PostgreSQL by database-url, the lab's S3 server as Spaces.
//
// - a backup that cannot be stored (wrong S3 key, wrong bucket) fails the step before the
//   migration: schema unchanged, nothing switched, the old release serves;
// - backup-before with backup-dumps (snapshot-and-backup's format): the dump is taken under
//   the deploy lock, after the database is up and before the migration; its manifest is in
//   S3, and the dump holds the PRE-migration schema (pg_restore of it has no `agent` column,
//   no `release_notes` table) while the database afterwards has both;
// - backup-before with database-url and no backup-dumps: an encrypted `pre-migrate` dump of
//   the external database, readable with the passphrase, again with the old schema.
import { rmSync } from 'node:fs';

import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import { resolveBackup } from '../../src/lib/backup/catalog.js';
import type { BackupManifest } from '../../src/lib/backup/manifest.js';
import { openBackup } from '../../src/lib/backup/pipeline.js';
import type { S3Store } from '../../src/lib/backup/store.js';
import type { FixtureDroplet } from '../lab/fixture.js';
import { useLab } from '../lab/fixture.js';
import { buildBundle, deploy, httpGet, visibleLog } from '../support/deploy-compose-lab.js';
import { labSpaces, labStore } from '../support/lab-s3.js';
import { restoredSql as restoredSqlOf, visitsColumns } from '../support/migrate-backup-lab.js';
import {
  type AppVersion,
  createExternalDatabase,
  type ExternalDatabase,
  lockProbe,
  MIGRATE,
  type MigrateImages,
  migrateTarget,
  NEW_SECRET,
  PG_PASSWORD,
  prepareMigrateImages,
  releaseInputs,
  runEnv,
  STATUS,
  stackSql as stackSqlOf,
  WAIT_FOR_DB,
} from '../support/migrate-lab.js';
import { buildPrivateBundle } from '../support/private-bundle.js';
import { runAction } from '../support/run-action.js';

const lab = useLab();
const RUN = Math.random().toString(36).slice(2, 8);
const PREFIX = `e2e-migbk-${RUN}/shop`;
const PASSPHRASE = 'pre-migrate "pass" phrase 42';
let droplet: FixtureDroplet;
let images: MigrateImages;
let distRoot: string;
let store: S3Store;

beforeAll(async () => {
  distRoot = buildPrivateBundle('db-migrate');
  buildBundle();
  images = prepareMigrateImages(lab, `migbk-${process.pid}`);
  droplet = await lab.createDroplet({ variant: 'trixie' });
  store = labStore(lab);
}, 900_000);

afterAll(() => {
  if (distRoot) rmSync(distRoot, { recursive: true, force: true });
});

const spaces = (overrides: Record<string, string> = {}): Record<string, string> => labSpaces(lab, PREFIX, overrides);

function release(version: AppVersion, releaseId: string): Record<string, string> {
  return {
    ...migrateTarget(lab, droplet),
    'lock-timeout': '20s',
    ...releaseInputs(images, version, `\nNEW_SECRET=${NEW_SECRET}`),
    'release-id': releaseId,
  };
}

function migrationInputs(version: AppVersion, releaseId: string): Record<string, string> {
  return {
    ...release(version, releaseId),
    service: 'web',
    command: MIGRATE,
    'status-command': STATUS,
    'wait-for': WAIT_FOR_DB,
  };
}

/** Runs the bundled db-migrate; when the backup starts, checks on the droplet that the deploy lock is held. */
async function migrate(inputs: Record<string, string>, sha: string) {
  const lock = lockProbe(lab, droplet, 'backup before migrating to release');
  const r = await runAction('db-migrate', {
    distRoot,
    inputs,
    env: { ...runEnv(sha, '88'), GITHUB_ACTOR: 'ci' },
    onLine: lock.onLine,
  });
  return { ...r, lockDuringBackup: await lock.held() };
}

const stackSql = (sql: string): Promise<string> => stackSqlOf(lab, droplet, sql);

const agentColumn = (): Promise<string> =>
  stackSql("SELECT count(*) FROM information_schema.columns WHERE table_name = 'visits' AND column_name = 'agent'");

const restoredSql = (manifest: BackupManifest, passphrase?: string): Promise<string> =>
  restoredSqlOf(lab, droplet, store, manifest, passphrase);

describe('db-migrate backup-before, PostgreSQL in the stack', () => {
  it('first release r1 (no backup): migrated and deployed', async () => {
    const r = await migrate(migrationInputs('v1', 'r1'), 'a1a1a1a1');
    expect(r.errors).toEqual([]);
    expect(r.outputs['backup-key']).toBeUndefined();
    const d = await deploy({ ...release('v1', 'r1'), 'wait-timeout': '90s' });
    expect(d.errors).toEqual([]);
    expect(await httpGet(droplet, '/version')).toEqual({ status: 200, body: 'v1' });
  });

  it.each([
    ['a wrong S3 access key', { 'spaces-access-key-id': 'DOWRONGKEY0000000000' }, /InvalidAccessKeyId|access key/i],
    ['a bucket that does not exist', { 'spaces-bucket': `no-such-bucket-${RUN}` }, /NoSuchBucket|bucket/i],
  ])('a backup that cannot be stored (%s) fails the step before the migration', async (_what, bad, s3Error) => {
    const dumps = '- {name: db, kind: postgres, service: db, user: app}';
    const r = await migrate(
      { ...migrationInputs('v2', 'r2'), ...spaces(bad), 'backup-before': 'true', 'backup-dumps': dumps },
      'b2b2b2b2',
    );
    expect(r.exitCode).toBe(1);
    const error = r.errors.join('\n');
    expect(error).toContain('step "migrate"');
    expect(error).toContain('the backup before the migration failed, so the migration did not run');
    expect(error).toMatch(s3Error);
    expect(error).toContain('No manifest was written');
    expect(error).toMatch(/Release r2 was not switched in\. Nothing was changed; release r1 is still serving/);
    expect(r.log).not.toContain('applying 002_add_visits_agent');
    expect(r.outputs['backup-key']).toBe('');
    expect(await agentColumn()).toBe('0');
    expect(await stackSql("SELECT string_agg(version, ',' ORDER BY version) FROM schema_migrations")).toBe(
      '001_create_visits',
    );
    expect(await httpGet(droplet, '/version')).toEqual({ status: 200, body: 'v1' });
    expect((await lab.exec(droplet, 'ls /opt/shop/releases')).stdout.split(/\s+/)).not.toContain('r2');
    expect((await lab.exec(droplet, 'test -e /opt/shop/.lock && echo held || echo free')).stdout.trim()).toBe('free');
    expect(visibleLog(r.log)).not.toContain(lab.env.LAB_S3_SECRET_ACCESS_KEY);
    expect(await store.list(`${PREFIX}/db/`)).toEqual([]);
  });

  it('backup-dumps: taken under the lock, before the migration; the dump holds the pre-migration schema', async () => {
    await stackSql("INSERT INTO visits (release) VALUES ('before-r2')");
    const dumps = '- {name: db, kind: postgres, service: db, user: app}';
    const r = await migrate(
      { ...migrationInputs('v2', 'r2'), ...spaces(), 'backup-before': 'true', 'backup-dumps': dumps },
      'b2b2b2b2',
    );
    expect(r.errors).toEqual([]);
    expect(r.exitCode).toBe(0);
    expect(r.outputs['applied']).toBe('true');
    expect(r.lockDuringBackup).toBe('held');
    const key = r.outputs['backup-key'] ?? '';
    expect(key).toMatch(new RegExp(`^${PREFIX}/db/\\d{8}T\\d{6}Z-[0-9a-f]{6}\\.pgdump$`));
    // order in the log: backup done → migration applied
    const done = r.log.indexOf(`backup "db" done in`);
    const applying = r.log.indexOf('applying 002_add_visits_agent');
    expect(done).toBeGreaterThan(0);
    expect(applying).toBeGreaterThan(done);
    expect(r.summary).toContain('Backup before the migration');
    expect(r.summary).toContain(key);
    expect(r.summary).toMatch(/\| db \| postgres \| [^|]+ \| \d+(\.\d)? (B|KiB) \|/);
    expect(visibleLog(r.log)).not.toContain(lab.env.LAB_S3_SECRET_ACCESS_KEY);
    expect(visibleLog(r.log)).not.toContain(PG_PASSWORD);

    // the manifest exists (the backup counts) and names the release that was serving
    const manifest = await resolveBackup(store, PREFIX, 'db', key);
    expect(manifest).toMatchObject({ app: 'shop', name: 'db', kind: 'postgres', key, releaseId: 'r1' });
    expect(manifest.size).toBeGreaterThan(0);

    // after: the migration ran
    expect(await agentColumn()).toBe('1');
    expect(await stackSql("SELECT to_regclass('release_notes') IS NOT NULL")).toBe('t');
    // the dump: the schema and data from before it
    const sql = await restoredSql(manifest);
    expect(sql).toMatch(/CREATE TABLE public\.visits \(/);
    const visits = visitsColumns(sql);
    expect(visits).toContain('release text NOT NULL');
    expect(visits).not.toContain('agent');
    expect(sql).not.toContain('release_notes');
    expect(sql).toContain('001_create_visits');
    expect(sql).not.toContain('002_add_visits_agent');
    expect(sql).toContain('before-r2');
    expect(await httpGet(droplet, '/version')).toEqual({ status: 200, body: 'v1' });
  });
});

describe('db-migrate backup-before, external PostgreSQL by database-url (default dump, encrypted)', () => {
  const dbName = `migbk_${process.pid}`;
  let db: ExternalDatabase;

  beforeAll(async () => {
    db = await createExternalDatabase(lab, dbName);
    // the database as the old release left it: migration 001 applied
    await db.client.query(
      "CREATE TABLE visits (id bigserial PRIMARY KEY, visited_at timestamptz NOT NULL DEFAULT now(), release text NOT NULL); CREATE TABLE schema_migrations (version text PRIMARY KEY); INSERT INTO schema_migrations VALUES ('001_create_visits'); INSERT INTO visits (release) VALUES ('external-before')",
    );
  });

  afterAll(async () => {
    await db?.client.end();
  });

  it('dumps the database-url database as "pre-migrate" before migrating it', async () => {
    const password = decodeURIComponent(new URL(db.dropletUrl).password);
    const r = await migrate(
      {
        ...migrationInputs('v2', 'x1'),
        ...spaces(),
        'database-url': db.dropletUrl,
        'wait-for': '',
        'status-command': `sh -c 'psql "$DATABASE_URL" -X -A -t -c "SELECT string_agg(version, chr(44) ORDER BY version) FROM schema_migrations"'`,
        'backup-before': 'true',
        // pg_dump runs in a throwaway container of this image on the droplet (no public registry in the lab)
        'backup-image': images.postgres,
        'encryption-passphrase': PASSPHRASE,
      },
      'd4d4d4d4',
    );
    expect(r.errors).toEqual([]);
    expect(r.outputs['applied']).toBe('true');
    expect(r.lockDuringBackup).toBe('held');
    const key = r.outputs['backup-key'] ?? '';
    expect(key).toMatch(new RegExp(`^${PREFIX}/pre-migrate/\\d{8}T\\d{6}Z-[0-9a-f]{6}\\.pgdump\\.enc$`));
    for (const secret of [password, PASSPHRASE, lab.env.LAB_S3_SECRET_ACCESS_KEY]) {
      expect(visibleLog(r.log)).not.toContain(secret);
      expect(r.summary).not.toContain(secret);
    }
    const manifest = await resolveBackup(store, PREFIX, 'pre-migrate', key);
    expect(manifest.encryption).toBeDefined();
    expect(manifest.source).toContain(`/${dbName} (database-url)`);
    expect(manifest.source).not.toContain(password);
    // after: migrated; the backup: as before
    const cols = await db.client.query(
      "SELECT count(*)::int AS n FROM information_schema.columns WHERE table_name = 'visits' AND column_name = 'agent'",
    );
    expect(cols.rows[0].n).toBe(1);
    const sql = await restoredSql(manifest, PASSPHRASE);
    const visits = visitsColumns(sql);
    expect(visits).toContain('release text NOT NULL');
    expect(visits).not.toContain('agent');
    expect(sql).not.toContain('release_notes');
    expect(sql).toContain('external-before');
    await expect(openBackup(store, manifest)).rejects.toThrow('is encrypted');
  });
});
