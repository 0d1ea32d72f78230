import { describe, expect, it } from 'vitest';

import { FakeHost } from '../../../test/support/fake-host.js';
import { recordingLogger } from '../../../test/unit/backup/logger.js';
import { MemoryStore } from '../../../test/unit/backup/memory-store.js';
import { ConfigurationError } from '../action/errors.js';
import { InputReader } from '../action/inputs.js';
import { parseManifest } from '../backup/manifest.js';
import { COMPOSE_V2, type ComposeProject } from '../compose/compose.js';
import { backupBeforeSecrets, backupBeforeStep, backupSpecs, readBackupBeforeInputs } from './backup-before.js';
import { type MigrationSettings, type MigrationTarget, migrationTarget, runMigration } from './migrate.js';

const spaces: Record<string, string> = {
  'spaces-endpoint': 'https://fra1.digitaloceanspaces.com/',
  'spaces-bucket': 'backups',
  'spaces-access-key-id': 'AKID',
  'spaces-secret-access-key': 'SECRET-KEY',
};
const PG_URL = 'postgresql://doadmin:s3cr%40t@db.example.test:25060/defaultdb?sslmode=require';
const ctx = { app: 'shop', deployRoot: '/opt' };
const on: Record<string, string> = { 'backup-before': 'true', ...spaces };

const read = (inputs: Record<string, string>, extra: { databaseUrl?: string; databaseUrlFromApi?: boolean } = {}) =>
  readBackupBeforeInputs(new InputReader((name) => inputs[name] ?? ''), { ...ctx, ...extra });

describe('backup-before inputs', () => {
  it('is off by default, and then needs nothing', () => {
    expect(read({})).toBeUndefined();
    expect(read({ 'backup-before': 'false', ...spaces })).toBeUndefined();
  });

  it('dumps the migration database-url (postgres) by default, into <prefix>/pre-migrate/', () => {
    const s = read(
      { 'backup-before': 'true', ...spaces, 'encryption-passphrase': 'pass phrase' },
      { databaseUrl: PG_URL },
    );
    expect(s).toEqual({
      app: 'shop',
      deployRoot: '/opt',
      source: { kind: 'database-url', name: 'pre-migrate', image: 'postgres:17-alpine' },
      spaces: {
        endpoint: 'https://fra1.digitaloceanspaces.com',
        bucket: 'backups',
        prefix: 'droplet-deploy/shop',
        accessKeyId: 'AKID',
        secretAccessKey: 'SECRET-KEY',
      },
      passphrase: 'pass phrase',
      iterations: 600_000,
      timeoutMs: 3_600_000,
    });
    expect(backupBeforeSecrets(s!)).toEqual({ plain: ['SECRET-KEY', 'pass phrase'], urls: [] });
  });

  it('a database-cluster-id (URL known only at run time) is enough; backup-image and spaces-prefix are used', () => {
    const s = read(
      { 'backup-before': 'true', ...spaces, 'backup-image': 'postgres:16', 'spaces-prefix': '/b/shop/' },
      { databaseUrlFromApi: true },
    );
    expect(s?.source).toEqual({ kind: 'database-url', name: 'pre-migrate', image: 'postgres:16' });
    expect(s?.spaces.prefix).toBe('b/shop');
    expect(backupSpecs(s!, PG_URL)).toEqual([
      {
        kind: 'postgres',
        name: 'pre-migrate',
        compression: 'none',
        databaseUrl: PG_URL,
        image: 'postgres:16',
        user: 'postgres',
        passwordEnv: 'POSTGRES_PASSWORD',
      },
    ]);
    expect(() => backupSpecs(s!, 'mysql://u:p@h/db')).toThrow('not a PostgreSQL one');
  });

  it('backup-dumps takes snapshot-and-backup\'s "dumps" format and wins over database-url', () => {
    const s = read(
      {
        'backup-before': 'true',
        ...spaces,
        'backup-dumps': `- {name: db, kind: postgres, service: db, user: app}\n- {name: other, kind: postgres, database-url: "${PG_URL}"}`,
      },
      { databaseUrl: PG_URL },
    );
    expect(s?.source).toEqual({
      kind: 'dumps',
      dumps: [
        {
          kind: 'postgres',
          name: 'db',
          compression: 'none',
          service: 'db',
          user: 'app',
          passwordEnv: 'POSTGRES_PASSWORD',
        },
        {
          kind: 'postgres',
          name: 'other',
          compression: 'none',
          databaseUrl: PG_URL,
          user: 'postgres',
          passwordEnv: 'POSTGRES_PASSWORD',
        },
      ],
    });
    expect(backupBeforeSecrets(s!).urls).toEqual([PG_URL]);
    expect(backupSpecs(s!, undefined).map((d) => d.name)).toEqual(['db', 'other']);
  });

  const without = (name: string): Record<string, string> => {
    const copy = { ...on };
    delete copy[name];
    return copy;
  };
  it.each<[string, Record<string, string>, { databaseUrl?: string; databaseUrlFromApi?: boolean }, string]>([
    [
      'no bucket',
      without('spaces-bucket'),
      { databaseUrl: PG_URL },
      'input "spaces-bucket" is required when "backup-before" is true',
    ],
    [
      'no endpoint',
      without('spaces-endpoint'),
      { databaseUrl: PG_URL },
      'input "spaces-endpoint" is required when "backup-before" is true',
    ],
    [
      'no access key',
      without('spaces-access-key-id'),
      { databaseUrl: PG_URL },
      'input "spaces-access-key-id" is required when "backup-before" is true',
    ],
    [
      'no secret key',
      without('spaces-secret-access-key'),
      { databaseUrl: PG_URL },
      'input "spaces-secret-access-key" is required when "backup-before" is true',
    ],
    ['a bad endpoint', { ...on, 'spaces-endpoint': 'fra1' }, { databaseUrl: PG_URL }, 'spaces-endpoint'],
    ['nothing to dump', on, {}, '"backup-before" is true but there is nothing to dump: give "database-url"'],
    ['a mysql database-url', on, { databaseUrl: 'mysql://u:p@h:3306/db' }, 'only for PostgreSQL'],
    ['backup-dumps that are not YAML', { ...on, 'backup-dumps': '- [' }, {}, 'input "backup-dumps" is not valid YAML'],
    [
      'a bad backup-dumps item',
      { ...on, 'backup-dumps': '- {name: db, kind: oracle}' },
      {},
      'input "backup-dumps": dump "db": "kind" has "oracle"',
    ],
    [
      'backup-image with backup-dumps',
      { ...on, 'backup-image': 'pg:1', 'backup-dumps': '- {name: db, kind: postgres, service: db}' },
      {},
      'give each dump its own "image"',
    ],
    ['a bad backup-image', { ...on, 'backup-image': 'pg; rm -rf /' }, { databaseUrl: PG_URL }, 'input "backup-image"'],
    ['a bad backup-timeout', { ...on, 'backup-timeout': 'soon' }, { databaseUrl: PG_URL }, 'backup-timeout'],
    [
      'backup-dumps without backup-before',
      { 'backup-dumps': '- {name: db, kind: postgres, service: db}' },
      {},
      'input "backup-dumps" is set but "backup-before" is not true',
    ],
    ['a bad backup-before', { 'backup-before': 'yes please' }, {}, 'backup-before'],
  ])('%s → ConfigurationError naming the input', (_what, inputs, extra, message) => {
    let error: unknown;
    try {
      read(inputs, extra);
    } catch (e) {
      error = e;
    }
    expect(error).toBeInstanceOf(ConfigurationError);
    expect((error as Error).message).toContain(message);
  });
});

