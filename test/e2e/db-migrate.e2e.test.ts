// db-migrate on the lab, with the bundled action: a real PostgreSQL in the stack (and the lab's
// "managed" PostgreSQL by database-url), the sample app's plain-SQL migration tool in the app
// image, migrations staged with the NEW release's env while the old release keeps serving.
import { rmSync } from 'node:fs';

import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import type { FixtureDroplet } from '../lab/fixture.js';
import { useLab } from '../lab/fixture.js';
import { buildBundle, deploy, httpGet, visibleLog } from '../support/deploy-compose-lab.js';
import {
  type AppVersion,
  createExternalDatabase,
  type ExternalDatabase,
  MIGRATE,
  type MigrateImages,
  migrateTarget,
  NEW_SECRET,
  PG_PASSWORD,
  prepareMigrateImages,
  releaseInputs,
  runEnv,
  STATUS,
  stackSql as stackSqlOn,
  WAIT_FOR_DB,
} from '../support/migrate-lab.js';
import { buildPrivateBundle } from '../support/private-bundle.js';
import { runAction } from '../support/run-action.js';

const lab = useLab();
let droplet: FixtureDroplet;
let images: MigrateImages;
let distRoot: string;

beforeAll(async () => {
  distRoot = buildPrivateBundle('db-migrate');
  buildBundle();
  images = prepareMigrateImages(lab, `mig-${process.pid}`);
  droplet = await lab.createDroplet({ variant: 'trixie' });
}, 900_000);

afterAll(() => {
  if (distRoot) rmSync(distRoot, { recursive: true, force: true });
});

function target(): Record<string, string> {
  return { ...migrateTarget(lab, droplet), 'lock-timeout': '20s' };
}

function release(version: AppVersion, extraSecrets = ''): Record<string, string> {
  return { ...target(), ...releaseInputs(images, version, extraSecrets) };
}

function migrate(inputs: Record<string, string>, sha: string) {
  return runAction('db-migrate', { distRoot, inputs, env: { ...runEnv(sha, '77'), GITHUB_ACTOR: 'ci' } });
}

const stackSql = (sql: string): Promise<string> => stackSqlOn(lab, droplet, sql);

function migrationInputs(version: AppVersion, releaseId: string, withSecret = true): Record<string, string> {
  return {
    ...release(version, withSecret ? `\nNEW_SECRET=${NEW_SECRET}` : ''),
    service: 'web',
    command: MIGRATE,
    'status-command': STATUS,
    'wait-for': WAIT_FOR_DB,
    'release-id': releaseId,
  };
}

async function deployRelease(version: 'v1' | 'v2', releaseId: string): Promise<void> {
  const r = await deploy({
    ...release(version, `\nNEW_SECRET=${NEW_SECRET}`),
    'release-id': releaseId,
    'wait-timeout': '90s',
  });
  expect(r.errors).toEqual([]);
  expect(r.outputs['release-id']).toBe(releaseId);
}

