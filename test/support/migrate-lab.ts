// The db-migrate lab stack: the sample app's web image (Perl + psql, plain-SQL migrations
// applied by /app/migrate.sh) built FROM the lab's Debian image in three versions (v1: 001,
// v2: +002, bad: +003 that fails half-way), pushed to the lab registry, and PostgreSQL.
import { cpSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

import type { LabFixture } from '../lab/fixture.js';
import { docker } from './deploy-compose-lab.js';
import { REPO_ROOT } from './run-action.js';

export const MIGRATE_FIXTURE = 'test/e2e/fixtures/db-migrate';
export const PG_PASSWORD = 'pg-pass-Xq81';
export const NEW_SECRET = 'only-in-the-new-release-7c1d';
/** Refuses to run unless NEW_SECRET (only in the new release's env) is visible. */
export const MIGRATE = `sh -c '[ -n "$NEW_SECRET" ] || { echo "NEW_SECRET is not set" >&2; exit 3; }; exec /app/migrate.sh'`;
export const STATUS = `psql -X -A -t -c "SELECT string_agg(version, ',' ORDER BY version) FROM schema_migrations"`;

export type AppVersion = 'v1' | 'v2' | 'bad';

export interface MigrateImages {
  app: Record<AppVersion, string>;
  postgres: string;
}

function build(tag: string, context: string, args: Record<string, string>, dockerfile?: string): void {
  const argv = ['build', '-q', '-t', tag];
  for (const [k, v] of Object.entries(args)) argv.push('--build-arg', `${k}=${v}`);
  if (dockerfile) argv.push('-f', dockerfile);
  docker([...argv, context]);
}

function layered(from: string, tag: string, version: string, migrationsDir: string): void {
  const ctx = mkdtempSync(join(tmpdir(), 'ddlab-mig-'));
  try {
    cpSync(join(REPO_ROOT, MIGRATE_FIXTURE, migrationsDir), join(ctx, 'migrations'), { recursive: true });
    build(tag, ctx, { FROM_IMAGE: from, APP_VERSION: version }, join(REPO_ROOT, MIGRATE_FIXTURE, 'Dockerfile.layer'));
  } finally {
    rmSync(ctx, { recursive: true, force: true });
  }
}

/** Builds the three app versions and publishes them (and PostgreSQL) to the lab registry. */
export function prepareMigrateImages(lab: LabFixture, namespace: string): MigrateImages {
  const publish = (local: string, path: string): string => {
    const hostRef = `${lab.info.registryForHost}/${path}`;
    docker(['tag', local, hostRef]);
    docker(['push', hostRef]);
    return `${lab.env.LAB_REGISTRY}/${path}`;
  };
  const ns = `ddlab-e2e-${namespace}`;
  build(`${ns}/web:v1`, join(REPO_ROOT, 'workflows-examples/app/web'), {
    BASE_IMAGE: lab.info.images.services,
    APP_VERSION: 'v1',
  });
  layered(`${ns}/web:v1`, `${ns}/web:v2`, 'v2', 'migrations-v2');
  layered(`${ns}/web:v2`, `${ns}/web:bad`, 'bad', 'migrations-bad');
  const app = { v1: '', v2: '', bad: '' };
  for (const v of ['v1', 'v2', 'bad'] as const) app[v] = publish(`${ns}/web:${v}`, `${ns}/web:${v}`);
  return { app, postgres: publish(lab.info.images.services, `${ns}/postgres:15`) };
}

/** env + secrets inputs for one app version. */
export function releaseInputs(images: MigrateImages, version: AppVersion, extraSecrets = ''): Record<string, string> {
  return {
    env: `APP_IMAGE=${images.app[version]}\nPOSTGRES_IMAGE=${images.postgres}\nAPP_VERSION=${version}`,
    secrets: `POSTGRES_PASSWORD=${PG_PASSWORD}${extraSecrets}`,
  };
}
