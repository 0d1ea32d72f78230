// snapshot-and-backup, data: the BUNDLED action (dist/snapshot-and-backup/index.js) run as the
// runner runs it, against two real lab droplets (sshd + Docker + Compose) running the same
// stack — PostgreSQL, Redis, a busybox web service with a named volume, an SQLite file in a
// volume — and the lab's S3 server.
//
// - backup of all four kinds (+ a database-url dump of the lab's managed PostgreSQL), encrypted,
//   verified in throwaway containers → objects + manifests in S3;
// - restore of each into the SECOND droplet's fresh stack → PostgreSQL row counts and a table
//   checksum, Redis keys, SQLite rows/content and volume file checksums all match the source;
// - restore without the confirmation input is refused and changes nothing;
// - retention keep-last 1 keeps exactly the newest complete backup;
// - S3 killed mid-upload (own s3rver child process): the step fails clearly, no manifest, no object.
//
// Builds its own bundle of the current sources (test/support/private-bundle.ts); dist/ is not used.
import { spawnSync } from 'node:child_process';
import { realpathSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

import { GetObjectCommand, ListObjectsV2Command, S3Client } from '@aws-sdk/client-s3';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import { type FixtureDroplet, useLab } from '../lab/fixture.js';
import { buildPrivateBundle } from '../support/private-bundle.js';
import { labKeys, labS3Client, labSpaces } from '../support/lab-s3.js';
import { runAction } from '../support/run-action.js';
import { type S3rverProcess, startS3rver } from '../unit/backup/s3rver.js';

const lab = useLab();
const APP = 'shop';
const RUN = Math.random().toString(36).slice(2, 8);
const PREFIX = `e2e-${RUN}/${APP}`;
const PASSPHRASE = 'backup pass "phrase" with spaces';
let src: FixtureDroplet;
let dst: FixtureDroplet;
let reg: string;
let s3: S3Client;
let distRoot: string;

async function sh(d: FixtureDroplet, command: string, stdin?: string): Promise<string> {
  const r = await lab.exec(d, command, stdin === undefined ? {} : { stdin });
  if (r.code !== 0) throw new Error(`${d.name}: ${command}: exit ${r.code}: ${r.stderr || r.stdout}`);
  return r.stdout.trim();
}

const container = (service: string): string =>
  `$(docker ps -q --filter label=com.docker.compose.project=${APP} --filter label=com.docker.compose.service=${service})`;
const psql = (d: FixtureDroplet, sql: string): Promise<string> =>
  sh(
    d,
    `docker exec -i ${container('db')} sh -c 'PGPASSWORD=$POSTGRES_PASSWORD psql -X -At -v ON_ERROR_STOP=1 -U postgres -d shop'`,
    sql,
  );
const SQLITE_IMAGE = 'ddlab-e2e-sqlite:1';

function compose(): string {
  return `services:
  db:
    image: ${reg}/ddlab/services:latest
    command: ["postgres"]
    environment:
      POSTGRES_PASSWORD: db-secret-pw
      POSTGRES_DB: shop
    volumes: [pgdata:/var/lib/postgresql/data]
  cache:
    image: ${reg}/ddlab/services:latest
    command: ["redis", "--dir", "/data"]
    volumes: [redisdata:/data]
  web:
    image: ${reg}/ddlab/web:latest
    init: true
    volumes: [uploads:/www, notes:/notes]
volumes:
  pgdata: {}
  redisdata: {}
  uploads: {}
  notes: {}
`;
}

async function bootStack(d: FixtureDroplet): Promise<void> {
  await sh(d, `docker pull -q ${reg}/ddlab/services:latest && docker pull -q ${reg}/ddlab/web:latest`);
  // an image with sqlite3 (no registry can be reached: the host's binary + library, committed in)
  const ssh = await lab.ssh(d);
  try {
    await sh(d, 'mkdir -p /root/sqlite /root/stack');
    await ssh.putFile('/usr/bin/sqlite3', '/root/sqlite/sqlite3');
    await ssh.putFile(realpathSync('/lib/x86_64-linux-gnu/libsqlite3.so.0'), '/root/sqlite/libsqlite3.so.0');
  } finally {
    ssh.dispose();
  }
  await sh(
    d,
    `docker create --name sqlite-build ${reg}/ddlab/services:latest >/dev/null && chmod 755 /root/sqlite/sqlite3 && ` +
      'docker cp /root/sqlite/sqlite3 sqlite-build:/usr/local/bin/sqlite3 && docker cp /root/sqlite/libsqlite3.so.0 sqlite-build:/usr/lib/x86_64-linux-gnu/libsqlite3.so.0 && ' +
      `docker commit sqlite-build ${SQLITE_IMAGE} >/dev/null && docker rm sqlite-build >/dev/null`,
  );
  await sh(d, 'cat > /root/stack/compose.yaml', compose());
  await sh(d, `docker compose -p ${APP} -f /root/stack/compose.yaml up -d --quiet-pull 2>&1`);
  for (let i = 0; i < 120; i += 1) {
    const r = await lab.exec(
      d,
      `docker exec ${container('db')} sh -c 'PGPASSWORD=$POSTGRES_PASSWORD psql -X -At -h 127.0.0.1 -U postgres -d shop -c "select 1"'`,
    );
    if (r.code === 0 && r.stdout.trim() === '1') return;
    await new Promise((res) => setTimeout(res, 500));
  }
  throw new Error(`postgres did not start on ${d.name}`);
}

async function seed(d: FixtureDroplet): Promise<void> {
  await psql(
    d,
    `CREATE TABLE items (id serial PRIMARY KEY, name text NOT NULL, price numeric(10,2));
     INSERT INTO items (name, price) SELECT 'item ' || g, (g % 1000) / 10.0 FROM generate_series(1, 20000) g;
     CREATE TABLE orders (id serial PRIMARY KEY, item_id int REFERENCES items(id), qty int);
     INSERT INTO orders (item_id, qty) SELECT (g % 20000) + 1, g % 7 FROM generate_series(1, 5000) g;`,
  );
  await sh(
    d,
    `docker exec -i ${container('cache')} sh -c 'redis-cli >/dev/null'`,
    Array.from({ length: 1000 }, (_, i) => `SET key:${i} value-${i}`).join('\n') + '\n',
  );
  await sh(
    d,
    `docker run --rm -v ${APP}_notes:/notes ${SQLITE_IMAGE} sqlite3 /notes/notes.db "PRAGMA journal_mode=WAL; CREATE TABLE notes(id INTEGER PRIMARY KEY, body TEXT); WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM c WHERE x < 2000) INSERT INTO notes(body) SELECT 'note ' || x FROM c;"`,
  );
  await sh(
    d,
    `docker run --rm -v ${APP}_uploads:/www ${reg}/ddlab/web:latest sh -c 'mkdir -p /www/img && for i in $(seq 1 40); do head -c 30000 /dev/urandom > /www/img/f$i.bin; done; echo hello > /www/index.html'`,
  );
}

interface State {
  pgCounts: string;
  pgChecksum: string;
  redisKeys: string;
  redisSample: string;
  sqlite: string;
  files: string;
}

async function state(d: FixtureDroplet): Promise<State> {
  return {
    pgCounts: await psql(
      d,
      "SELECT 'items', count(*) FROM items UNION ALL SELECT 'orders', count(*) FROM orders ORDER BY 1;",
    ),
    pgChecksum: await psql(d, "SELECT md5(string_agg(id || ':' || name || ':' || price, ',' ORDER BY id)) FROM items;"),
    redisKeys: await sh(d, `docker exec ${container('cache')} redis-cli DBSIZE`),
    redisSample: await sh(d, `docker exec ${container('cache')} redis-cli GET key:777`),
    sqlite: await sh(
      d,
      `docker run --rm -v ${APP}_notes:/notes ${SQLITE_IMAGE} sh -c 'sqlite3 /notes/notes.db "SELECT count(*) FROM notes" && sqlite3 /notes/notes.db .dump | md5sum'`,
    ),
    files: await sh(
      d,
      `docker run --rm -v ${APP}_uploads:/www ${reg}/ddlab/web:latest sh -c 'cd /www && find . -type f | sort | xargs md5sum'`,
    ),
  };
}

const DUMPS = (): string => `
- name: db
  kind: postgres
  service: db
- name: cache
  kind: redis
  service: cache
- name: notes
  kind: sqlite
  volume: notes
  path: notes.db
  service: web
  image: ${SQLITE_IMAGE}
- name: uploads
  kind: volume
  volume: uploads
  image: ${reg}/ddlab/web:latest
`;

function sshInputs(d: FixtureDroplet): Record<string, string> {
  return {
    hosts: d.publicIpv4,
    'ssh-private-key': lab.identity.privateKey,
    'known-hosts': `${d.publicIpv4} ${d.hostKey}`,
  };
}

const spacesInputs = (extra: Record<string, string> = {}): Record<string, string> => labSpaces(lab, PREFIX, extra);
const keys = (prefix: string): Promise<string[]> => labKeys(lab, s3, prefix);

let source: State;

beforeAll(async () => {
  reg = lab.env.LAB_REGISTRY;
  distRoot = buildPrivateBundle('snapshot-and-backup');
  s3 = labS3Client(lab);
  [src, dst] = await Promise.all([
    lab.createDroplet({ name: `bk-src-${RUN}` }),
    lab.createDroplet({ name: `bk-dst-${RUN}` }),
  ]);
  await Promise.all([bootStack(src), bootStack(dst)]);
  await seed(src);
  source = await state(src);
}, 900_000);

afterAll(() => {
  s3?.destroy();
  if (distRoot) rmSync(distRoot, { recursive: true, force: true });
});

describe('snapshot-and-backup: dumps → S3 → restore into a fresh droplet', () => {
  let backupKeys: string[] = [];

  it('backs up postgres, redis, sqlite, a volume and a managed database (database-url), encrypted, and verifies each in a throwaway container', async () => {
    expect(source.pgCounts).toBe('items|20000\norders|5000');
    const dumps = `${DUMPS()}- name: managed
  kind: postgres
  database-url: ${lab.env.LAB_POSTGRES_URL}
  image: ${reg}/ddlab/services:latest
`;
    const r = await runAction('snapshot-and-backup', {
      distRoot,
      timeoutMs: 240_000,
      inputs: {
        app: APP,
        dumps,
        ...sshInputs(src),
        ...spacesInputs({ 'encryption-passphrase': PASSPHRASE, 'encryption-iterations': '100000', verify: 'true' }),
      },
    });
    expect(r.exitCode, r.log).toBe(0);
    backupKeys = (r.outputs['backup-keys'] as string).split(',');
    expect(backupKeys).toHaveLength(5);
    expect(backupKeys.map((k) => k.split('/').slice(0, -1).join('/'))).toEqual(
      ['db', 'cache', 'notes', 'uploads', 'managed'].map((n) => `${PREFIX}/${n}`),
    );
    expect(backupKeys[0]).toMatch(/\.pgdump\.enc$/);
    expect(backupKeys[1]).toMatch(/\.rdb\.gz\.enc$/);
    const verify = JSON.parse(r.outputs['verify'] as string) as {
      name: string;
      ok: boolean;
      summary: string;
      details: string[];
    }[];
    console.log(
      verify.map((v) => `${v.name}: ${v.ok ? 'ok' : 'FAILED'} ${v.summary} [${v.details.join(', ')}]`).join('\n'),
    );
    expect(verify.every((v) => v.ok)).toBe(true);
    const db = verify.find((v) => v.name === 'db');
    expect(db?.details).toEqual(['public.items|20000', 'public.orders|5000']);
    expect(verify.find((v) => v.name === 'cache')?.details).toEqual(['keys|1000']);
    expect(verify.find((v) => v.name === 'notes')?.details).toEqual(['notes|2000']);
    // every backup has its manifest; the manifests carry size, sha256, encryption parameters
    const manifests = JSON.parse(r.outputs['backups'] as string) as {
      key: string;
      sha256: string;
      size: number;
      encryption: { iterations: number };
    }[];
    for (const m of manifests) {
      expect(m.sha256).toMatch(/^[0-9a-f]{64}$/);
      expect(m.encryption.iterations).toBe(100000);
    }
    const stored = await keys(`${PREFIX}/`);
    for (const k of backupKeys) {
      expect(stored).toContain(k);
      expect(stored).toContain(k.replace(/\.[^/]*$/, '.manifest.json'));
    }
    // secrets never reach the log or the summary
    // (the ::add-mask:: commands carry the values to the runner's masker and are never shown)
    const shown = r.log
      .split('\n')
      .filter((l) => !l.startsWith('::add-mask::'))
      .join('\n');
    for (const text of [shown, r.summary]) {
      expect(text).not.toContain(PASSPHRASE);
      expect(text).not.toContain(lab.env.LAB_S3_SECRET_ACCESS_KEY);
      expect(text).not.toContain(new URL(lab.env.LAB_POSTGRES_URL).password);
    }
    // the standard tools read a download: openssl decrypts, pg_restore lists the archive
    const obj = await s3.send(new GetObjectCommand({ Bucket: lab.env.LAB_S3_BUCKET, Key: backupKeys[0] }));
    const file = join(tmpdir(), `dd-e2e-${RUN}.pgdump.enc`);
    writeFileSync(
      file,
      Buffer.from(await (obj.Body as { transformToByteArray(): Promise<Uint8Array> }).transformToByteArray()),
    );
    const listed = spawnSync(
      'sh',
      [
        '-c',
        `openssl enc -d -aes-256-cbc -pbkdf2 -iter 100000 -in ${file} -pass env:BACKUP_PASSPHRASE | pg_restore --list`,
      ],
      {
        env: { ...process.env, BACKUP_PASSPHRASE: PASSPHRASE },
      },
    );
    rmSync(file, { force: true });
    expect(listed.status, listed.stderr.toString()).toBe(0);
    expect(listed.stdout.toString()).toMatch(/TABLE DATA public items/);
    // no throwaway container left behind
    expect(await sh(src, 'docker ps -aq --filter label=droplet-deploy.role=verify')).toBe('');
  });

  it('restore needs the confirmation input and changes nothing without it', async () => {
    const r = await runAction('snapshot-and-backup', {
      distRoot,
      timeoutMs: 240_000,
      inputs: {
        app: APP,
        mode: 'restore',
        dump: 'db',
        dumps: DUMPS(),
        ...sshInputs(dst),
        ...spacesInputs({ 'encryption-passphrase': PASSPHRASE }),
      },
    });
    expect(r.exitCode).toBe(1);
    expect(r.errors.join('\n')).toMatch(
      /set input "confirm-restore" to the app name \("shop"\) to confirm\. Nothing was changed\./,
    );
    await expect(psql(dst, 'SELECT count(*) FROM items;')).rejects.toThrow(/does not exist/);
  });

  it('restores each dump (latest) into the fresh droplet: row counts, table checksum, keys, sqlite rows and volume files match', async () => {
    for (const dump of ['db', 'cache', 'notes', 'uploads']) {
      const r = await runAction('snapshot-and-backup', {
        distRoot,
        timeoutMs: 240_000,
        inputs: {
          app: APP,
          mode: 'restore',
          dump,
          'confirm-restore': APP,
          dumps: DUMPS(),
          ...sshInputs(dst),
          ...spacesInputs({ 'encryption-passphrase': PASSPHRASE }),
        },
      });
      expect(r.exitCode, r.log).toBe(0);
      expect(backupKeys).toContain(r.outputs['restored-key']);
    }
    const restored = await state(dst);
    console.log(`source:   ${JSON.stringify({ ...source, files: `${source.files.split('\n').length} files` })}`);
    console.log(`restored: ${JSON.stringify({ ...restored, files: `${restored.files.split('\n').length} files` })}`);
    expect(restored).toEqual(source);
    // the services came back after the restores that stopped them
    const running = await sh(
      dst,
      `docker ps --filter label=com.docker.compose.project=${APP} --format '{{.Label "com.docker.compose.service"}}' | sort`,
    );
    expect(running.split('\n')).toEqual(['cache', 'db', 'web']);
  });

  it('mode verify checks a stored backup without touching the live service', async () => {
    const r = await runAction('snapshot-and-backup', {
      distRoot,
      timeoutMs: 240_000,
      inputs: {
        app: APP,
        mode: 'verify',
        dump: 'db',
        dumps: DUMPS(),
        ...sshInputs(dst),
        ...spacesInputs({ 'encryption-passphrase': 'wrong passphrase' }),
      },
    });
    expect(r.exitCode).toBe(1);
    expect(r.errors.join('\n')).toMatch(/wrong passphrase or a corrupted backup/);
  });

  it('retention keep-last 1 keeps exactly the newest complete backup, and never the only one away', async () => {
    const oneDump = `- name: uploads\n  kind: volume\n  volume: uploads\n  image: ${reg}/ddlab/web:latest\n`;
    const first = await runAction('snapshot-and-backup', {
      distRoot,
      timeoutMs: 240_000,
      inputs: { app: APP, dumps: oneDump, ...sshInputs(src), ...spacesInputs({ 'keep-last': '1' }) },
    });
    expect(first.exitCode, first.log).toBe(0);
    const second = await runAction('snapshot-and-backup', {
      distRoot,
      timeoutMs: 240_000,
      inputs: { app: APP, dumps: oneDump, ...sshInputs(src), ...spacesInputs({ 'keep-last': '1', 'max-age': '1m' }) },
    });
    expect(second.exitCode, second.log).toBe(0);
    const left = (await keys(`${PREFIX}/uploads/`)).filter((k) => k.endsWith('.manifest.json'));
    expect(left).toEqual([second.outputs['manifest-keys'] as string]);
    // the second run deleted exactly the first run's backup (the one before it went in the first run)
    expect(second.outputs['deleted-backup-keys']).toBe(first.outputs['manifest-keys']);
    // the one backup left is complete and usable
    const third = await runAction('snapshot-and-backup', {
      distRoot,
      timeoutMs: 240_000,
      inputs: { app: APP, mode: 'verify', dump: 'uploads', dumps: oneDump, ...sshInputs(src), ...spacesInputs() },
    });
    expect(third.exitCode, third.log).toBe(0);
    expect(third.outputs['backup-key']).toBe(second.outputs['backup-keys']);
  });

  it('S3 killed mid-upload: the step fails clearly, no manifest and no object are left', async () => {
    const own: S3rverProcess = await startS3rver('dd-kill');
    try {
      await sh(
        src,
        `docker run --rm -v ${APP}_uploads:/www ${reg}/ddlab/web:latest sh -c 'head -c 200000000 /dev/urandom > /www/big.bin'`,
      );
      let killed = false;
      const r = await runAction('snapshot-and-backup', {
        distRoot,
        timeoutMs: 240_000,
        inputs: {
          app: APP,
          dumps: `- name: big\n  kind: volume\n  volume: uploads\n  image: ${reg}/ddlab/web:latest\n  compression: none\n`,
          ...sshInputs(src),
          'spaces-endpoint': own.endpoint,
          'spaces-bucket': own.bucket,
          'spaces-prefix': 'kill',
          'spaces-access-key-id': own.accessKeyId,
          'spaces-secret-access-key': own.secretAccessKey,
        },
        onLine: (line) => {
          if (line.startsWith('::error::'))
            console.error(`[kill-test ${new Date().toISOString().slice(11, 23)}] ${line}`);
          if (!killed && line.includes('dump "big" (volume)')) {
            killed = true;
            // pull the plug as soon as the first part has landed (a fixed delay raced the
            // faster pipeline: 120 MB can be through in about a second)
            void (async () => {
              for (let i = 0; i < 1200; i += 1) {
                const files = spawnSync('find', [own.dir, '-type', 'f']).stdout.toString().trim();
                if (files) break;
                await new Promise((r) => setTimeout(r, 25));
              }
              await own.kill();
            })();
          }
        },
      });
      expect(killed).toBe(true);
      expect(r.exitCode).toBe(1);
      console.log(r.errors.join('\n'));
      expect(r.errors.join('\n')).toMatch(
        /dump "big" \(volume\) from volume shop_uploads on .* failed: .*No manifest was written, so this attempt does not count as a backup/s,
      );
      // the cause named is the S3 failure, not the echo of it in the streams
      expect(r.errors.join('\n')).not.toMatch(/ABORT_ERR|Premature close|was aborted \(/);
      await own.start();
      const client = new S3Client({
        endpoint: own.endpoint,
        region: 'us-east-1',
        forcePathStyle: true,
        credentials: { accessKeyId: own.accessKeyId, secretAccessKey: own.secretAccessKey },
      });
      const listed = await client.send(new ListObjectsV2Command({ Bucket: own.bucket, Prefix: 'kill/' }));
      expect(listed.Contents ?? []).toEqual([]);
      client.destroy();
    } finally {
      await own.stop();
      await sh(src, `docker run --rm -v ${APP}_uploads:/www ${reg}/ddlab/web:latest rm -f /www/big.bin`);
    }
  });
});