// ---------------------------------------------------------------- the step and its place in the runner

const project: ComposeProject = {
  flavor: COMPOSE_V2,
  project: 'shop',
  files: ['/opt/shop/releases/r2/compose.yaml'],
  envFile: '/opt/shop/releases/r2/.env',
};

function target(host: FakeHost): MigrationTarget & { log: ReturnType<typeof recordingLogger> } {
  return { host, log: recordingLogger(), project, releaseId: 'r2', label: host.label };
}

const settings: MigrationSettings = {
  service: 'web',
  command: ['/app/migrate.sh'],
  runMode: 'exec',
  databaseUrlEnv: 'DATABASE_URL',
  waitFor: [],
  timeoutMs: 60_000,
};

describe('backup-before step', () => {
  it('takes the dump of the database URL with the password on stdin only, and writes data + manifest', async () => {
    const s = read({ ...on, 'spaces-prefix': 'pre' }, { databaseUrl: PG_URL })!;
    const host = new FakeHost()
      .on('readlink /opt/shop/current', { stdout: '/opt/shop/releases/r1\n' })
      .on(/pg_dump/, { stdout: 'PGDMP fake custom archive' });
    const store = new MemoryStore();
    let t = Date.parse('2026-11-22T06:00:00Z');
    const step = backupBeforeStep(s, {
      store: () => store,
      now: () => new Date((t += 6000)),
      sleep: () => Promise.resolve(),
    });
    const tgt = target(host);
    const made = await step(tgt, PG_URL);
    expect(made).toHaveLength(1);
    const m = made[0]!;
    expect(m).toMatchObject({ app: 'shop', name: 'pre-migrate', kind: 'postgres', releaseId: 'r1', rawSize: 25 });
    expect(m.key).toMatch(/^pre\/pre-migrate\/20261122T\d{6}Z-[0-9a-f]{6}\.pgdump$/);
    expect(store.objects.get(m.key)?.data.toString()).toBe('PGDMP fake custom archive');
    const manifestKey = m.key.replace(/\.pgdump$/, '.manifest.json');
    expect(parseManifest(store.objects.get(manifestKey)!.data.toString(), manifestKey)).toEqual(m);
    const dump = host.calls.find((c) => c.command.includes('pg_dump'))!;
    expect(dump.command).toContain('docker run --rm -i --log-driver none --network host');
    expect(dump.command).toContain('postgres\\:17-alpine -c');
    expect(dump.command).not.toContain('s3cr');
    expect(tgt.log.lines.join('\n')).toContain('backup before migrating to release r2: "pre-migrate" (postgres)');
    expect(tgt.log.lines.join('\n')).toContain(`backup "pre-migrate" done in`);
    expect(tgt.log.lines.join('\n')).toContain('backup in progress: 25 B streamed to the store');
    expect(tgt.log.lines.join('\n')).not.toContain('s3cr');
  });

  it('the database-url database is dumped once per run, even when the migration runs on several droplets', async () => {
    const s = read(on, { databaseUrl: PG_URL })!;
    const store = new MemoryStore();
    const step = backupBeforeStep(s, {
      store: () => store,
      now: () => new Date('2026-11-22T06:00:00Z'),
      sleep: () => Promise.resolve(),
    });
    const first = new FakeHost().on(/pg_dump/, { stdout: 'PGDMP one' });
    const second = new FakeHost('fake-2 (192.0.2.11)', '192.0.2.11').on(/pg_dump/, { stdout: 'PGDMP two' });
    expect(await step(target(first), PG_URL)).toHaveLength(1);
    const again = target(second);
    expect(await step(again, PG_URL)).toEqual([]);
    expect(second.commands().some((c) => c.includes('pg_dump'))).toBe(false);
    expect(again.log.lines.join('\n')).toContain('the database-url database was already backed up');
  });

  it('the runner takes the backup after the database is up and before the status and migration commands', async () => {
    const host = new FakeHost()
      .on(/ config$/, { stdout: 'services:\n  web:\n    depends_on: [db]\n  db: {}\n' })
      .on(/migrate\.sh/, { stdout: 'migrated' })
      .on(/schema_version/, { stdout: '1' });
    let before: string[] = [];
    let calls = 0;
    await runMigration(
      target(host),
      { ...settings, runMode: 'run', statusCommand: ['schema_version'] },
      {
        secrets: [],
        now: () => 0,
        backup: async () => {
          calls += 1;
          before = host.commands();
        },
      },
    );
    expect(calls).toBe(1);
    // the database (web's dependency) was started; nothing of the migration had run yet
    expect(before.at(-1)).toMatch(/ up --detach --no-recreate --no-build db$/);
    expect(before.some((c) => c.includes('schema_version') || c.includes('migrate.sh'))).toBe(false);
    expect(host.commands().some((c) => c.includes('schema_version'))).toBe(true);
    expect(host.commands().some((c) => c.includes('migrate.sh'))).toBe(true);
  });

  it('the serving release the deploy already read is recorded without reading `current` again', async () => {
    const s = read(on, { databaseUrl: PG_URL })!;
    const host = new FakeHost().on(/pg_dump/, { stdout: 'PGDMP fake' });
    const step = backupBeforeStep(s, {
      store: () => new MemoryStore(),
      now: () => new Date('2026-11-22T06:00:00Z'),
      sleep: () => Promise.resolve(),
    });
    const [m] = await step({ ...target(host), servingRelease: 'r1' }, PG_URL);
    expect(m?.releaseId).toBe('r1');
    expect(host.commands().some((c) => c.includes('readlink'))).toBe(false);
  });

  it('migrationTarget passes on the release serving before (none on a first deploy)', () => {
    const host = new FakeHost();
    const base = { host, log: recordingLogger(), project, manifest: { id: 'r2' }, target: { label: host.label } };
    expect(migrationTarget({ ...base, previousManifest: { id: 'r1' } })).toMatchObject({
      releaseId: 'r2',
      servingRelease: 'r1',
    });
    expect(migrationTarget(base).servingRelease).toBeUndefined();
  });

  it('a failing backup stops the runner: the migration command never runs', async () => {
    const host = new FakeHost()
      .on('readlink /opt/shop/current', { stdout: '/opt/shop/releases/r1\n' })
      .on(/pg_dump/, { code: 1, stderr: 'pg_dump: error: connection refused' });
    const s = read(on, { databaseUrl: PG_URL })!;
    const step = backupBeforeStep(s, {
      store: () => new MemoryStore(),
      now: () => new Date('2026-11-22T06:00:00Z'),
      sleep: () => Promise.resolve(),
    });
    await expect(
      runMigration(target(host), settings, { databaseUrl: PG_URL, secrets: [PG_URL], now: () => 0, backup: step }),
    ).rejects.toThrow(/the backup before the migration failed, so the migration did not run: .*connection refused/s);
    expect(host.commands().some((c) => c.includes('migrate.sh'))).toBe(false);
  });
});
