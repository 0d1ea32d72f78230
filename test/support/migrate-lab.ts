// The db-migrate lab stack: the sample app's web image (Perl + psql, plain-SQL migrations
// applied by /app/migrate.sh) built FROM the lab's Debian image in three versions (v1: 001,
// v2: +002, bad: +003 that fails half-way), pushed to the lab registry, and PostgreSQL.
import { cpSync, rmSync } from 'node:fs';
import { join } from 'node:path';

import pg from 'pg';

import type { FixtureDroplet, LabFixture } from '../lab/fixture.js';
import { docker } from './deploy-compose-lab.js';
import { REPO_ROOT } from './run-action.js';
import { scratchDir } from './run-scratch.js';

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
  const ctx = scratchDir('ddlab-mig-');
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

/** The inputs that point an action at the fixture droplet and the db-migrate fixture stack. */
export function migrateTarget(lab: LabFixture, d: FixtureDroplet): Record<string, string> {
  return {
    hosts: d.publicIpv4,
    'ssh-private-key': lab.identity.privateKey,
    'known-hosts': `${d.publicIpv4} ${d.hostKey}`,
    app: 'shop',
    'compose-files': 'compose.yaml',
    'working-directory': MIGRATE_FIXTURE,
  };
}

export const WAIT_FOR_DB = '- kind: container\n  services: [db]\n';

/** The one-step root action's inputs for a release with its migration (add the gate inputs). */
export function oneStepInputs(
  lab: LabFixture,
  d: FixtureDroplet,
  images: MigrateImages,
  version: AppVersion,
  releaseId: string,
): Record<string, string> {
  return {
    ...migrateTarget(lab, d),
    ...releaseInputs(images, version, `\nNEW_SECRET=${NEW_SECRET}`),
    'release-id': releaseId,
    'migrate-service': 'web',
    'migrate-command': MIGRATE,
    'migrate-wait-for': WAIT_FOR_DB,
    'wait-timeout': '90s',
    'health-timeout': '90s',
  };
}

/** The GitHub environment of a run of the fixture app's repository. */
export function runEnv(sha: string, runId: string): Record<string, string> {
  return { GITHUB_SHA: sha, GITHUB_REPOSITORY: 'acme/shop', GITHUB_RUN_ID: runId, GITHUB_WORKSPACE: REPO_ROOT };
}

/** psql in the fixture stack's db container (app/app). */
export async function stackSql(lab: LabFixture, d: FixtureDroplet, sql: string): Promise<string> {
  const r = await lab.exec(
    d,
    `docker exec -e PGPASSWORD=${PG_PASSWORD} shop-db-1 psql -U app -d app -X -A -t -c ${JSON.stringify(sql)}`,
  );
  if (r.code !== 0) throw new Error(`psql failed: ${r.stderr}`);
  return r.stdout.trim();
}

/**
 * Watches an action's log for `marker`; the first time it appears, checks on the droplet
 * whether the deploy lock (/opt/shop/.lock) is held. Pass `onLine` to runAction; after the
 * run, `held()` is 'held', 'free', or undefined when the marker never appeared.
 */
export function lockProbe(
  lab: LabFixture,
  d: FixtureDroplet,
  marker: string,
): { onLine: (line: string) => void; held: () => Promise<string | undefined> } {
  let check: Promise<string> | undefined;
  return {
    onLine: (line) => {
      if (!check && line.includes(marker)) {
        check = lab.exec(d, 'test -d /opt/shop/.lock && echo held || echo free').then((x) => x.stdout.trim());
      }
    },
    held: async () => check,
  };
}

/** A database of its own on the lab's "managed" PostgreSQL: a client from the host, and the URL droplets use. */
export interface ExternalDatabase {
  client: pg.Client;
  dropletUrl: string;
}

export async function createExternalDatabase(lab: LabFixture, name: string): Promise<ExternalDatabase> {
  const admin = new pg.Client({ connectionString: lab.info.postgresUrlForHost });
  await admin.connect();
  try {
    await admin.query(`CREATE DATABASE ${name}`);
  } finally {
    await admin.end();
  }
  const forHost = new URL(lab.info.postgresUrlForHost);
  forHost.pathname = `/${name}`;
  const client = new pg.Client({ connectionString: forHost.toString() });
  await client.connect();
  const forDroplets = new URL(lab.env.LAB_POSTGRES_URL);
  forDroplets.pathname = `/${name}`;
  return { client, dropletUrl: forDroplets.toString() };
}
