// snapshot-and-backup, MySQL/MariaDB: the action (a private bundle of the current sources, run as
// the runner runs it) against a real lab droplet whose Compose stack runs MariaDB 10.11 (the lab's
// on-demand Debian image ddlab/mariadb, pushed to the lab registry by this file) twice:
//
// - service `mdb`, dump kind `mariadb`: the image as Debian ships it (mariadb, mariadb-dump and
//   the mysql/mysqldump names);
// - service `my`, dump kind `mysql`: the same image with the MariaDB program names removed, so
//   only `mysql` and `mysqldump` exist, as in MySQL's images.
//
// - backup of both to the lab S3 with verify (a throwaway server from the service's image) →
//   exact row counts of every table;
// - `docker compose down -v` + `up` (a fresh stack, empty volumes) → restore of each → row counts
//   and a checksum of every column of a table with utf8mb4 text and binary values match; the
//   view, trigger and procedure are back;
// - data changed after the backup (rows deleted, a table dropped) → restore → identical again;
// - mode verify on the stored backup;
// - a dump whose password does not match fails clearly and leaves no manifest;
// - the password never reaches the droplet's process list while a dump runs, nor the log.
import { rmSync } from 'node:fs';

import type { S3Client } from '@aws-sdk/client-s3';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import { ensureImage } from '../lab/images.js';
import { type FixtureDroplet, useLab } from '../lab/fixture.js';
import { docker } from '../lab/util.js';
import { buildPrivateBundle } from '../support/private-bundle.js';
import { labKeys, labS3Client, labSpaces } from '../support/lab-s3.js';
import { runAction } from '../support/run-action.js';

const lab = useLab();
const APP = 'shop';
const RUN = Math.random().toString(36).slice(2, 8);
const PREFIX = `e2e-${RUN}/${APP}`;
const ROOT_PW = `r00t "pw" with 'quotes' $HOME \\ ${RUN}`;
const MYSQL_NAMES_IMAGE = 'ddlab-e2e-mysqlnames:1';
let d: FixtureDroplet;
let reg: string;
let s3: S3Client;
let distRoot: string;

async function sh(command: string, stdin?: string): Promise<string> {
  const r = await lab.exec(d, command, stdin === undefined ? {} : { stdin });
  if (r.code !== 0) throw new Error(`${d.name}: ${command}: exit ${r.code}: ${r.stderr || r.stdout}`);
  return r.stdout.trim();
}

const container = (service: string): string =>
  `$(docker ps -q --filter label=com.docker.compose.project=${APP} --filter label=com.docker.compose.service=${service})`;
/** SQL through the socket as root (unix_socket authentication: no password needed inside). */
const sql = (service: string, text: string): Promise<string> =>
  sh(`docker exec -i ${container(service)} mysql -uroot -N -B --default-character-set=utf8mb4 shop`, text);

function compose(): string {
  return `services:
  mdb:
    image: ${reg}/ddlab/mariadb:latest
    environment:
      MARIADB_ROOT_PASSWORD: ${JSON.stringify(ROOT_PW)}
      MARIADB_DATABASE: shop
    volumes: [mdbdata:/var/lib/mysql]
  my:
    image: ${MYSQL_NAMES_IMAGE}
    environment:
      MYSQL_ROOT_PASSWORD: ${JSON.stringify(ROOT_PW)}
      MYSQL_DATABASE: shop
    volumes: [mydata:/var/lib/mysql]
volumes:
  mdbdata: {}
  mydata: {}
`;
}

async function up(): Promise<void> {
  await sh(`docker compose -p ${APP} -f /root/stack/compose.yaml up -d --quiet-pull 2>&1`);
  for (const service of ['mdb', 'my']) {
    for (let i = 0; ; i += 1) {
      const r = await lab.exec(d, `docker exec ${container(service)} mysql -uroot -N -B -e 'SELECT 1' shop`);
      if (r.code === 0 && r.stdout.trim() === '1') break;
      if (i > 240) throw new Error(`${service} did not start on ${d.name}: ${r.stderr}`);
      await new Promise((res) => setTimeout(res, 500));
    }
  }
}

