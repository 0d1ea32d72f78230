import { type Arg, cmd, type Cmd } from '../commands/cmd.js';

// Remote commands of the backup kinds, as data. Shell snippets are fixed literals: every
// user value reaches them as a positional argument ("$1", "$@"), never by splicing text,
// and secrets only through stdin or the container's own environment (printenv NAME).
//
// Every container we start for a dump runs with `--log-driver none`: with the default
// json-file driver Docker would copy the whole dump from stdout into a log file on the
// droplet's disk.

const PROJECT = 'com.docker.compose.project';
const SERVICE = 'com.docker.compose.service';
const VOLUME = 'com.docker.compose.volume';

/** Containers of a Compose service (running only unless `all`). */
export function findServiceContainers(app: string, service: string, all = false): Cmd {
  return cmd(
    'docker',
    'ps',
    '-q',
    all && '-a',
    '--no-trunc',
    '--filter',
    `label=${PROJECT}=${app}`,
    '--filter',
    `label=${SERVICE}=${service}`,
  );
}

/** The Docker name of a Compose named volume of the project. */
export function findProjectVolume(app: string, volume: string): Cmd {
  return cmd(
    'docker',
    'volume',
    'ls',
    '-q',
    '--filter',
    `label=${PROJECT}=${app}`,
    '--filter',
    `label=${VOLUME}=${volume}`,
  );
}

export function volumeExists(volume: string): Cmd {
  return cmd('docker', 'volume', 'inspect', '--format', '{{.Name}}', volume);
}

/** Running containers that mount a volume. */
export function containersUsingVolume(volume: string): Cmd {
  return cmd('docker', 'ps', '-q', '--no-trunc', '--filter', `volume=${volume}`);
}

export function inspect(container: string, format: string): Cmd {
  return cmd('docker', 'inspect', '--format', format, container);
}

export const stopContainers = (ids: readonly string[]): Cmd => cmd('docker', 'stop', ...ids);
export const startContainers = (ids: readonly string[]): Cmd => cmd('docker', 'start', ...ids);
export const removeContainer = (name: string): Cmd => cmd('docker', 'rm', '-f', '-v', name);

/** `docker exec` running a fixed sh snippet with positional args. */
function execSh(container: string, snippet: string, args: readonly Arg[], stdin = false): Cmd {
  return cmd('docker', 'exec', stdin && '-i', container, 'sh', '-c', snippet, 'sh', ...args);
}

/** A throwaway container running a fixed sh snippet (entrypoint replaced, removed afterwards). */
export function throwaway(
  image: string,
  snippet: string,
  args: readonly Arg[],
  options: {
    stdin?: boolean;
    mounts?: readonly string[];
    volumesFrom?: string;
    tmpfs?: string;
    network?: string;
    env?: readonly string[];
  } = {},
): Cmd {
  return cmd(
    'docker',
    'run',
    '--rm',
    options.stdin && '-i',
    '--log-driver',
    'none',
    '--network',
    options.network ?? 'none',
    ...(options.mounts ?? []).flatMap((m) => ['-v', m]),
    options.volumesFrom !== undefined && ['--volumes-from', options.volumesFrom],
    options.tmpfs !== undefined && ['--tmpfs', options.tmpfs],
    ...(options.env ?? []).flatMap((e) => ['-e', e]),
    '--entrypoint',
    'sh',
    image,
    '-c',
    snippet,
    'sh',
    ...args,
  );
}

// ---------------------------------------------------------------- PostgreSQL

/** Sets libpq's environment from the container: $1 password variable, $2 user, $3 database (or POSTGRES_DB, or the user). */
const PG_ENV_FROM_CONTAINER =
  'PGPASSWORD=$(printenv "$1" || true); PGUSER=$2; PGDATABASE=${3:-$(printenv POSTGRES_DB || printf %s "$2")}; export PGPASSWORD PGUSER PGDATABASE; shift 3; ';

export interface PgTarget {
  user: string;
  passwordEnv: string;
  database?: string;
  compressLevel?: number;
}

function pgArgs(t: PgTarget): string[] {
  return [t.passwordEnv, t.user, t.database ?? ''];
}

export function pgDumpInService(container: string, t: PgTarget): Cmd {
  return execSh(container, `${PG_ENV_FROM_CONTAINER}exec pg_dump "$@"`, [
    ...pgArgs(t),
    '--format=custom',
    ...(t.compressLevel !== undefined ? [`--compress=${t.compressLevel}`] : []),
    '--no-password',
  ]);
}

export const PG_RESTORE_ARGS = [
  '--clean',
  '--if-exists',
  '--no-owner',
  '--no-privileges',
  '--single-transaction',
  '--exit-on-error',
  '--no-password',
];

