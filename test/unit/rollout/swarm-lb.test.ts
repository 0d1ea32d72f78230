import { describe, expect, it } from 'vitest';

import { render } from '../../../src/lib/commands/cmd.js';
import { healthProbe, parseLbHealthCheck, probePassed } from '../../../src/lib/rollout/lb.js';
import {
  parseRouteSource,
  parseServiceList,
  parseSwarmState,
  parseTaskErrors,
  parseUpdateStatus,
  type ServiceUpdate,
  stackDeploy,
  stackVerdict,
  swarmJoin,
} from '../../../src/lib/rollout/swarm.js';

describe('swarm commands', () => {
  it('joins with the token redacted in logs', () => {
    const c = swarmJoin('SWMTKN-1-abc', '10.0.0.2', '10.0.0.3');
    expect(render(c)).toBe('docker swarm join --token SWMTKN-1-abc --advertise-addr 10.0.0.3 10.0.0.2\\:2377');
    expect(render(c, 'log')).toBe('docker swarm join --token [REDACTED] --advertise-addr 10.0.0.3 10.0.0.2\\:2377');
  });

  it('deploys the stack with the release .env sourced, never in argv', () => {
    const c = stackDeploy({ dir: '/opt/shop/releases/r2', files: ['stack.yaml'], envFile: './.env', stack: 'shop' });
    expect(render(c)).toBe(
      "sh -c 'cd /opt/shop/releases/r2 && set -a && . ./.env && set +a && { docker stack deploy --compose-file stack.yaml --prune --with-registry-auth --resolve-image always shop 2>&1; }'",
    );
  });

  it.each([
    ['active true abc123', { state: 'active', manager: true, nodeId: 'abc123' }],
    ['inactive false ', { state: 'inactive', manager: false, nodeId: '' }],
  ])('swarm state %j', (text, expected) => {
    expect(parseSwarmState(text)).toEqual(expected);
  });

  it('reads the source address of a route', () => {
    expect(parseRouteSource('192.0.2.1 via 10.211.207.1 dev eth0 src 10.211.207.5 uid 0\n    cache\n')).toBe(
      '10.211.207.5',
    );
    expect(parseRouteSource('RTNETLINK answers: Network is unreachable')).toBeUndefined();
  });
});

const svc = (over: Partial<ServiceUpdate>): ServiceUpdate => ({
  id: 'a',
  name: 'shop_web',
  replicas: '2/2',
  state: '',
  message: '',
  ...over,
});

describe('stackVerdict', () => {
  const since = 1000;
  it.each([
    ['a fresh service with all replicas', [svc({})], 'converged'],
    ['replicas still starting', [svc({ replicas: '1/2' })], 'waiting'],
    ['an update running', [svc({ state: 'updating', startedAt: 1001 })], 'waiting'],
    ['an update completed by this deploy', [svc({ state: 'completed', startedAt: 1001 })], 'converged'],
    ['a rollback from an OLD deploy is ignored', [svc({ state: 'rollback_completed', startedAt: 900 })], 'converged'],
    [
      'a rollback by this deploy',
      [svc({ state: 'rollback_completed', startedAt: 1002, message: 'update rolled back' })],
      'rolled-back',
    ],
    ['a rollback in progress', [svc({ state: 'rollback_started', startedAt: 1002 })], 'waiting'],
    ['a paused update', [svc({ state: 'paused', startedAt: 1002 })], 'paused'],
  ])('%s → %s', (_name, services, kind) => {
    expect(stackVerdict(services, since).kind).toBe(kind);
  });

  it('waits for an update Swarm has not started yet, until the grace period is over', () => {
    const s = [svc({ updated: true, state: 'completed', startedAt: 900 })];
    expect(stackVerdict(s, since, false)).toEqual({ kind: 'waiting', detail: 'shop_web: update not started 2/2' });
    expect(stackVerdict(s, since, true).kind).toBe('converged');
  });
});

describe('swarm parsers', () => {
  it('service list and update status (full ids, versions)', () => {
    expect(parseServiceList('abc123def456 shop_web 2/2\nxyz shop_nginx 1/1 (max 1 per node)\n')).toEqual([
      { id: 'abc123def456', name: 'shop_web', replicas: '2/2' },
      { id: 'xyz', name: 'shop_nginx', replicas: '1/1' },
    ]);
    const json = JSON.stringify([
      {
        ID: 'abc123def456ghi',
        Version: { Index: 42 },
        UpdateStatus: {
          State: 'rollback_completed',
          Message: 'rolled back',
          StartedAt: '2026-11-22T03:42:01.123456789Z',
        },
      },
      { ID: 'xyz', Version: { Index: 7 } },
    ]);
    expect(Object.fromEntries(parseUpdateStatus(json))).toEqual({
      abc123def456ghi: { state: 'rollback_completed', message: 'rolled back', version: 42, startedAt: 1795318921 },
      xyz: { state: '', message: '', version: 7 },
    });
  });

  it('task errors: failed and rejected tasks with their error', () => {
    const out = [
      'shop_web.1|reg/web:nope@sha256:1|Shutdown|Rejected 3 seconds ago|No such image: reg/web:nope',
      'shop_web.1|reg/web:ok|Running|Running 1 minute ago|',
      'shop_web.2|reg/web:nope|Shutdown|Failed 2 seconds ago|task: non-zero exit (1)',
    ].join('\n');
    expect(parseTaskErrors(out)).toEqual([
      'shop_web.1 (reg/web:nope): Rejected 3 seconds ago — No such image: reg/web:nope',
      'shop_web.2 (reg/web:nope): Failed 2 seconds ago — task: non-zero exit (1)',
    ]);
  });
});

describe('load balancer health check on the droplet', () => {
  it('reads the LB health check with DigitalOcean defaults', () => {
    expect(parseLbHealthCheck(undefined)).toEqual({
      protocol: 'http',
      port: 80,
      path: '/',
      checkIntervalSeconds: 10,
      responseTimeoutSeconds: 5,
      healthyThreshold: 3,
    });
  });

  it.each([
    [
      { protocol: 'http', port: 80, path: '/health' },
      'curl -sS -o /dev/null --max-time 5 -w %\\{http_code\\} http\\://127.0.0.1\\:80/health',
    ],
    [
      { protocol: 'https', port: 443, path: 'up' },
      'curl -sS -o /dev/null -k --max-time 5 -w %\\{http_code\\} https\\://127.0.0.1\\:443/up',
    ],
    [{ protocol: 'tcp', port: 5432 }, 'nc -z -w 5 127.0.0.1 5432'],
  ])('%j → %s', (raw, expected) => {
    expect(render(healthProbe(parseLbHealthCheck(raw)))).toBe(expected);
  });

  it.each([
    ['http', 0, '200', true],
    ['http', 0, '301', true],
    ['http', 0, '503', false],
    ['http', 7, '000', false],
    ['tcp', 0, '', true],
    ['tcp', 1, '', false],
  ] as const)('%s exit %i "%s" → %s', (protocol, code, out, ok) => {
    expect(probePassed(parseLbHealthCheck({ protocol }), code, out)).toBe(ok);
  });
});
