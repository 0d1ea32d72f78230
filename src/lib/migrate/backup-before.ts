// backup-before: a dump of the database taken with snapshot-and-backup's dump code
// (takeDump: the same kinds, pipeline, objects and manifests) after the database is up and
// before the migration runs, under the deploy lock. Shared by db-migrate and the one-step
// deploy; restore it with snapshot-and-backup (mode: restore, backup-key: <the key>).
import { Transform, type TransformCallback } from 'node:stream';
import { pipeline } from 'node:stream/promises';

import { ConfigurationError } from '../action/errors.js';
import type { InputReader } from '../action/inputs.js';
import type { Logger } from '../action/logger.js';
import { formatDuration } from '../action/parsers.js';
import { maskSecret } from '../action/secrets.js';
import type { SummaryBuilder } from '../action/summary.js';
import { DEFAULT_ITERATIONS } from '../backup/encryption.js';
import type { BackupManifest } from '../backup/manifest.js';
import { readSpacesInputs, type SpacesSettings } from '../backup/spaces.js';
import { type DumpSpec, dumpSecrets, parseDumps } from '../backup/spec.js';
import type { BackupStore } from '../backup/store.js';
import { formatBytes, servingRelease, takeDump } from '../backup/take-dump.js';
import type { MigrationTarget } from './migrate.js';

/** The name (folder under spaces-prefix) of the dump of the migration's database URL. */
const DEFAULT_BACKUP_NAME = 'pre-migrate';
const DEFAULT_PG_DUMP_IMAGE = 'postgres:17-alpine';

export interface BackupBeforeSettings {
  app: string;
  deployRoot: string;
  /**
   * `dumps`: the backup-dumps input (snapshot-and-backup's `dumps` format).
   * `database-url`: a postgres dump of the migration's own database URL (database-url or
   * database-cluster-id), pg_dump in a throwaway `image` container on the droplet.
   */
  source: { kind: 'dumps'; dumps: DumpSpec[] } | { kind: 'database-url'; name: string; image: string };
  spaces: SpacesSettings;
  passphrase?: string;
  iterations: number;
  /** Deadline of each dump command. */
  timeoutMs: number;
}

export interface BackupBeforeInputContext {
  app: string;
  deployRoot: string;
  /** The input carrying the migration's database URL ('database-url'), if one was given. */
  databaseUrl?: string;
  /** The URL comes from the API at run time (database-cluster-id). */
  databaseUrlFromApi?: boolean;
}

const PG_URL = /^postgres(ql)?:\/\//i;

/** Reads backup-before and what it needs; undefined when backup-before is false. Throws ConfigurationError naming the input. */
export function readBackupBeforeInputs(
  r: InputReader,
  ctx: BackupBeforeInputContext,
): BackupBeforeSettings | undefined {
  const enabled = r.bool('backup-before', false);
  if (!enabled) {
    for (const name of ['backup-dumps', 'backup-image']) {
      if (r.has(name)) throw new ConfigurationError(`input "${name}" is set but "backup-before" is not true`);
    }
    return undefined;
  }
  let dumps: DumpSpec[];
  try {
    dumps = parseDumps(r.raw('backup-dumps'));
  } catch (error) {
    if (error instanceof ConfigurationError)
      throw new ConfigurationError(error.message.replace(/^input "dumps"/, 'input "backup-dumps"'));
    throw error;
  }
  let source: BackupBeforeSettings['source'];
  if (dumps.length > 0) {
    if (r.has('backup-image'))
      throw new ConfigurationError(
        'input "backup-image" is for the dump of "database-url"; with "backup-dumps" give each dump its own "image"',
      );
    source = { kind: 'dumps', dumps };
  } else if (ctx.databaseUrl || ctx.databaseUrlFromApi) {
    if (ctx.databaseUrl && !PG_URL.test(ctx.databaseUrl)) {
      throw new ConfigurationError(
        '"backup-before" dumps "database-url" only for PostgreSQL (postgres:// or postgresql://); for another database give "backup-dumps" (snapshot-and-backup\'s "dumps" format, e.g. kind: mysql with the service)',
      );
    }
    const image = r.string('backup-image', DEFAULT_PG_DUMP_IMAGE);
    if (!/^[A-Za-z0-9][A-Za-z0-9._\-/:@]*$/.test(image))
      throw new ConfigurationError(`input "backup-image" has ${JSON.stringify(image)}: not an image reference`);
    source = { kind: 'database-url', name: DEFAULT_BACKUP_NAME, image };
  } else {
    throw new ConfigurationError(
      '"backup-before" is true but there is nothing to dump: give "database-url" (a PostgreSQL URL) or "backup-dumps", e.g. "- {name: db, kind: postgres, service: db}"',
    );
  }
  const spaces = readSpacesInputs(r, ctx.app, '"backup-before" is true');
  const passphrase = r.optional('encryption-passphrase');
  return {
    app: ctx.app,
    deployRoot: ctx.deployRoot,
    source,
    spaces,
    ...(passphrase ? { passphrase } : {}),
    iterations: r.int('encryption-iterations', DEFAULT_ITERATIONS, { min: 10_000, max: 10_000_000 }),
    timeoutMs: r.duration('backup-timeout', '1h', { minMs: 10_000 }),
  };
}