const SEED = `
CREATE TABLE items (id INT PRIMARY KEY AUTO_INCREMENT, name VARCHAR(100) NOT NULL, price DECIMAL(10,2), raw VARBINARY(64), note TEXT) DEFAULT CHARSET = utf8mb4;
INSERT INTO items (name, price, raw, note)
  SELECT CONCAT('item ', n), (n % 1000) / 10, UNHEX(SHA2(n, 256)), CONCAT('naïve café 🍕 ', n, ' tab\\there ''quote'' back\\\\slash')
  FROM (SELECT seq AS n FROM seq_1_to_20000) g;
UPDATE items SET raw = 0x00270a5c0d1a22ff WHERE id = 7;
CREATE TABLE orders (id INT PRIMARY KEY AUTO_INCREMENT, item_id INT NOT NULL, qty INT, FOREIGN KEY (item_id) REFERENCES items(id));
INSERT INTO orders (item_id, qty) SELECT (seq % 20000) + 1, seq % 7 FROM seq_1_to_5000;
CREATE TABLE audit (id INT PRIMARY KEY AUTO_INCREMENT, item_id INT);
CREATE TRIGGER items_audit AFTER UPDATE ON items FOR EACH ROW INSERT INTO audit (item_id) VALUES (NEW.id);
CREATE VIEW cheap AS SELECT id, name FROM items WHERE price < 1;
CREATE PROCEDURE item_count() SELECT COUNT(*) FROM items;
`;

interface State {
  counts: string;
  checksum: string;
  objects: string;
}

async function state(service: string): Promise<State> {
  return {
    counts: await sql(
      service,
      "SELECT 'items', COUNT(*) FROM items UNION ALL SELECT 'orders', COUNT(*) FROM orders UNION ALL SELECT 'audit', COUNT(*) FROM audit;",
    ),
    checksum: await sql(
      service,
      "SET SESSION group_concat_max_len = 67108864; SELECT MD5(GROUP_CONCAT(CONCAT_WS(':', id, HEX(name), price, HEX(raw), HEX(note)) ORDER BY id SEPARATOR ',')) FROM items;",
    ),
    objects: await sql(
      service,
      "SELECT CONCAT(table_type, ' ', table_name) FROM information_schema.tables WHERE table_schema = 'shop' UNION ALL " +
        "SELECT CONCAT('TRIGGER ', trigger_name) FROM information_schema.triggers WHERE trigger_schema = 'shop' UNION ALL " +
        "SELECT CONCAT(routine_type, ' ', routine_name) FROM information_schema.routines WHERE routine_schema = 'shop' ORDER BY 1;",
    ),
  };
}

const DUMPS = `
- name: mdb
  kind: mariadb
  service: mdb
  database: shop
- name: my
  kind: mysql
  service: my
  database: shop
`;

function inputs(extra: Record<string, string> = {}): Record<string, string> {
  return {
    app: APP,
    dumps: DUMPS,
    hosts: d.publicIpv4,
    'ssh-private-key': lab.identity.privateKey,
    'known-hosts': `${d.publicIpv4} ${d.hostKey}`,
    ...labSpaces(lab, PREFIX, extra),
  };
}

const run = (extra: Record<string, string>) =>
  runAction('snapshot-and-backup', { timeoutMs: 300_000, distRoot, inputs: inputs(extra) });

const keys = (prefix: string): Promise<string[]> => labKeys(lab, s3, prefix);

const source: Record<string, State> = {};

