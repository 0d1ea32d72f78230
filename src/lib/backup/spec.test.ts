import { describe, expect, it } from 'vitest';

import { parseDumps } from './spec.js';

describe('parseDumps', () => {
  it('parses every kind with defaults', () => {
    const specs = parseDumps(`
- name: db
  kind: postgres
  service: db
- name: managed
  kind: postgres
  database-url: postgresql://u:secret@h:5432/d
  compress-level: 0
  compression: gzip
- name: my
  kind: mariadb
  service: mdb
- name: notes
  kind: sqlite
  volume: notes
  path: app.db
  image: sqlite-img
- name: cache
  kind: redis
  service: cache
- name: uploads
  kind: volume
  volume: uploads
  services: [web, worker]
`);
    expect(specs).toEqual([
      {
        kind: 'postgres',
        name: 'db',
        compression: 'none',
        service: 'db',
        user: 'postgres',
        passwordEnv: 'POSTGRES_PASSWORD',
      },
      {
        kind: 'postgres',
        name: 'managed',
        compression: 'gzip',
        compressLevel: 0,
        databaseUrl: 'postgresql://u:secret@h:5432/d',
        user: 'postgres',
        passwordEnv: 'POSTGRES_PASSWORD',
      },
      {
        kind: 'mariadb',
        name: 'my',
        compression: 'gzip',
        service: 'mdb',
        user: 'root',
        passwordEnv: 'MARIADB_ROOT_PASSWORD',
      },
      { kind: 'sqlite', name: 'notes', compression: 'gzip', volume: 'notes', path: 'app.db', image: 'sqlite-img' },
      { kind: 'redis', name: 'cache', compression: 'gzip', service: 'cache' },
      {
        kind: 'volume',
        name: 'uploads',
        compression: 'gzip',
        volume: 'uploads',
        image: 'busybox:1.36',
        services: ['web', 'worker'],
      },
    ]);
  });

  it.each([
    ['not a list', 'name: x', /must be a YAML list/],
    ['unknown kind', '- {name: a, kind: mongo}', /"kind" has "mongo": expected one of/],
    ['unknown field', '- {name: a, kind: redis, service: r, volume: v}', /unknown field "volume" for kind redis/],
    [
      'duplicate names',
      '- {name: a, kind: redis, service: r}\n- {name: a, kind: redis, service: s}',
      /names must be unique/,
    ],
    [
      'postgres with both sources',
      '- {name: a, kind: postgres, service: db, database-url: "postgres://x"}',
      /exactly one of "service" or "database-url"/,
    ],
    [
      'sqlite path escaping the volume',
      '- {name: a, kind: sqlite, volume: v, path: ../etc/passwd, image: i}',
      /relative path inside the volume/,
    ],
    ['sqlite without image or service', '- {name: a, kind: sqlite, volume: v, path: a.db}', /give "image"/],
    ['bad name', '- {name: "A B", kind: redis, service: r}', /not a lowercase name/],
    ['bad compress level', '- {name: a, kind: postgres, service: db, compress-level: 12}', /compression level/],
  ])('rejects %s', (_n, yaml, message) => {
    expect(() => parseDumps(yaml)).toThrow(message);
  });

  it('never shows a database URL in an error', () => {
    expect(() => parseDumps('- {name: a, kind: postgres, database-url: "mysql://u:topsecret@h/d"}')).toThrow(
      /value hidden/,
    );
    try {
      parseDumps('- {name: a, kind: postgres, database-url: "mysql://u:topsecret@h/d"}');
    } catch (error) {
      expect((error as Error).message).not.toContain('topsecret');
    }
  });
});