describe('db-migrate with PostgreSQL in the stack', () => {
  it('a first release: dependencies started from the new release, migration applied, then deployed', async () => {
    const r = await migrate(migrationInputs('v1', 'r1'), 'a1a1a1a1');
    expect(r.errors).toEqual([]);
    expect(r.exitCode).toBe(0);
    expect(r.outputs['applied']).toBe('true');
    expect(r.outputs['release-id']).toBe('r1');
    expect(r.log).toContain('applying 001_create_visits');
    expect(await stackSql("SELECT string_agg(version, ',') FROM schema_migrations")).toBe('001_create_visits');
    await deployRelease('v1', 'r1');
    expect(await httpGet(droplet, '/version')).toEqual({ status: 200, body: 'v1' });
    expect((await httpGet(droplet, '/')).status).toBe(200);
  });

  it("the new release's secret is what the migration sees: without it in the new env, it fails", async () => {
    const r = await migrate(migrationInputs('v2', 'r2', false), 'b2b2b2b2');
    expect(r.exitCode).toBe(1);
    expect(r.errors.join('\n')).toContain('NEW_SECRET is not set');
    expect(r.errors.join('\n')).toMatch(
      /Release r2 was not switched in\. Nothing was changed; release r1 is still serving/,
    );
    expect(await httpGet(droplet, '/version')).toEqual({ status: 200, body: 'v1' });
  });

  it('v2 adds a column and a table while v1 keeps serving; then v2 deploys; no secret in ps or the log', async () => {
    const seen: string[] = [];
    let sampling = true;
    const sampler = (async () => {
      for (let i = 0; i < 400 && sampling; i += 1) {
        const ps = await lab.exec(droplet, 'ps -eo args');
        seen.push(ps.stdout);
        await new Promise((resolve) => setTimeout(resolve, 100));
      }
    })();
    const r = await migrate(migrationInputs('v2', 'r2'), 'b2b2b2b2');
    sampling = false;
    await sampler;
    expect(r.errors).toEqual([]);
    expect(r.outputs['applied']).toBe('true');
    expect(r.log).toContain('applying 002_add_visits_agent');
    expect(
      await stackSql(
        "SELECT count(*) FROM information_schema.columns WHERE table_name = 'visits' AND column_name = 'agent'",
      ),
    ).toBe('1');
    expect(await stackSql("SELECT to_regclass('release_notes') IS NOT NULL")).toBe('t');
    expect(await httpGet(droplet, '/version')).toEqual({ status: 200, body: 'v1' });
    expect(seen.length).toBeGreaterThan(3);
    for (const secret of [NEW_SECRET, PG_PASSWORD]) {
      expect(seen.join('\n')).not.toContain(secret);
      expect(visibleLog(r.log)).not.toContain(secret);
    }
    await deployRelease('v2', 'r2');
    expect(await httpGet(droplet, '/version')).toEqual({ status: 200, body: 'v2' });
  });

  it('a re-run is a no-op: applied is false, the schema is unchanged', async () => {
    const before = await stackSql("SELECT string_agg(version, ',' ORDER BY version) FROM schema_migrations");
    const r = await migrate(migrationInputs('v2', 'r2b'), 'b2b2b2b2');
    expect(r.errors).toEqual([]);
    expect(r.outputs['applied']).toBe('false');
    expect(r.log).toContain('migrations: 0 applied');
    expect(await stackSql("SELECT string_agg(version, ',' ORDER BY version) FROM schema_migrations")).toBe(before);
  });

  it("a failing migration fails with the tool's error; the old release serves; the schema is as before", async () => {
    const r = await migrate(migrationInputs('bad', 'r3'), 'c3c3c3c3');
    expect(r.exitCode).toBe(1);
    const error = r.errors.join('\n');
    expect(error).toContain('db-migrate failed: host');
    expect(error).toContain('step "migrate"');
    expect(error).toContain('relation "no_such_table" does not exist');
    expect(error).toContain('release r2 is still serving');
    expect(await httpGet(droplet, '/version')).toEqual({ status: 200, body: 'v2' });
    expect(await stackSql("SELECT to_regclass('half_done') IS NULL")).toBe('t');
    expect(await stackSql("SELECT count(*) FROM schema_migrations WHERE version = '003_broken'")).toBe('0');
    const dirs = await lab.exec(droplet, 'ls /opt/shop/releases');
    expect(dirs.stdout.split(/\s+/)).not.toContain('r3');
  });
});

describe('db-migrate against an external PostgreSQL by database-url', () => {
  let db: ExternalDatabase;

  beforeAll(async () => {
    db = await createExternalDatabase(lab, `mig_${process.pid}`);
  });

  afterAll(async () => {
    await db?.client.end();
  });

  const external = (version: 'v2' | 'bad', releaseId: string): Record<string, string> => ({
    ...migrationInputs(version, releaseId),
    'database-url': db.dropletUrl,
    'wait-for': '',
    'status-command': `sh -c 'psql "$DATABASE_URL" -X -A -t -c "SELECT string_agg(version, chr(44) ORDER BY version) FROM schema_migrations"'`,
  });

  const versions = async (): Promise<string> =>
    (await db.client.query("SELECT string_agg(version, ',' ORDER BY version) AS v FROM schema_migrations")).rows[0]
      .v as string;

  it('applies, re-runs as a no-op, and a failing migration leaves the schema as it was', async () => {
    const password = decodeURIComponent(new URL(db.dropletUrl).password);
    const first = await migrate(external('v2', 'x1'), 'd4d4d4d4');
    expect(first.errors).toEqual([]);
    expect(first.outputs['applied']).toBe('true');
    expect(await versions()).toBe('001_create_visits,002_add_visits_agent');
    expect(visibleLog(first.log)).not.toContain(password);

    const again = await migrate(external('v2', 'x2'), 'd4d4d4d4');
    expect(again.outputs['applied']).toBe('false');

    const bad = await migrate(external('bad', 'x3'), 'e5e5e5e5');
    expect(bad.exitCode).toBe(1);
    expect(bad.errors.join('\n')).toContain('relation "no_such_table" does not exist');
    expect(visibleLog(bad.log)).not.toContain(password);
    expect(await versions()).toBe('001_create_visits,002_add_visits_agent');
    expect((await db.client.query("SELECT to_regclass('half_done') IS NULL AS gone")).rows[0].gone).toBe(true);
    expect(await httpGet(droplet, '/version')).toEqual({ status: 200, body: 'v2' });
  });
});