/** Secrets carried by the settings (each is masked and redacted by the caller): url kind first. */
export function backupBeforeSecrets(settings: BackupBeforeSettings): { plain: string[]; urls: string[] } {
  return {
    plain: [settings.spaces.secretAccessKey, ...(settings.passphrase ? [settings.passphrase] : [])],
    urls: settings.source.kind === 'dumps' ? dumpSecrets(settings.source.dumps) : [],
  };
}

/** The dumps to take, with the migration's database URL filled in. */
export function backupSpecs(settings: BackupBeforeSettings, databaseUrl: string | undefined): DumpSpec[] {
  const source = settings.source;
  if (source.kind === 'dumps') return source.dumps;
  if (!databaseUrl) throw new Error('backup-before: the migration has no database URL to dump');
  if (!PG_URL.test(databaseUrl)) {
    throw new Error(
      'backup-before: the database URL is not a PostgreSQL one; give "backup-dumps" to say how to dump this database. The migration did not run.',
    );
  }
  return [
    {
      kind: 'postgres',
      name: source.name,
      compression: 'none',
      databaseUrl,
      image: source.image,
      user: 'postgres',
      passwordEnv: 'POSTGRES_PASSWORD',
    },
  ];
}

export interface BackupBeforeDeps {
  store(spaces: SpacesSettings): BackupStore;
  now(): Date;
  sleep(ms: number): Promise<void>;
}

/** What the migration runner calls once the database is up: takes every dump, in order; throws on the first failure. */
export type BackupStep = (ctx: MigrationTarget, databaseUrl: string | undefined) => Promise<BackupManifest[]>;

export function backupBeforeStep(settings: BackupBeforeSettings, deps: BackupBeforeDeps): BackupStep {
  // the database of database-url is the same whichever droplet the migration runs on: dump it once
  let sharedTaken: BackupManifest[] | undefined;
  return async (ctx, databaseUrl) => {
    if (sharedTaken && settings.source.kind === 'database-url') {
      ctx.log.info(
        `backup before migrating: the database-url database was already backed up (${sharedTaken.map((m) => m.key).join(', ')})`,
      );
      return [];
    }
    const specs = backupSpecs(settings, databaseUrl);
    const serving = ctx.servingRelease ?? (await servingRelease(ctx.host, settings.deployRoot, settings.app));
    const store = withProgress(deps.store(settings.spaces), ctx.log, () => deps.now().getTime());
    ctx.log.info(
      `backup before migrating to release ${ctx.releaseId}: ${specs.map((s) => `"${s.name}" (${s.kind})`).join(', ')} → ${store.description} under ${settings.spaces.prefix}/ (serving: ${serving ?? 'no release yet'})`,
    );
    const made: BackupManifest[] = [];
    for (const spec of specs) {
      const manifest = await takeDump({
        host: ctx.host,
        store,
        spec,
        app: settings.app,
        droplet: ctx.label,
        prefix: settings.spaces.prefix,
        ...(settings.passphrase ? { passphrase: settings.passphrase } : {}),
        iterations: settings.iterations,
        ...(serving ? { releaseId: serving } : {}),
        now: deps.now,
        sleep: deps.sleep,
        logger: ctx.log,
        timeoutMs: settings.timeoutMs,
      });
      ctx.log.info(
        `backup "${spec.name}" done in ${(manifest.durationMs / 1000).toFixed(1)}s: ${formatBytes(manifest.size)} stored at ${manifest.key}`,
      );
      made.push(manifest);
    }
    if (settings.source.kind === 'database-url') sharedTaken = made;
    return made;
  };
}

