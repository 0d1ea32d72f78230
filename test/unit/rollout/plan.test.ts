import { describe, expect, it } from 'vitest';

import {
  batchCount,
  dependencyOrder,
  parseBatchSize,
  parseServiceFacts,
  parseStrategies,
  planBatches,
  planServices,
} from '../../../src/lib/rollout/plan.js';

// Shaped like `docker compose config` output (v2 normalises ports to objects; v1 keeps strings).
const CONFIG = `
name: shop
services:
  nginx:
    image: nginx
    depends_on:
      web:
        condition: service_healthy
        required: true
    ports:
      - mode: ingress
        target: 80
        published: "8080"
        protocol: tcp
  web:
    image: web
    deploy:
      replicas: 2
    depends_on:
      db:
        condition: service_started
    healthcheck:
      test: ["CMD", "true"]
    expose: ["80"]
  worker:
    image: web
    depends_on: [db]
    ports: ["9000"]
  db:
    image: postgres
    container_name: shop-db
  legacy:
    image: x
    ports: ["127.0.0.1:5000:5000/tcp"]
    scale: 3
  hostnet:
    image: x
    network_mode: host
`;

describe('parseServiceFacts', () => {
  const facts = parseServiceFacts(CONFIG);
  const by = Object.fromEntries(facts.map((f) => [f.name, f]));

  it('reads published ports, replicas, depends_on, healthcheck, pinned identity', () => {
    expect(by['nginx']).toEqual({
      name: 'nginx',
      publishedPorts: ['8080:80'],
      dependsOn: ['web'],
      hasHealthcheck: false,
      networks: [{ key: 'default', external: false, subnets: [] }],
    });
    expect(by['web']).toEqual({
      name: 'web',
      publishedPorts: [],
      replicas: 2,
      dependsOn: ['db'],
      hasHealthcheck: true,
      networks: [{ key: 'default', external: false, subnets: [] }],
    });
    expect(by['worker']?.publishedPorts).toEqual([]); // a bare container port publishes nothing fixed
    expect(by['worker']?.dependsOn).toEqual(['db']);
    expect(by['db']?.pinnedIdentity).toBe('container_name: shop-db');
    expect(by['legacy']).toMatchObject({ publishedPorts: ['127.0.0.1:5000:5000/tcp'], replicas: 3 });
    expect(by['hostnet']?.pinnedIdentity).toBe('network_mode: host');
  });

  it("reads each service's networks: Docker name, external, configured subnets; none with network_mode", () => {
    // Compose v2: every network has its `name:`; a service lists its networks as a map
    const v2 = `
name: shop
services:
  web:
    image: web
    networks:
      default: null
      back:
        aliases: [api]
  sidecar:
    image: x
    network_mode: service:web
  tools:
    image: x
    networks: [ext]
networks:
  default:
    name: shop_default
  back:
    name: shop_back
    ipam:
      config:
        - subnet: 172.20.0.0/24
          gateway: 172.20.0.1
        - subnet: fd00:20::/64
  ext:
    name: shared
    external: true
`;
    const facts = Object.fromEntries(parseServiceFacts(v2).map((f) => [f.name, f.networks]));
    expect(facts['web']).toEqual([
      { key: 'back', name: 'shop_back', external: false, subnets: ['172.20.0.0/24', 'fd00:20::/64'] },
      { key: 'default', name: 'shop_default', external: false, subnets: [] },
    ]);
    expect(facts['sidecar']).toEqual([]);
    expect(facts['tools']).toEqual([{ key: 'ext', name: 'shared', external: true, subnets: [] }]);
    // Compose v1: no `name:` (Docker's is <project>_<key>), `external: {name: …}`, list form
    const v1 = `
version: '3.8'
services:
  web:
    image: web
    networks: [back, old]
networks:
  back:
    ipam:
      config: [{subnet: 10.5.0.0/16}]
  old:
    external:
      name: legacy_net
`;
    expect(parseServiceFacts(v1)[0]?.networks).toEqual([
      { key: 'back', external: false, subnets: ['10.5.0.0/16'] },
      { key: 'old', name: 'legacy_net', external: true, subnets: [] },
    ]);
  });

  it('leaves out services of profiles that are not enabled (Compose v1 prints them)', () => {
    const v1 =
      'services:\n  web: {image: x}\n  debug: {image: x, profiles: [debug]}\n  tools: {image: x, profiles: [tools]}\n';
    expect(parseServiceFacts(v1, ['tools']).map((f) => f.name)).toEqual(['web', 'tools']);
    expect(parseServiceFacts(v1, []).map((f) => f.name)).toEqual(['web']);
    expect(parseServiceFacts(v1).map((f) => f.name)).toEqual(['web', 'debug', 'tools']);
  });

  it('orders by dependencies, ties by name', () => {
    expect(dependencyOrder(facts)).toEqual(['db', 'hostnet', 'legacy', 'web', 'nginx', 'worker']);
  });

  it('refuses a cycle', () => {
    const cyc = parseServiceFacts('services:\n  a: {image: x, depends_on: [b]}\n  b: {image: x, depends_on: [a]}\n');
    expect(() => dependencyOrder(cyc)).toThrow(/cycle: a → b → a/);
  });
});