beforeAll(async () => {
  reg = lab.env.LAB_REGISTRY;
  s3 = labS3Client(lab);
  distRoot = buildPrivateBundle('snapshot-and-backup');
  const [built, droplet] = await Promise.all([ensureImage('mariadb'), lab.createDroplet({ name: `bk-mdb-${RUN}` })]);
  d = droplet;
  // into the lab registry under the name droplets pull (the push name carries the host's port)
  const pushName = `${lab.info.registryForHost}/ddlab/mariadb:latest`;
  await docker(['tag', built.tag, pushName]);
  try {
    await docker(['push', pushName], { timeoutMs: 300_000 });
  } finally {
    await docker(['rmi', pushName], { allowFail: true });
  }
  await sh(`docker pull -q ${reg}/ddlab/mariadb:latest`);
  // MySQL's client names only: mysql and mysqldump as programs of their own, no mariadb*
  await sh(
    `docker run --name mysqlnames-build --entrypoint sh ${reg}/ddlab/mariadb:latest -c ` +
      `'cd /usr/bin && cp --remove-destination mariadb mysql && cp --remove-destination mariadb-dump mysqldump && rm -f mariadb mariadb-dump' && ` +
      `docker commit --change 'ENTRYPOINT ["/usr/local/bin/lab-mariadb"]' --change 'CMD ["mariadbd"]' mysqlnames-build ${MYSQL_NAMES_IMAGE} >/dev/null && docker rm mysqlnames-build >/dev/null`,
  );
  expect(
    await sh(
      `docker run --rm --entrypoint sh ${MYSQL_NAMES_IMAGE} -c 'for p in mariadb mariadb-dump mysql mysqldump; do command -v $p || true; done'`,
    ),
  ).toBe('/usr/bin/mysql\n/usr/bin/mysqldump');
  await sh('mkdir -p /root/stack && cat > /root/stack/compose.yaml', compose());
  await up();
  for (const service of ['mdb', 'my']) {
    await sql(service, SEED);
    await sql(service, 'UPDATE items SET price = price + 1 WHERE id <= 3;');
    source[service] = await state(service);
  }
}, 900_000);

afterAll(() => {
  s3?.destroy();
  if (distRoot) rmSync(distRoot, { recursive: true, force: true });
});

