// The one-step root action (a private bundle of deploy) with backup-before on the lab: the
// backup runs inside the shared migration runner, under the one lock held from upload to
// switch, before the migration; a backup that cannot be stored stops the deploy before the
// migration with the previous release serving.
import { rmSync } from 'node:fs';

import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import { resolveBackup } from '../../src/lib/backup/catalog.js';
import type { S3Store } from '../../src/lib/backup/store.js';
import type { FixtureDroplet } from '../lab/fixture.js';
import { useLab } from '../lab/fixture.js';
import { httpGet, visibleLog } from '../support/deploy-compose-lab.js';
import { labSpaces, labStore } from '../support/lab-s3.js';
import { restoredSql, visitsColumns } from '../support/migrate-backup-lab.js';
import {
  type AppVersion,
  lockProbe,
  type MigrateImages,
  NEW_SECRET,
  oneStepInputs,
  PG_PASSWORD,
  prepareMigrateImages,
  runEnv,
  stackSql,
} from '../support/migrate-lab.js';
import { buildPrivateBundle } from '../support/private-bundle.js';
import { runAction } from '../support/run-action.js';

const lab = useLab();
const RUN = Math.random().toString(36).slice(2, 8);
const PREFIX = `e2e-rootbk-${RUN}/shop`;
const DUMPS = '- {name: db, kind: postgres, service: db, user: app}';
let droplet: FixtureDroplet;
let images: MigrateImages;
let distRoot: string;
let store: S3Store;

beforeAll(async () => {
  distRoot = buildPrivateBundle('deploy');
  images = prepareMigrateImages(lab, `rootbk-${process.pid}`);
  droplet = await lab.createDroplet({ variant: 'trixie' });
  store = labStore(lab);
}, 900_000);

afterAll(() => {
  if (distRoot) rmSync(distRoot, { recursive: true, force: true });
});

async function oneStep(version: AppVersion, releaseId: string, extra: Record<string, string> = {}) {
  const lock = lockProbe(lab, droplet, 'backup before migrating to release');
  const r = await runAction('deploy', {
    distRoot,
    inputs: {
      ...oneStepInputs(lab, droplet, images, version, releaseId),
      'gate-url': 'http://{host}/healthz',
      'gate-expect-status': '200',
      'gate-timeout': '30s',
      ...extra,
    },
    env: runEnv(`${releaseId}0000000`, '19'),
    onLine: lock.onLine,
  });
  return { ...r, lockDuringBackup: await lock.held() };
}

const current = async (): Promise<string> => (await lab.exec(droplet, 'readlink /opt/shop/current')).stdout.trim();

describe('one-step deploy with backup-before', () => {
  it('first release r1 (no backup)', async () => {
    const r = await oneStep('v1', 'r1');
    expect(r.errors).toEqual([]);
    expect(r.outputs['backup-key']).toBeUndefined();
    expect(await httpGet(droplet, '/version')).toEqual({ status: 200, body: 'v1' });
  });

  it('a backup that cannot be stored (wrong bucket) stops the deploy before the migration; r1 keeps serving', async () => {
    const r = await oneStep('v2', 'r2', {
      ...labSpaces(lab, PREFIX, { 'spaces-bucket': `no-such-bucket-${RUN}` }),
      'backup-before': 'true',
      'backup-dumps': DUMPS,
    });
    expect(r.exitCode).toBe(1);
    const error = r.errors.join('\n');
    expect(error).toContain('the backup before the migration failed, so the migration did not run');
    expect(error).toMatch(/NoSuchBucket|bucket/i);
    expect(error).toContain('Release r2 was not switched in');
    expect(r.log).not.toContain('applying 002_add_visits_agent');
    expect(r.outputs['backup-key']).toBe('');
    expect(
      await stackSql(lab, droplet, "SELECT string_agg(version, ',' ORDER BY version) FROM schema_migrations"),
    ).toBe('001_create_visits');
    expect(await httpGet(droplet, '/version')).toEqual({ status: 200, body: 'v1' });
    expect(await current()).toMatch(/r1$/);
  });

  it('backup → migration → roll-out → gate → switch; the backup holds the pre-migration schema', async () => {
    await stackSql(lab, droplet, "INSERT INTO visits (release) VALUES ('root-before-r2')");
    const r = await oneStep('v2', 'r2', {
      ...labSpaces(lab, PREFIX),
      'backup-before': 'true',
      'backup-dumps': DUMPS,
    });
    expect(r.errors).toEqual([]);
    expect(r.outputs['migrated']).toBe('true');
    expect(r.outputs['gate-passed']).toBe('true');
    expect(r.lockDuringBackup).toBe('held');
    const key = r.outputs['backup-key'] ?? '';
    expect(key).toMatch(new RegExp(`^${PREFIX}/db/\\d{8}T\\d{6}Z-[0-9a-f]{6}\\.pgdump$`));
    const done = r.log.indexOf('backup "db" done in');
    expect(done).toBeGreaterThan(0);
    expect(r.log.indexOf('applying 002_add_visits_agent')).toBeGreaterThan(done);
    expect(r.summary).toContain('Backup before the migration');
    expect(r.summary).toContain(key);
    for (const secret of [PG_PASSWORD, NEW_SECRET, lab.env.LAB_S3_SECRET_ACCESS_KEY])
      expect(visibleLog(r.log)).not.toContain(secret);
    expect(await httpGet(droplet, '/version')).toEqual({ status: 200, body: 'v2' });
    expect(await current()).toMatch(/r2$/);

    const manifest = await resolveBackup(store, PREFIX, 'db', key);
    expect(manifest).toMatchObject({ name: 'db', kind: 'postgres', releaseId: 'r1' });
    const sql = await restoredSql(lab, droplet, store, manifest);
    expect(visitsColumns(sql)).toContain('release text NOT NULL');
    expect(visitsColumns(sql)).not.toContain('agent');
    expect(sql).not.toContain('release_notes');
    expect(sql).toContain('root-before-r2');
  });
});
