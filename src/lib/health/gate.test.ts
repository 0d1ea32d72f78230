import { describe, expect, it } from 'vitest';

import type { Logger } from '../action/logger.js';
import { render, type Script } from '../commands/cmd.js';
import type { ExecResult, RemoteHost } from '../ssh/executor.js';
import type { HealthCheck } from './check.js';
import { waitForServices } from './container.js';
import { type CheckDefinition, parseCheckList } from './definitions.js';
import { buildChecks, runGate, runsOnDroplet } from './gate.js';
import type { CheckOutcome } from './poll.js';
import { type FakeClock, fakeClock } from '../../../test/support/fake-clock.js';

function recordingLogger() {
  const lines: string[] = [];
  const logger: Logger = {
    info: (m) => lines.push(`info ${m}`),
    warn: (m) => lines.push(`warn ${m}`),
    error: (m) => lines.push(`error ${m}`),
    debug: (m) => lines.push(`debug ${m}`),
    group: (_n, fn) => fn(),
  };
  return { logger, lines };
}

function scripted(
  name: string,
  outcomes: CheckOutcome[],
  c: FakeClock,
  poll: Partial<HealthCheck['poll']> = {},
): HealthCheck {
  let i = 0;
  return {
    name,
    kind: 'http',
    target: `GET http://x/${name}`,
    poll: { intervalMs: 1000, successes: 1, timeoutMs: 10_000, startDelayMs: 0, ...poll },
    attempt: () => {
      const o = outcomes[Math.min(i, outcomes.length - 1)] as CheckOutcome;
      i += 1;
      c.advance(o.latencyMs);
      return Promise.resolve(o);
    },
  };
}

const ok = (latencyMs: number): CheckOutcome => ({ ok: true, status: '200', latencyMs });
const fail = (status: string, detail: string, excerpt?: string): CheckOutcome => ({
  ok: false,
  status,
  latencyMs: 5,
  detail,
  ...(excerpt ? { excerpt } : {}),
});

describe('runGate', () => {
  it('passes when every check passes; gate percentiles are over every passing attempt', async () => {
    const c = fakeClock();
    const { logger, lines } = recordingLogger();
    const result = await runGate(
      [
        scripted('a', [fail('503', 'status 503'), ok(10)], c),
        scripted('b', [ok(30), ok(50), ok(70)], c, { successes: 3 }),
      ],
      { logger, secrets: [], now: c.now, sleep: c.sleep },
    );
    expect(result.passed).toBe(true);
    expect(result.attempts).toBe(5);
    expect(result.lastStatus).toBe('a: 200; b: 200');
    expect(result.latencyP50Ms).toBe(30);
    expect(result.latencyP95Ms).toBe(70);
    expect(result.checks.map((r) => [r.name, r.passed, r.attempts, r.passes, r.latencyP50Ms, r.latencyP95Ms])).toEqual([
      ['a', true, 2, 1, 10, 10],
      ['b', true, 3, 3, 50, 70],
    ]);
    expect(lines).toContain('info [a] attempt 1: fail 503 in 5ms — status 503');
    expect(lines).toContain('info [b] attempt 2: pass 200 in 50ms (2/3 in a row)');
  });

  it('a failing check names itself, its last status, detail and a redacted body excerpt', async () => {
    const c = fakeClock();
    const { logger } = recordingLogger();
    const result = await runGate(
      [
        scripted('orders', [fail('500', 'status 500 is not one of 2xx', 'error token=sekret-123 here')], c, {
          timeoutMs: 3000,
        }),
      ],
      { logger, secrets: ['sekret-123'], now: c.now, sleep: c.sleep },
    );
    expect(result.passed).toBe(false);
    const [r] = result.checks;
    expect(r?.attempts).toBe(4);
    expect(r?.excerpt).toBe('error token=*** here');
    expect(r?.failure).toBe(
      'check "orders" did not pass within 3s after 4 attempt(s): last status 500 (status 500 is not one of 2xx); body: "error token=*** here"',
    );
  });

  it('a check that passes but whose p95 is over the latency budget fails', async () => {
    const c = fakeClock();
    const { logger } = recordingLogger();
    const result = await runGate(
      [scripted('slow', [ok(900), ok(950), ok(1000)], c, { successes: 3, latencyBudgetMs: 500 })],
      {
        logger,
        secrets: [],
        now: c.now,
        sleep: c.sleep,
      },
    );
    expect(result.passed).toBe(false);
    expect(result.checks[0]?.failure).toBe(
      'check "slow" answered but too slowly: latency p95 1000ms is over the budget of 500ms (p50 950ms over 3 passing attempt(s))',
    );
    expect(result.latencyP95Ms).toBe(1000);
  });

  it('runs diagnose() for a failing check and keeps going if it throws', async () => {
    const c = fakeClock();
    const { logger } = recordingLogger();
    const withDiag = {
      ...scripted('containers', [fail('unhealthy', 'web: unhealthy')], c, { timeoutMs: 1000 }),
      diagnose: () => Promise.resolve('health log: exit 1 password=sekret-123'),
    };
    const broken = {
      ...scripted('containers2', [fail('unhealthy', 'web: unhealthy')], c, { timeoutMs: 1000 }),
      diagnose: () => Promise.reject(new Error('ssh closed')),
    };
    const result = await runGate([withDiag, broken], { logger, secrets: ['sekret-123'], now: c.now, sleep: c.sleep });
    expect(result.checks[0]?.diagnostics).toBe('health log: exit 1 password=***');
    expect(result.checks[1]?.diagnostics).toBe('(could not read diagnostics: ssh closed)');
  });

  it('an empty gate does not pass', async () => {
    const { logger } = recordingLogger();
    expect((await runGate([], { logger, secrets: [] })).passed).toBe(false);
  });
});

