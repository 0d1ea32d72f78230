import { parse as parseYaml } from 'yaml';

import { ConfigurationError } from '../action/errors.js';

// The `dumps` input: a YAML (or JSON) list of what to back up, parsed into typed specs.
// Every field is checked here; nothing downstream guesses.

export type DumpKind = 'postgres' | 'mysql' | 'mariadb' | 'sqlite' | 'redis' | 'volume';
export const DUMP_KINDS: readonly DumpKind[] = ['postgres', 'mysql', 'mariadb', 'sqlite', 'redis', 'volume'];
export type Compression = 'gzip' | 'none';

interface DumpBase {
  /** Unique per action run; names the folder under the prefix: <prefix>/<name>/. */
  name: string;
  compression: Compression;
}

export interface PostgresDump extends DumpBase {
  kind: 'postgres';
  /** The Compose service running PostgreSQL (pg_dump runs inside it). */
  service?: string;
  /** Or a connection URL (managed database): pg_dump runs in a throwaway container. Secret. */
  databaseUrl?: string;
  /** Image for the throwaway pg_dump/pg_restore container (database-url and verify). */
  image?: string;
  database?: string;
  user: string;
  /** Environment variable in the service container that holds the password (default POSTGRES_PASSWORD). */
  passwordEnv: string;
  /** pg_dump --compress level (0-9). 0 with `compression: gzip` moves the compression off the droplet onto the runner. */
  compressLevel?: number;
}

export interface MysqlDump extends DumpBase {
  kind: 'mysql' | 'mariadb';
  service: string;
  /** One database, or all databases when absent. */
  database?: string;
  user: string;
  passwordEnv: string;
}

export interface SqliteDump extends DumpBase {
  kind: 'sqlite';
  /** The named volume holding the database (Compose name; resolved through the project's labels). */
  volume: string;
  /** Path of the database file inside the volume. */
  path: string;
  /** The service that writes the file (stopped during a restore). */
  service?: string;
  /** An image with `sh` and `sqlite3` (default: the service's own image). */
  image?: string;
}

export interface RedisDump extends DumpBase {
  kind: 'redis';
  service: string;
  /** Environment variable in the service container holding the password, when Redis has one. */
  passwordEnv?: string;
}

export interface VolumeDump extends DumpBase {
  kind: 'volume';
  volume: string;
  /** An image with `sh` and `tar` (default busybox:1.36). */
  image: string;
  /** Services stopped during a restore of the volume (default: every container using it). */
  services?: string[];
}

export type DumpSpec = PostgresDump | MysqlDump | SqliteDump | RedisDump | VolumeDump;

const NAME = /^[a-z0-9][a-z0-9._-]{0,62}$/;
const SERVICE = /^[A-Za-z0-9][A-Za-z0-9_.-]*$/;
const ENV_NAME = /^[A-Za-z_][A-Za-z0-9_]*$/;
const IMAGE = /^[A-Za-z0-9][A-Za-z0-9._\-/:@]*$/;

const FIELDS: Record<DumpKind, readonly string[]> = {
  postgres: ['service', 'database-url', 'image', 'database', 'user', 'password-env', 'compress-level'],
  mysql: ['service', 'database', 'user', 'password-env'],
  mariadb: ['service', 'database', 'user', 'password-env'],
  sqlite: ['volume', 'path', 'service', 'image'],
  redis: ['service', 'password-env'],
  volume: ['volume', 'image', 'services'],
};

class Fields {
  constructor(
    private readonly where: string,
    private readonly obj: Record<string, unknown>,
  ) {}

  fail(message: string): ConfigurationError {
    return new ConfigurationError(`input "dumps": ${this.where}: ${message}`);
  }

  str(key: string, pattern?: RegExp, what?: string): string | undefined {
    const v = this.obj[key];
    if (v === undefined || v === null || v === '') return undefined;
    if (typeof v !== 'string' && typeof v !== 'number') throw this.fail(`"${key}" must be a string`);
    const s = String(v).trim();
    if (pattern && !pattern.test(s))
      throw this.fail(`"${key}" has ${JSON.stringify(s)}, which is not ${what ?? 'valid'}`);
    return s;
  }

  need(key: string, pattern?: RegExp, what?: string): string {
    const v = this.str(key, pattern, what);
    if (v === undefined) throw this.fail(`"${key}" is required for kind ${String(this.obj['kind'])}`);
    return v;
  }

  list(key: string, pattern: RegExp, what: string): string[] | undefined {
    const v = this.obj[key];
    if (v === undefined || v === null) return undefined;
    const items = Array.isArray(v) ? v : String(v).split(',');
    return items.map((item) => {
      const s = String(item).trim();
      if (!pattern.test(s)) throw this.fail(`"${key}" has ${JSON.stringify(s)}, which is not ${what}`);
      return s;
    });
  }
}

