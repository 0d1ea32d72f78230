import { describe, expect, it } from 'vitest';

import { render } from '../commands/cmd.js';
import * as c from './commands.js';

const PG = { user: 'postgres', passwordEnv: 'POSTGRES_PASSWORD' };
const URL_PARTS = c.parsePgUrl('postgresql://doadmin:p%40ss%20word@db.example:25060/defaultdb?sslmode=require');

describe('backup command builders (exact strings)', () => {
  it.each([
    [
      'service containers by Compose labels',
      c.findServiceContainers('shop', 'db'),
      'docker ps -q --no-trunc --filter label\\=com.docker.compose.project\\=shop --filter label\\=com.docker.compose.service\\=db',
    ],
    [
      'pg_dump inside the service, password from the container env',
      c.pgDumpInService('abc', { ...PG, compressLevel: 0 }),
      `docker exec abc sh -c 'PGPASSWORD=$(printenv "$1" || true); PGUSER=$2; PGDATABASE=\${3:-$(printenv POSTGRES_DB || printf %s "$2")}; export PGPASSWORD PGUSER PGDATABASE; shift 3; exec pg_dump "$@"' sh POSTGRES_PASSWORD postgres '' --format\\=custom --compress\\=0 --no-password`,
    ],
    [
      'pg_dump from a URL: no password anywhere in the command',
      c.pgDumpFromUrl('postgres:17-alpine', URL_PARTS),
      `docker run --rm -i --log-driver none --network host -e PGHOST\\=db.example -e PGPORT\\=25060 -e PGUSER\\=doadmin -e PGDATABASE\\=defaultdb -e PGSSLMODE\\=require --entrypoint sh postgres\\:17-alpine -c 'IFS= read -r PGPASSWORD; export PGPASSWORD; exec pg_dump "$@"' sh --format\\=custom --no-password`,
    ],
    [
      'sqlite online backup into a tmpfs, then stdout',
      c.sqliteDump('img', 'shop_notes', 'db/app.db'),
      `docker run --rm --log-driver none --network none -v shop_notes\\:/data --tmpfs /dd-backup --entrypoint sh img -c 'sqlite3 "/data/$1" ".backup /dd-backup/db" && exec cat /dd-backup/db' sh db/app.db`,
    ],
    [
      'volume tar, read-only mount, no log driver',
      c.volumeTar('busybox:1.36', 'shop_uploads'),
      `docker run --rm --log-driver none --network none -v shop_uploads\\:/volume\\:ro --entrypoint sh busybox\\:1.36 -c 'exec tar -C /volume -cf - .' sh`,
    ],
    [
      'redis-cli with the password from the container env',
      c.redisCli('r1', 'REDIS_PASSWORD', 'LASTSAVE'),
      `docker exec r1 sh -c 'if [ -n "$1" ]; then REDISCLI_AUTH=$(printenv "$1" || true); export REDISCLI_AUTH; fi; shift; exec redis-cli --no-raw "$@"' sh REDIS_PASSWORD LASTSAVE`,
    ],
    [
      'mariadb-dump (or mysqldump) inside the service, MYSQL_PWD from the container env',
      c.mysqlDumpInService('m1', { user: 'root', passwordEnv: 'MARIADB_ROOT_PASSWORD', database: 'shop' }),
      `docker exec m1 sh -c 'MYSQL_PWD=$(printenv "$1" || true); export MYSQL_PWD; shift; p=$2; if command -v "$1" >/dev/null 2>&1; then p=$1; fi; shift 2; exec "$p" "$@"' sh MARIADB_ROOT_PASSWORD mariadb-dump mysqldump --single-transaction --routines --events --triggers --hex-blob --default-character-set\\=utf8mb4 --user\\=root --databases shop`,
    ],
    [
      'mariadb (or mysql) restore from stdin inside the service',
      c.mysqlRestoreInService('m1', { user: 'root', passwordEnv: 'MYSQL_ROOT_PASSWORD' }),
      `docker exec -i m1 sh -c 'MYSQL_PWD=$(printenv "$1" || true); export MYSQL_PWD; shift; p=$2; if command -v "$1" >/dev/null 2>&1; then p=$1; fi; shift 2; exec "$p" "$@"' sh MYSQL_ROOT_PASSWORD mariadb mysql --user\\=root --default-character-set\\=utf8mb4`,
    ],
    [
      'the throwaway MySQL/MariaDB server: no network, no log, no password to hand over',
      c.mysqlVerifyServer('dd-verify-x', 'img', ['mariadbd']),
      'docker run -d --name dd-verify-x --label droplet-deploy.role\\=verify --network none --log-driver none -e MARIADB_ALLOW_EMPTY_ROOT_PASSWORD\\=1 -e MYSQL_ALLOW_EMPTY_PASSWORD\\=1 img mariadbd',
    ],
  ])('%s', (_name, script, expected) => {
    expect(render(script)).toBe(expected);
  });

  it('the throwaway PostgreSQL gets its password from stdin through the docker CLI environment, never argv', () => {
    expect(render(c.pgVerifyServer('dd-verify-x', 'img', ['postgres'], 'postgres', 'verify'))).toBe(
      `sh -c 'IFS= read -r POSTGRES_PASSWORD; export POSTGRES_PASSWORD; exec "$@"' sh docker run -d --name dd-verify-x --label droplet-deploy.role\\=verify --network none --log-driver none -e POSTGRES_USER\\=postgres -e POSTGRES_DB\\=verify -e POSTGRES_PASSWORD img postgres`,
    );
  });

  it('every container started for a dump has --log-driver none (stdout would otherwise land in a log file on the droplet)', () => {
    for (const s of [
      c.sqliteDump('i', 'v', 'p'),
      c.volumeTar('i', 'v'),
      c.pgDumpFromUrl('i', URL_PARTS),
      c.redisVerify('i'),
      c.volumeVerify('i'),
      c.mysqlVerifyServer('n', 'i', []),
    ]) {
      expect(render(s)).toContain('--log-driver none');
    }
  });

  it('parsePgUrl decodes the URL and keeps the password apart', () => {
    expect(URL_PARTS).toEqual({
      host: 'db.example',
      port: '25060',
      user: 'doadmin',
      database: 'defaultdb',
      password: 'p@ss word',
      sslmode: 'require',
    });
  });
});