/** pg_restore of a custom-format dump on stdin into the service's database (destructive: --clean). */
export function pgRestoreInService(container: string, t: PgTarget): Cmd {
  return execSh(
    container,
    `${PG_ENV_FROM_CONTAINER}exec pg_restore -d "$PGDATABASE" "$@"`,
    [...pgArgs(t), ...PG_RESTORE_ARGS],
    true,
  );
}

/** Exact row count of every user table: lines `schema.table|count`, sorted. */
export const PG_ROW_COUNTS_SQL =
  "SELECT table_schema || '.' || table_name, (xpath('/row/c/text()', query_to_xml(format('SELECT count(*) AS c FROM %I.%I', table_schema, table_name), false, true, '')))[1]::text " +
  "FROM information_schema.tables WHERE table_type = 'BASE TABLE' AND table_schema NOT IN ('pg_catalog', 'information_schema') ORDER BY 1";

export function psqlInService(container: string, t: PgTarget, sql: string, host?: string): Cmd {
  return execSh(container, `${PG_ENV_FROM_CONTAINER}exec psql -X -v ON_ERROR_STOP=1 -At "$@"`, [
    ...pgArgs(t),
    ...(host ? ['-h', host] : []),
    '-c',
    sql,
  ]);
}

/** The parts of a postgres:// URL, split so that only the password is secret. */
export interface PgUrlParts {
  host: string;
  port: string;
  user: string;
  database: string;
  password: string;
  sslmode?: string;
}