// A RemoteHost answering `docker ps … | xargs -r docker inspect` from a queue of inspect JSONs.
function dockerHost(inspects: object[][], logs = 'GET /health 500\n') {
  let i = 0;
  const ran: string[] = [];
  const host: RemoteHost = {
    label: 'web-1',
    address: '127.0.10.2',
    run(script: Script): Promise<ExecResult> {
      const text = render(script);
      ran.push(text);
      if (text.startsWith('docker ps')) {
        const answer = inspects[Math.min(i, inspects.length - 1)] as object[];
        i += 1;
        return Promise.resolve({ code: 0, stdout: JSON.stringify(answer), stderr: '' });
      }
      if (text.startsWith('docker logs')) return Promise.resolve({ code: 0, stdout: logs, stderr: '' });
      return Promise.reject(new Error(`unexpected ${text}`));
    },
    upload: () => Promise.reject(new Error('unused')),
    stream: () => Promise.reject(new Error('unused')),
    close: () => Promise.resolve(),
  };
  return { host, ran };
}

const container = (service: string, status: string, health?: string, log: string[] = []) => ({
  Id: `id-${service}`,
  Name: `/shop-${service}-1`,
  State: {
    Status: status,
    ExitCode: status === 'exited' ? 1 : 0,
    ...(health ? { Health: { Status: health, Log: log.map((o) => ({ ExitCode: 1, Output: o, End: 't' })) } } : {}),
  },
  Config: { Image: 'x', Labels: { 'com.docker.compose.project': 'shop', 'com.docker.compose.service': service } },
});