describe('snapshot-and-backup: MariaDB and MySQL-named clients → S3 → restore', () => {
  let backupKeys: string[] = [];

  it('backs up both services (gzip) and verifies each in a throwaway server: exact row counts', async () => {
    expect(source['mdb']?.counts).toBe('items\t20000\norders\t5000\naudit\t3');
    expect(source['my']).toEqual(source['mdb']);
    // hold a write lock on mdb's items for 4 s, so its dump is sure to be running for a while, and
    // watch the droplet's process list meanwhile: the password must not show up in it
    await sh(`docker exec -d ${container('mdb')} mysql -uroot shop -e 'LOCK TABLES items WRITE; DO SLEEP(4);'`);
    for (let i = 0; ; i += 1) {
      const n = await sql('mdb', "SELECT COUNT(*) FROM information_schema.processlist WHERE info LIKE 'DO SLEEP%';");
      if (n === '1') break;
      if (i > 100) throw new Error('the lock session did not start');
      await new Promise((res) => setTimeout(res, 50));
    }
    let watching = true;
    const seen: string[] = [];
    const watcher = (async () => {
      for (let i = 0; watching && i < 2000; i += 1) {
        const ps = await lab.exec(d, 'ps -eo args=');
        const dumps = ps.stdout.split('\n').filter((l) => /mysqldump|mariadb-dump/.test(l));
        if (dumps.length) seen.push(...dumps);
        await new Promise((res) => setTimeout(res, 50));
      }
    })();
    const r = await run({ verify: 'true' });
    watching = false;
    await watcher;
    expect(r.exitCode, r.log).toBe(0);
    backupKeys = (r.outputs['backup-keys'] as string).split(',');
    expect(backupKeys.map((k) => k.split('/').slice(0, -1).join('/'))).toEqual([`${PREFIX}/mdb`, `${PREFIX}/my`]);
    for (const k of backupKeys) expect(k).toMatch(/\.sql\.gz$/);
    const verify = JSON.parse(r.outputs['verify'] as string) as {
      name: string;
      ok: boolean;
      summary: string;
      details: string[];
    }[];
    console.log(
      verify.map((v) => `${v.name}: ${v.ok ? 'ok' : 'FAILED'} ${v.summary} [${v.details.join(', ')}]`).join('\n'),
    );
    for (const name of ['mdb', 'my']) {
      const v = verify.find((x) => x.name === name);
      expect(v?.ok).toBe(true);
      expect(v?.details).toEqual(['shop.audit|3', 'shop.items|20000', 'shop.orders|5000']);
    }
    const stored = await keys(`${PREFIX}/`);
    for (const k of backupKeys) expect(stored).toContain(k.replace(/\.[^/]*$/, '.manifest.json'));
    expect(r.log).not.toContain(ROOT_PW);
    expect(r.summary).not.toContain(ROOT_PW);
    console.log(`dump processes seen on the droplet: ${seen.length}, e.g. ${seen[0] ?? '-'}`);
    expect(seen.some((l) => l.includes('--databases shop'))).toBe(true);
    for (const l of seen) expect(l).not.toContain('r00t');
    expect(await sh('docker ps -aq --filter label=droplet-deploy.role=verify')).toBe('');
  });

  it('restores both into a fresh stack (compose down -v, up): row counts, table checksum, view/trigger/procedure match', async () => {
    await sh(`docker compose -p ${APP} -f /root/stack/compose.yaml down -v 2>&1`);
    await up();
    await expect(sql('mdb', 'SELECT COUNT(*) FROM items;')).rejects.toThrow(/doesn't exist/);
    for (const dump of ['mdb', 'my']) {
      const r = await run({ mode: 'restore', dump, 'confirm-restore': APP });
      expect(r.exitCode, r.log).toBe(0);
      expect(backupKeys).toContain(r.outputs['restored-key']);
    }
    for (const service of ['mdb', 'my']) {
      const restored = await state(service);
      console.log(`${service} restored: ${JSON.stringify(restored)}`);
      expect(restored).toEqual(source[service]);
    }
  });

  it('restores over changed data: deleted rows and a dropped table come back, the same checksum', async () => {
    await sql(
      'mdb',
      'UPDATE items SET name = CONCAT(name, "x") WHERE id < 50; DELETE FROM orders WHERE id > 100; DROP TABLE audit;',
    );
    expect(await sql('mdb', 'SELECT COUNT(*) FROM orders;')).toBe('100');
    const r = await run({ mode: 'restore', dump: 'mdb', 'confirm-restore': APP });
    expect(r.exitCode, r.log).toBe(0);
    expect(await state('mdb')).toEqual(source['mdb']);
  });

  it('mode verify checks the stored backup in a throwaway server', async () => {
    const r = await run({ mode: 'verify', dump: 'my' });
    expect(r.exitCode, r.log).toBe(0);
    const verify = JSON.parse(r.outputs['verify'] as string) as { ok: boolean; details: string[] }[];
    expect(verify[0]?.details).toEqual(['shop.audit|3', 'shop.items|20000', 'shop.orders|5000']);
    expect(await sh('docker ps -aq --filter label=droplet-deploy.role=verify')).toBe('');
  });

  it('a password that does not match fails the dump clearly and leaves no manifest', async () => {
    await sh(
      `docker exec ${container('mdb')} mysql -uroot -e "ALTER USER 'root'@'localhost' IDENTIFIED VIA mysql_native_password USING PASSWORD('other')"`,
    );
    try {
      const before = await keys(`${PREFIX}/mdb/`);
      const r = await run({ dumps: `- name: mdb\n  kind: mariadb\n  service: mdb\n  database: shop\n` });
      expect(r.exitCode).toBe(1);
      console.log(r.errors.join('\n'));
      expect(r.errors.join('\n')).toMatch(/dump "mdb" \(mariadb\).*failed.*Access denied for user 'root'@'localhost'/s);
      expect(await keys(`${PREFIX}/mdb/`)).toEqual(before);
    } finally {
      await sh(
        `docker exec ${container('mdb')} sh -c 'MYSQL_PWD=other mysql -uroot -e "ALTER USER root@localhost IDENTIFIED VIA unix_socket"'`,
      ).catch(() => undefined);
    }
  });
});
