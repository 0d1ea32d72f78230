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
  ])('%s', (_name, script, expected) => {
    expect(render(script)).toBe(expected);
  });

  it('the throwaway verify server password is redacted in logs', () => {
    const s = c.pgVerifyServer('dd-verify-x', 'img', ['postgres'], 'postgres', 'verify', 'hunter2-secret');
    expect(render(s, 'log')).not.toContain('hunter2-secret');
    expect(render(s)).toContain('POSTGRES_PASSWORD\\=hunter2-secret');
  });

  it('every container started for a dump has --log-driver none (stdout would otherwise land in a log file on the droplet)', () => {
    for (const s of [
      c.sqliteDump('i', 'v', 'p'),
      c.volumeTar('i', 'v'),
      c.pgDumpFromUrl('i', URL_PARTS),
      c.redisVerify('i'),
      c.volumeVerify('i'),
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