describe('container checks through buildChecks / waitForServices', () => {
  const defaults = { intervalMs: 1000, successes: 1, timeoutMs: 5000, startDelayMs: 0, app: 'shop' };

  it('droplet checks get one copy per host; runner checks one; TLS-off is warned about', () => {
    const defs = parseCheckList(
      '- kind: container\n- url: https://127.0.0.1/\n  tls-verify: false\n- {url: http://127.0.0.1/, via: droplet, name: inside}',
      defaults,
    );
    expect(defs.map(runsOnDroplet)).toEqual([true, false, true]);
    const { logger, lines } = recordingLogger();
    const a = dockerHost([[]]).host;
    const b = { ...dockerHost([[]]).host, label: 'web-2' };
    const checks = buildChecks(defs, { hosts: [a, b], logger });
    expect(checks.map((c) => c.name)).toEqual([
      'containers of shop @ web-1',
      'containers of shop @ web-2',
      'http https://127.0.0.1/',
      'inside @ web-1',
      'inside @ web-2',
    ]);
    expect(lines.some((l) => l.startsWith('warn check "http https://127.0.0.1/": TLS verification is off'))).toBe(true);
    expect(() => buildChecks(defs.slice(0, 1) as CheckDefinition[], { hosts: [], logger })).toThrow(
      'checks[0] ("containers of shop") runs on the droplet but no droplet is connected',
    );
  });

  it('runner checks written with {host} run once per droplet address', () => {
    const defs = parseCheckList(
      '- url: http://{host}:8080/health\n  name: api\n- {kind: tcp, host: "{host}", port: 5432}',
      defaults,
    );
    const { logger } = recordingLogger();
    const targets = [
      { label: 'web-1', address: '127.0.10.2' },
      { label: 'web-2', address: '::1' },
    ];
    const checks = buildChecks(defs, { hosts: [], targets, logger });
    expect(checks.map((c) => [c.name, c.target])).toEqual([
      ['api @ web-1', 'GET http://127.0.10.2:8080/health'],
      ['api @ web-2', 'GET http://[::1]:8080/health'],
      ['tcp {host}:5432 @ web-1', '127.0.10.2:5432'],
      ['tcp {host}:5432 @ web-2', '::1:5432'],
    ]);
    expect(() => buildChecks(defs, { hosts: [], logger })).toThrow(
      'checks[0] ("api") uses {host} but no droplet address was given',
    );
  });

  it('a container that turns healthy passes; missing services and unhealthy ones are named', async () => {
    const c = fakeClock();
    const { logger } = recordingLogger();
    const { host } = dockerHost([
      [container('web', 'running', 'starting')],
      [container('web', 'running', 'healthy'), container('worker', 'running')],
    ]);
    const [check] = buildChecks(parseCheckList('- kind: container', defaults), { hosts: [host], logger });
    const result = await runGate([check as HealthCheck], { logger, secrets: [], now: c.now, sleep: c.sleep });
    expect(result.passed).toBe(true);
    expect(result.checks[0]).toMatchObject({ attempts: 2, lastStatus: 'running' });

    const missing = dockerHost([[container('web', 'running', 'healthy')]]).host;
    const [m] = buildChecks(parseCheckList('- kind: container\n  services: [web, api]', defaults), {
      hosts: [missing],
      logger,
    });
    const r2 = await runGate([m as HealthCheck], { logger, secrets: [], now: c.now, sleep: c.sleep });
    expect(r2.checks[0]).toMatchObject({ passed: false, lastStatus: 'missing', lastDetail: 'api: no container' });
  });

  it('waitForServices: failure carries the health log and log tail of the failing container', async () => {
    const c = fakeClock();
    const { host, ran } = dockerHost(
      [
        [
          container('web', 'running', 'unhealthy', ['wget: server returned error: HTTP/1.1 500\n']),
          container('db', 'running', 'healthy'),
        ],
      ],
      'line 1\nline 2\n',
    );
    const result = await waitForServices(host, {
      app: 'shop',
      timeoutMs: 3000,
      intervalMs: 1000,
      logLines: 2,
      now: c.now,
      sleep: c.sleep,
    });
    expect(result.passed).toBe(false);
    expect(result.poll.attempts).toBe(4);
    expect(result.failing.map((s) => s.service)).toEqual(['web']);
    expect(result.message).toBe('on web-1: services of shop were not up within 3s: web (shop-web-1): unhealthy');
    expect(result.diagnostics).toBe(
      [
        'service web (container shop-web-1, running, unhealthy):',
        '  health log:',
        '    exit 1 at t: wget: server returned error: HTTP/1.1 500',
        '  last 2 log lines:',
        '    line 1',
        '    line 2',
      ].join('\n'),
    );
    expect(ran.at(-1)).toBe('docker logs --tail 2 shop-web-1 2>&1');
  });

  it('a one-shot job that exited 0 does not fail a check over every service, but does when named', async () => {
    const c = fakeClock();
    const { logger } = recordingLogger();
    const job = {
      ...container('migrate', 'exited'),
      State: { Status: 'exited', ExitCode: 0 },
      HostConfig: { RestartPolicy: { Name: 'no' } },
    };
    const states = [[container('web', 'running', 'healthy'), job]];
    const all = buildChecks(parseCheckList('- kind: container', defaults), {
      hosts: [dockerHost(states).host],
      logger,
    });
    const named = buildChecks(parseCheckList('- kind: container\n  services: [web, migrate]', defaults), {
      hosts: [dockerHost(states).host],
      logger,
    });
    const r = await runGate([...all, ...named], { logger, secrets: [], now: c.now, sleep: c.sleep });
    expect(r.checks[0]).toMatchObject({ passed: true, lastStatus: 'healthy' });
    expect(r.checks[1]).toMatchObject({
      passed: false,
      lastStatus: 'exited (0)',
      lastDetail: 'migrate (shop-migrate-1): exited (0)',
    });
  });

  it('waitForServices: no containers at all is not "up"', async () => {
    const c = fakeClock();
    const { host } = dockerHost([[]]);
    const result = await waitForServices(host, { app: 'shop', timeoutMs: 1000, now: c.now, sleep: c.sleep });
    expect(result).toMatchObject({
      passed: false,
      message: 'on web-1: services of shop were not up within 1s: project "shop" has no containers',
    });
  });
});