describe('planServices', () => {
  const facts = parseServiceFacts(CONFIG);

  it('default: every service in dependency order; start-first unless two copies cannot coexist', () => {
    const plan = planServices(facts, [], new Map());
    expect(plan.map((p) => [p.name, p.strategy])).toEqual([
      ['db', 'recreate'],
      ['hostnet', 'recreate'],
      ['legacy', 'recreate'],
      ['web', 'start-first'],
      ['nginx', 'recreate'],
      ['worker', 'start-first'],
    ]);
    expect(plan.find((p) => p.name === 'nginx')?.reason).toBe(
      'publishes host port 8080:80: two copies cannot run side by side, so it is recreated (a brief gap)',
    );
  });

  it('keeps the order the user gave and applies overrides', () => {
    const plan = planServices(facts, ['worker', 'web'], parseStrategies('strategy', 'worker=recreate'));
    expect(plan.map((p) => [p.name, p.strategy, p.reason])).toEqual([
      ['worker', 'recreate', 'strategy recreate was asked for'],
      ['web', 'start-first', 'no published host ports'],
    ]);
  });

  it('never runs start-first for a service with published ports, even when asked', () => {
    const plan = planServices(facts, ['nginx'], parseStrategies('strategy', 'start-first'));
    expect(plan[0]?.strategy).toBe('recreate');
  });

  it('names an unknown service', () => {
    expect(() => planServices(facts, ['api'], new Map())).toThrow(
      'service "api" is not in the release\'s Compose file (it has: db, hostnet, legacy, nginx, web, worker)',
    );
    expect(() => planServices(facts, [], parseStrategies('strategy', 'api=recreate'))).toThrow(/service "api"/);
  });
});

// A stack with data: PostgreSQL on a named volume, an app writing uploads to a bind mount,
// nginx reading its config read-only, a cache on an anonymous volume and tmpfs.
const DATA_V2 = `
services:
  db:
    image: postgres
    volumes:
      - type: volume
        source: pgdata
        target: /var/lib/postgresql/data
        volume: {}
  app:
    image: app
    volumes:
      - type: bind
        source: /opt/shop/uploads
        target: /srv/uploads
        bind:
          create_host_path: true
      - type: bind
        source: /opt/shop/live/app.conf
        target: /etc/app.conf
        read_only: true
  proxy:
    image: nginx
    expose: ["80"]
    volumes:
      - type: bind
        source: /opt/shop/live/nginx.conf
        target: /etc/nginx/conf.d/default.conf
        read_only: true
  cache:
    image: redis
    volumes:
      - type: volume
        target: /data
        volume: {}
      - type: tmpfs
        target: /tmp
  reports:
    image: app
    volumes:
      - type: volume
        source: pgdata
        target: /backup
        read_only: true
  sidecar:
    image: app
    volumes_from:
      - db
  reader:
    image: app
    volumes_from:
      - db:ro
volumes:
  pgdata: {}
`;

// Compose v1's `config` keeps the short syntax.
const DATA_V1 = `
version: "3.8"
services:
  db:
    image: postgres
    volumes:
    - pgdata:/var/lib/postgresql/data:rw
  app:
    image: app
    volumes:
    - /opt/shop/uploads:/srv/uploads:rw
    - /opt/shop/live/app.conf:/etc/app.conf:ro
  cache:
    image: redis
    volumes:
    - /data
volumes:
  pgdata: {}
`;

