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
    });
    expect(by['web']).toEqual({
      name: 'web',
      publishedPorts: [],
      replicas: 2,
      dependsOn: ['db'],
      hasHealthcheck: true,
    });
    expect(by['worker']?.publishedPorts).toEqual([]); // a bare container port publishes nothing fixed
    expect(by['worker']?.dependsOn).toEqual(['db']);
    expect(by['db']?.pinnedIdentity).toBe('container_name: shop-db');
    expect(by['legacy']).toMatchObject({ publishedPorts: ['127.0.0.1:5000:5000/tcp'], replicas: 3 });
    expect(by['hostnet']?.pinnedIdentity).toBe('network_mode: host');
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