export function parsePgUrl(url: string): PgUrlParts {
  const u = new URL(url);
  const sslmode = u.searchParams.get('sslmode') ?? undefined;
  return {
    host: decodeURIComponent(u.hostname.replace(/^\[|\]$/g, '')),
    port: u.port || '5432',
    user: decodeURIComponent(u.username) || 'postgres',
    database: decodeURIComponent(u.pathname.replace(/^\//, '')) || decodeURIComponent(u.username) || 'postgres',
    password: decodeURIComponent(u.password),
    ...(sslmode ? { sslmode } : {}),
  };
}

function pgUrlEnv(p: PgUrlParts): string[] {
  return [
    `PGHOST=${p.host}`,
    `PGPORT=${p.port}`,
    `PGUSER=${p.user}`,
    `PGDATABASE=${p.database}`,
    ...(p.sslmode ? [`PGSSLMODE=${p.sslmode}`] : []),
  ];
}

/** The first line of stdin is the password (never argv); the rest of stdin is left for the command. */
const PG_PASSWORD_FROM_STDIN = 'IFS= read -r PGPASSWORD; export PGPASSWORD; ';

/** pg_dump of a database given by URL, in a throwaway container on the droplet's network. Stdin: the password line. */
export function pgDumpFromUrl(image: string, p: PgUrlParts): Cmd {
  return throwaway(image, `${PG_PASSWORD_FROM_STDIN}exec pg_dump "$@"`, ['--format=custom', '--no-password'], {
    stdin: true,
    network: 'host',
    env: pgUrlEnv(p),
  });
}

/** pg_restore into a database given by URL. Stdin: the password line, then the dump. */
export function pgRestoreFromUrl(image: string, p: PgUrlParts): Cmd {
  return throwaway(image, `${PG_PASSWORD_FROM_STDIN}exec pg_restore -d "$PGDATABASE" "$@"`, PG_RESTORE_ARGS, {
    stdin: true,
    network: 'host',
    env: pgUrlEnv(p),
  });
}

/** A throwaway database server for verification: detached, labelled, no network, no log. */
function verifyServer(name: string, image: string, env: readonly Arg[], command: readonly string[]): Cmd {
  return cmd(
    'docker',
    'run',
    '-d',
    '--name',
    name,
    '--label',
    'droplet-deploy.role=verify',
    '--network',
    'none',
    '--log-driver',
    'none',
    ...env.flatMap((e) => ['-e', e]),
    image,
    ...command,
  );
}

/**
 * Starts a throwaway PostgreSQL server for verification, with the same command as the service.
 * Stdin: the password line. The docker CLI takes `-e POSTGRES_PASSWORD` (a name without a value)
 * from its own environment, so the password is in no process's argv on the droplet.
 */
export function pgVerifyServer(
  name: string,
  image: string,
  command: readonly string[],
  user: string,
  database: string,
): Cmd {
  return cmd(
    'sh',
    '-c',
    'IFS= read -r POSTGRES_PASSWORD; export POSTGRES_PASSWORD; exec "$@"',
    'sh',
    ...verifyServer(name, image, [`POSTGRES_USER=${user}`, `POSTGRES_DB=${database}`, 'POSTGRES_PASSWORD'], command)
      .argv,
  );
}

// ---------------------------------------------------------------- MySQL / MariaDB

/** MYSQL_PWD from the container's own environment variable $1 (never argv). */
const MYSQL_PWD_FROM_CONTAINER = 'MYSQL_PWD=$(printenv "$1" || true); export MYSQL_PWD; shift; ';

/**
 * The client program: $1 its MariaDB name (mariadb, mariadb-dump), $2 its MySQL name (mysql,
 * mysqldump). MariaDB images have both names (11.x warns about the old ones), MySQL images only
 * the MySQL name.
 */
const MYSQL_PROGRAM = 'p=$2; if command -v "$1" >/dev/null 2>&1; then p=$1; fi; shift 2; ';

export interface MysqlTarget {
  user: string;
  passwordEnv: string;
  database?: string;
}

/** Options of every dump: one consistent InnoDB snapshot, routines/events/triggers, binary columns as hex. */
export const MYSQL_DUMP_ARGS = [
  '--single-transaction',
  '--routines',
  '--events',
  '--triggers',
  '--hex-blob',
  '--default-character-set=utf8mb4',
];

export function mysqlDumpInService(container: string, t: MysqlTarget): Cmd {
  return execSh(container, `${MYSQL_PWD_FROM_CONTAINER}${MYSQL_PROGRAM}exec "$p" "$@"`, [
    t.passwordEnv,
    'mariadb-dump',
    'mysqldump',
    ...MYSQL_DUMP_ARGS,
    `--user=${t.user}`,
    ...(t.database ? ['--databases', t.database] : ['--all-databases']),
  ]);
}

/** Runs the SQL dump on stdin in the service (its CREATE DATABASE / DROP TABLE IF EXISTS replace what it holds). */
export function mysqlRestoreInService(container: string, t: MysqlTarget): Cmd {
  return execSh(
    container,
    `${MYSQL_PWD_FROM_CONTAINER}${MYSQL_PROGRAM}exec "$p" "$@"`,
    [t.passwordEnv, 'mariadb', 'mysql', `--user=${t.user}`, '--default-character-set=utf8mb4'],
    true,
  );
}

/**
 * Exact row count of every user table, as `schema.table<TAB>count` rows, in the same session
 * (a restored `mysql` schema takes effect for new sessions only after FLUSH PRIVILEGES).
 */
export const MYSQL_ROW_COUNTS_SQL = [
  'SET SESSION group_concat_max_len = 16777216;',
  "SELECT GROUP_CONCAT(CONCAT('SELECT ', QUOTE(CONCAT(table_schema, '.', table_name)), ', COUNT(*) FROM `', REPLACE(table_schema, '`', '``'), '`.`', REPLACE(table_name, '`', '``'), '`') ORDER BY table_schema, table_name SEPARATOR ' UNION ALL ') INTO @dd_counts",
  "FROM information_schema.tables WHERE table_type = 'BASE TABLE' AND table_schema NOT IN ('mysql', 'information_schema', 'performance_schema', 'sys');",
  "SET @dd_counts = IFNULL(@dd_counts, 'SELECT 1 FROM DUAL WHERE FALSE');",
  'PREPARE dd_counts FROM @dd_counts;',
  'EXECUTE dd_counts;',
].join('\n');

/**
 * A throwaway MySQL/MariaDB server for verification: the service's image and command, no network,
 * an empty root password (no secret to hand over: nothing can reach it but `docker exec`).
 */
export function mysqlVerifyServer(name: string, image: string, command: readonly string[]): Cmd {
  return verifyServer(name, image, ['MARIADB_ALLOW_EMPTY_ROOT_PASSWORD=1', 'MYSQL_ALLOW_EMPTY_PASSWORD=1'], command);
}

/** `SELECT 1` over TCP (the official images' first-start server listens only on the socket). */
export function mysqlVerifyProbe(name: string): Cmd {
  return execSh(name, `${MYSQL_PROGRAM}exec "$p" "$@"`, [
    'mariadb',
    'mysql',
    '--user=root',
    '--host=127.0.0.1',
    '--protocol=TCP',
    '-N',
    '-B',
    '-e',
    'SELECT 1',
  ]);
}

/** Restores the dump on stdin into the throwaway server, then prints the row counts (one session). */
export function mysqlVerifyRestore(name: string): Cmd {
  return execSh(
    name,
    `${MYSQL_PROGRAM}{ cat; printf '\\n%s\\n' "$1"; } | "$p" --user=root -N -B --default-character-set=utf8mb4`,
    ['mariadb', 'mysql', MYSQL_ROW_COUNTS_SQL],
    true,
  );
}

// ---------------------------------------------------------------- SQLite

/** Online backup through SQLite's backup API into a tmpfs (RAM) inside a throwaway container, then to stdout. */
export function sqliteDump(image: string, volume: string, path: string): Cmd {
  return throwaway(image, 'sqlite3 "/data/$1" ".backup /dd-backup/db" && exec cat /dd-backup/db', [path], {
    mounts: [`${volume}:/data`],
    tmpfs: '/dd-backup',
  });
}

/** Replaces the database file with stdin (service stopped by the caller); stale WAL/SHM/journal removed. */
export function sqliteRestore(image: string, volume: string, path: string): Cmd {
  return throwaway(
    image,
    'cat > "/data/$1.dd-restore" && rm -f "/data/$1-wal" "/data/$1-shm" "/data/$1-journal" && mv "/data/$1.dd-restore" "/data/$1"',
    [path],
    { stdin: true, mounts: [`${volume}:/data`] },
  );
}

/** Integrity check and row counts of a database read from stdin into a tmpfs. Prints `ok` then `table|count` lines. */
export function sqliteVerify(image: string): Cmd {
  return throwaway(
    image,
    'cat > /v/db && sqlite3 /v/db "PRAGMA integrity_check" && for t in $(sqlite3 /v/db "SELECT name FROM sqlite_master WHERE type = \'table\' AND name NOT LIKE \'sqlite_%\' ORDER BY name"); do printf "%s|" "$t"; sqlite3 /v/db "SELECT count(*) FROM \\"$t\\""; done',
    [],
    { stdin: true, tmpfs: '/v' },
  );
}

// ---------------------------------------------------------------- Redis

/** redis-cli inside the service container; the password (if any) from the container's own environment. */
export function redisCli(container: string, passwordEnv: string | undefined, ...args: string[]): Cmd {
  return execSh(
    container,
    'if [ -n "$1" ]; then REDISCLI_AUTH=$(printenv "$1" || true); export REDISCLI_AUTH; fi; shift; exec redis-cli --no-raw "$@"',
    [passwordEnv ?? '', ...args],
  );
}

export function catInContainer(container: string, path: string): Cmd {
  return cmd('docker', 'exec', container, 'cat', path);
}

/** Writes stdin to a file of a stopped container's volumes (through a helper container of the same image). */
export function writeFileViaVolumesFrom(image: string, container: string, path: string): Cmd {
  return throwaway(image, 'cat > "$1.dd-restore" && mv "$1.dd-restore" "$1"', [path], {
    stdin: true,
    volumesFrom: container,
  });
}

/** Loads an RDB from stdin into a throwaway Redis in RAM and prints the key count. */
export function redisVerify(image: string): Cmd {
  return throwaway(
    image,
    'cat > /v/dump.rdb && redis-server --dir /v --dbfilename dump.rdb --port 6390 --bind 127.0.0.1 --save "" --appendonly no --daemonize yes >/dev/null && ' +
      'i=0; until redis-cli -p 6390 ping 2>/dev/null | grep -q PONG; do i=$((i+1)); [ $i -gt 100 ] && exit 3; sleep 0.1; done; ' +
      'n=$(redis-cli -p 6390 dbsize); redis-cli -p 6390 shutdown nosave >/dev/null 2>&1; echo "keys|$n"',
    [],
    { stdin: true, tmpfs: '/v' },
  );
}

// ---------------------------------------------------------------- Named volumes

export function volumeTar(image: string, volume: string): Cmd {
  return throwaway(image, 'exec tar -C /volume -cf - .', [], { mounts: [`${volume}:/volume:ro`] });
}

/** Empties the volume and unpacks the tar from stdin into it (containers using it stopped by the caller). */
export function volumeUntar(image: string, volume: string): Cmd {
  return throwaway(image, 'find /volume -mindepth 1 -maxdepth 1 -exec rm -rf {} + && exec tar -C /volume -xf -', [], {
    stdin: true,
    mounts: [`${volume}:/volume`],
  });
}

/** Reads a tar from stdin and prints `entries|<n>` (fails on a corrupt archive). */
export function volumeVerify(image: string): Cmd {
  return throwaway(
    image,
    '{ tar -tf - || echo "dd-tar-failed"; } | awk \'$0 == "dd-tar-failed" { bad = 1; next } { n++ } END { if (bad) { print "tar could not read the archive"; exit 1 } print "entries|" n + 0 }\'',
    [],
    { stdin: true },
  );
}