describe('services that write to shared data (named volumes, writable bind mounts)', () => {
  it('reads the writable mounts a second container would share (Compose v2 long syntax)', () => {
    const by = Object.fromEntries(parseServiceFacts(DATA_V2).map((f) => [f.name, f]));
    expect(by['db']?.sharedData).toEqual(['volume pgdata at /var/lib/postgresql/data']);
    expect(by['app']?.sharedData).toEqual(['bind mount /opt/shop/uploads at /srv/uploads']);
    expect(by['sidecar']?.sharedData).toEqual(['volumes_from db']);
    // read-only mounts, anonymous volumes and tmpfs are not shared writable data
    for (const name of ['proxy', 'cache', 'reports', 'reader']) expect(by[name]?.sharedData).toBeUndefined();
  });

  it('reads the same from Compose v1 short syntax', () => {
    const by = Object.fromEntries(parseServiceFacts(DATA_V1).map((f) => [f.name, f]));
    expect(by['db']?.sharedData).toEqual(['volume pgdata at /var/lib/postgresql/data']);
    expect(by['app']?.sharedData).toEqual(['bind mount /opt/shop/uploads at /srv/uploads']);
    expect(by['cache']?.sharedData).toBeUndefined();
  });

  it('defaults them to recreate and says why; read-only and per-container mounts stay start-first', () => {
    const plan = planServices(parseServiceFacts(DATA_V2), [], new Map());
    expect(Object.fromEntries(plan.map((p) => [p.name, p.strategy]))).toEqual({
      db: 'recreate',
      app: 'recreate',
      sidecar: 'recreate',
      proxy: 'start-first',
      cache: 'start-first',
      reports: 'start-first',
      reader: 'start-first',
    });
    expect(plan.find((p) => p.name === 'db')?.reason).toBe(
      'writes to volume pgdata at /var/lib/postgresql/data: two containers must not run on the same data, so it is recreated (a brief gap; "strategy: db=start-first" overrides)',
    );
  });

  it('start-first for all (`*`) does not override the data rule; naming the service does', () => {
    const all = planServices(parseServiceFacts(DATA_V2), ['db', 'app'], parseStrategies('strategy', 'start-first'));
    expect(all.map((p) => [p.name, p.strategy])).toEqual([
      ['db', 'recreate'],
      ['app', 'recreate'],
    ]);
    const named = planServices(
      parseServiceFacts(DATA_V2),
      ['db', 'app'],
      parseStrategies('strategy', 'start-first, app=start-first'),
    );
    expect(named.map((p) => [p.name, p.strategy, p.reason])).toEqual([
      ['db', 'recreate', expect.stringMatching(/^writes to volume pgdata/)],
      [
        'app',
        'start-first',
        'strategy start-first was asked for it, although it writes to bind mount /opt/shop/uploads at /srv/uploads',
      ],
    ]);
  });

  it('published ports still win over a named start-first', () => {
    const facts = parseServiceFacts(
      'services:\n  db:\n    image: postgres\n    ports: ["5432:5432"]\n    volumes: ["pgdata:/var/lib/postgresql/data"]\n',
    );
    const plan = planServices(facts, [], parseStrategies('strategy', 'db=start-first'));
    expect(plan[0]?.strategy).toBe('recreate');
    expect(plan[0]?.reason).toMatch(/^publishes host port 5432:5432/);
  });
});

describe('parseStrategies', () => {
  it.each([
    ['start-first', [['*', 'start-first']]],
    [
      'web=start-first, worker=recreate',
      [
        ['web', 'start-first'],
        ['worker', 'recreate'],
      ],
    ],
    [
      'recreate\nweb = start-first',
      [
        ['*', 'recreate'],
        ['web', 'start-first'],
      ],
    ],
    ['', []],
  ])('%j', (text, expected) => {
    expect([...parseStrategies('strategy', text)]).toEqual(expected);
  });

  it.each([
    ['web=rolling', /strategy must be one of start-first, recreate/],
    ['web=recreate,web=start-first', /"web" appears twice/],
  ])('rejects %j', (text, message) => {
    expect(() => parseStrategies('strategy', text)).toThrow(message);
  });
});

describe('batches', () => {
  it.each([
    ['2', 4, 2],
    ['1', 4, 1],
    ['10', 4, 4],
    ['50%', 4, 2],
    ['25%', 6, 2], // 1.5 rounds up
    ['1%', 6, 1],
    ['100%', 6, 6],
    ['33%', 3, 1], // 0.99 → 1
    ['34%', 3, 2],
  ])('batch-size %s of %i droplets → %i per batch', (text, fleet, per) => {
    expect(batchCount(parseBatchSize('batch-size', text), fleet)).toBe(per);
  });

  it('cuts a fleet in order, the last batch smaller', () => {
    expect(planBatches(['a', 'b', 'c', 'd', 'e'], { kind: 'count', count: 2 })).toEqual([
      ['a', 'b'],
      ['c', 'd'],
      ['e'],
    ]);
    expect(planBatches([], { kind: 'count', count: 2 })).toEqual([]);
  });

  it.each(['0', '-1', '0%', '101%', 'two', '2.5', ''])('rejects batch-size %j', (text) => {
    expect(() => parseBatchSize('batch-size', text)).toThrow(/input "batch-size"/);
  });
});