/** Parses the `dumps` input. Returns [] for an empty input. */
export function parseDumps(text: string): DumpSpec[] {
  if (!text.trim()) return [];
  let doc: unknown;
  try {
    doc = parseYaml(text);
  } catch (error) {
    throw new ConfigurationError(`input "dumps" is not valid YAML: ${(error as Error).message.split('\n')[0]}`);
  }
  if (!Array.isArray(doc))
    throw new ConfigurationError('input "dumps" must be a YAML list of dumps (each with name and kind)');
  const seen = new Set<string>();
  return doc.map((item, index) => {
    if (typeof item !== 'object' || item === null || Array.isArray(item)) {
      throw new ConfigurationError(`input "dumps": item ${index + 1} is not a mapping`);
    }
    const obj = item as Record<string, unknown>;
    const label = typeof obj['name'] === 'string' ? `dump "${obj['name']}"` : `item ${index + 1}`;
    const f = new Fields(label, obj);
    const kind = f.need('kind') as DumpKind;
    if (!DUMP_KINDS.includes(kind))
      throw f.fail(`"kind" has ${JSON.stringify(kind)}: expected one of ${DUMP_KINDS.join(', ')}`);
    const allowed = new Set(['name', 'kind', 'compression', ...FIELDS[kind]]);
    for (const key of Object.keys(obj)) {
      if (!allowed.has(key))
        throw f.fail(`unknown field "${key}" for kind ${kind} (allowed: ${[...allowed].join(', ')})`);
    }
    const name = f.need('name', NAME, 'a lowercase name (a-z, 0-9, . _ -)');
    if (seen.has(name)) throw f.fail('two dumps have this name; names must be unique');
    seen.add(name);
    const compressionText = f.str('compression') ?? (kind === 'postgres' ? 'none' : 'gzip');
    if (compressionText !== 'gzip' && compressionText !== 'none') throw f.fail(`"compression" must be gzip or none`);
    const compression = compressionText;
    const service = f.str('service', SERVICE, 'a Compose service name');
    const image = f.str('image', IMAGE, 'an image reference');
    switch (kind) {
      case 'postgres': {
        const databaseUrl = f.str('database-url');
        if (!service === !databaseUrl) throw f.fail('give exactly one of "service" or "database-url"');
        if (databaseUrl && !/^postgres(ql)?:\/\//.test(databaseUrl)) {
          throw f.fail('"database-url" must start with postgres:// or postgresql:// (value hidden)');
        }
        const database = f.str('database', /^[A-Za-z0-9_.-]+$/, 'a database name');
        const level = f.str('compress-level', /^[0-9]$/, 'a pg_dump compression level 0-9');
        return {
          kind,
          name,
          compression,
          ...(level !== undefined ? { compressLevel: Number(level) } : {}),
          ...(service ? { service } : {}),
          ...(databaseUrl ? { databaseUrl } : {}),
          ...(image ? { image } : {}),
          ...(database ? { database } : {}),
          user: f.str('user', /^[A-Za-z0-9_.-]+$/, 'a user name') ?? 'postgres',
          passwordEnv: f.str('password-env', ENV_NAME, 'an environment variable name') ?? 'POSTGRES_PASSWORD',
        };
      }
      case 'mysql':
      case 'mariadb': {
        const database = f.str('database', /^[A-Za-z0-9_.$-]+$/, 'a database name');
        return {
          kind,
          name,
          compression,
          service: f.need('service', SERVICE, 'a Compose service name'),
          ...(database ? { database } : {}),
          user: f.str('user', /^[A-Za-z0-9_.-]+$/, 'a user name') ?? 'root',
          passwordEnv:
            f.str('password-env', ENV_NAME, 'an environment variable name') ??
            (kind === 'mariadb' ? 'MARIADB_ROOT_PASSWORD' : 'MYSQL_ROOT_PASSWORD'),
        };
      }
      case 'sqlite': {
        const path = f.need('path');
        if (path.startsWith('/') || path.split('/').includes('..') || !/^[A-Za-z0-9._\-/]+$/.test(path)) {
          throw f.fail(`"path" has ${JSON.stringify(path)}: give a relative path inside the volume (no ..)`);
        }
        if (!service && !image) throw f.fail('give "image" (with sh and sqlite3) or "service" (whose image is used)');
        return {
          kind,
          name,
          compression,
          volume: f.need('volume', /^[A-Za-z0-9][A-Za-z0-9_.-]*$/, 'a volume name'),
          path,
          ...(service ? { service } : {}),
          ...(image ? { image } : {}),
        };
      }
      case 'redis': {
        const passwordEnv = f.str('password-env', ENV_NAME, 'an environment variable name');
        return {
          kind,
          name,
          compression,
          service: f.need('service', SERVICE, 'a Compose service name'),
          ...(passwordEnv ? { passwordEnv } : {}),
        };
      }
      case 'volume': {
        const services = f.list('services', SERVICE, 'a Compose service name');
        return {
          kind,
          name,
          compression,
          volume: f.need('volume', /^[A-Za-z0-9][A-Za-z0-9_.-]*$/, 'a volume name'),
          image: image ?? 'busybox:1.36',
          ...(services ? { services } : {}),
        };
      }
    }
  });
}

/** The secrets a dump spec carries (for masking). */
export function dumpSecrets(specs: readonly DumpSpec[]): string[] {
  return specs.flatMap((s) => (s.kind === 'postgres' && s.databaseUrl ? [s.databaseUrl] : []));
}

/** File extension of the raw dump (before compression/encryption). */
export function dumpExtension(kind: DumpKind): string {
  switch (kind) {
    case 'postgres':
      return 'pgdump';
    case 'mysql':
    case 'mariadb':
      return 'sql';
    case 'sqlite':
      return 'sqlite3';
    case 'redis':
      return 'rdb';
    case 'volume':
      return 'tar';
  }
}