const PROGRESS_EVERY_MS = 5_000;

/** The store, logging how much has been streamed to it at most every 5 s while data flows. */
function withProgress(store: BackupStore, log: Logger, now: () => number): BackupStore {
  return {
    description: store.description,
    upload: async (key, body, options) => {
      const started = now();
      let last = started;
      let bytes = 0;
      const counter = new Transform({
        transform(chunk: Buffer, _enc, callback: TransformCallback) {
          bytes += chunk.length;
          const t = now();
          if (t - last >= PROGRESS_EVERY_MS) {
            last = t;
            log.info(
              `backup in progress: ${formatBytes(bytes)} streamed to the store (${Math.round((t - started) / 1000)}s)`,
            );
          }
          callback(null, chunk);
        },
      });
      let pipeError: unknown;
      const piping = pipeline(body, counter).catch((error: unknown) => {
        pipeError = error;
      });
      try {
        await store.upload(key, counter, options);
      } catch (error) {
        // the upload stopped reading: end the counting stage (and with it the body)
        counter.destroy();
        throw error;
      }
      await piping;
      if (pipeError !== undefined) throw pipeError;
    },
    putJson: (key, value) => store.putJson(key, value),
    getText: (key) => store.getText(key),
    getStream: (key) => store.getStream(key),
    exists: (key) => store.exists(key),
    list: (prefix) => store.list(prefix),
    delete: (key) => store.delete(key),
  };
}

/** The "Backup before the migration" table of the job summary. */
export function backupTable(summary: SummaryBuilder, backups: readonly BackupManifest[]): SummaryBuilder {
  return summary.heading('Backup before the migration', 4).table(
    ['Dump', 'Kind', 'Object', 'Stored', 'Dumped', 'SHA-256', 'Serving release', 'Took'],
    backups.map((b) => [
      b.name,
      b.kind,
      b.key,
      formatBytes(b.size),
      formatBytes(b.rawSize),
      b.sha256.slice(0, 16),
      b.releaseId,
      formatDuration(b.durationMs),
    ]),
  );
}

/** What an action running migrations needs of backup-before for one run. */
export interface BackupBeforeRun {
  /** Values to redact (Spaces secret key, passphrase, URLs in the dumps); already masked. */
  secrets: string[];
  /** Every backup taken so far, kept apart from the migrations' results so a failed migration still reports them. */
  backups: BackupManifest[];
  /** The runner's `backup` hook (MigrationOptions.backup); undefined when backup-before is off. */
  hook?: BackupStep;
}

/** Masks backup-before's secrets and makes the migration runner's hook, recording what it took. */
export function prepareBackupBefore(
  settings: BackupBeforeSettings | undefined,
  deps: BackupBeforeDeps,
  setSecret: (value: string) => void,
): BackupBeforeRun {
  const backups: BackupManifest[] = [];
  if (!settings) return { secrets: [], backups };
  const { plain, urls } = backupBeforeSecrets(settings);
  for (const v of plain) maskSecret(setSecret, v);
  for (const v of urls) maskSecret(setSecret, v, 'url');
  const step = backupBeforeStep(settings, deps);
  return {
    secrets: [...plain, ...urls],
    backups,
    hook: async (ctx, databaseUrl) => {
      const made = await step(ctx, databaseUrl);
      backups.push(...made);
      return made;
    },
  };
}
