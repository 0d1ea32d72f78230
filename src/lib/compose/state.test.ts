import { describe, expect, it } from 'vitest';

import { render, type Script } from '../commands/cmd.js';
import type { ExecResult, RemoteHost, RunOptions } from '../ssh/executor.js';
import {
  composeProjectName,
  containerLogTail,
  inspectProjectScript,
  logTailScript,
  parseInspect,
  readServiceStates,
  serviceVerdict,
  type ServiceState,
} from './state.js';

/** A RemoteHost that answers rendered commands from a table and records what it ran. */
function tableHost(answers: Record<string, ExecResult>) {
  const ran: string[] = [];
  const host: RemoteHost = {
    label: 'web-1 (127.0.10.2)',
    address: '127.0.10.2',
    run(script: Script, _options?: RunOptions) {
      const text = render(script);
      ran.push(text);
      const answer = answers[text];
      if (!answer) return Promise.reject(new Error(`unexpected command: ${text}`));
      return Promise.resolve(answer);
    },
    upload: () => Promise.reject(new Error('not used')),
    stream: () => Promise.reject(new Error('not used')),
    close: () => Promise.resolve(),
  };
  return { host, ran };
}

// Trimmed from real `docker inspect` output of Compose v2 (dash names) and v1 (underscore names).
const INSPECT = JSON.stringify([
  {
    Id: 'bbb',
    Name: '/shop-web-2',
    Image: 'sha256:1111',
    RestartCount: 0,
    State: {
      Status: 'running',
      ExitCode: 0,
      StartedAt: '2026-11-22T02:00:00Z',
      Health: {
        Status: 'unhealthy',
        FailingStreak: 4,
        Log: [
          { Start: 's1', End: 'e1', ExitCode: 1, Output: 'wget: server returned error: HTTP/1.1 500\n' },
          { Start: 's2', End: 'e2', ExitCode: 1, Output: 'wget: server returned error: HTTP/1.1 500\n' },
        ],
      },
    },
    Config: {
      Image: 'lab/app:2',
      Labels: {
        'com.docker.compose.project': 'shop',
        'com.docker.compose.service': 'web',
        'com.docker.compose.container-number': '2',
        'com.docker.compose.oneoff': 'False',
      },
    },
  },
  {
    Id: 'aaa',
    Name: '/shop-web-1',
    Image: 'sha256:1111',
    State: { Status: 'running', ExitCode: 0, Health: { Status: 'healthy', FailingStreak: 0, Log: [] } },
    Config: {
      Image: 'lab/app:2',
      Labels: {
        'com.docker.compose.project': 'shop',
        'com.docker.compose.service': 'web',
        'com.docker.compose.container-number': '1',
      },
    },
  },
  {
    Id: 'ccc',
    Name: '/shop_migrate_run_1',
    Image: 'sha256:2222',
    State: { Status: 'exited', ExitCode: 3 },
    HostConfig: { RestartPolicy: { Name: 'no' } },
    Config: {
      Image: 'lab/app:2',
      Labels: {
        'com.docker.compose.project': 'shop',
        'com.docker.compose.service': 'migrate',
        'com.docker.compose.oneoff': 'True',
      },
    },
  },
  {
    Id: 'ddd',
    Name: '/shop-cache-1',
    Image: 'sha256:3333',
    State: { Status: 'running', ExitCode: 0 },
    Config: { Image: 'redis:7', Labels: null },
  },
]);

describe('compose state commands', () => {
  it.each([
    {
      script: inspectProjectScript('shop'),
      expected: 'docker ps -aq --no-trunc --filter label\\=com.docker.compose.project\\=shop | xargs -r docker inspect',
    },
    {
      script: inspectProjectScript('My.App'),
      expected:
        'docker ps -aq --no-trunc --filter label\\=com.docker.compose.project\\=myapp | xargs -r docker inspect',
    },
    { script: logTailScript('shop-web-1', 50), expected: 'docker logs --tail 50 shop-web-1 2>&1' },
    { script: logTailScript('x; rm -rf /', 5), expected: "docker logs --tail 5 'x; rm -rf /' 2>&1" },
  ])('$expected', ({ script, expected }) => {
    expect(render(script)).toBe(expected);
  });

  it.each([
    ['shop', 'shop'],
    ['My-App_2', 'my-app_2'],
    ['we b.app', 'webapp'],
  ])('project name %s → %s', (name, expected) => {
    expect(composeProjectName(name)).toBe(expected);
  });
});

describe('parseInspect', () => {
  it('maps docker inspect JSON to service states, sorted by service and number', () => {
    const states = parseInspect(INSPECT);
    expect(states.map((s) => [s.service, s.container, s.number, s.status, s.health, s.oneOff])).toEqual([
      ['', 'shop-cache-1', 0, 'running', undefined, false],
      ['migrate', 'shop_migrate_run_1', 0, 'exited', undefined, true],
      ['web', 'shop-web-1', 1, 'running', 'healthy', false],
      ['web', 'shop-web-2', 2, 'running', 'unhealthy', false],
    ]);
    const web2 = states[3] as ServiceState;
    expect(web2.failingStreak).toBe(4);
    expect(web2.healthLog).toHaveLength(2);
    expect(web2.healthLog[0]).toEqual({
      start: 's1',
      end: 'e1',
      exitCode: 1,
      output: 'wget: server returned error: HTTP/1.1 500\n',
    });
    expect(web2.image).toBe('lab/app:2');
    expect(web2.imageId).toBe('sha256:1111');
  });

  it('treats empty output as no containers and rejects non-JSON', () => {
    expect(parseInspect('')).toEqual([]);
    expect(parseInspect('[]\n')).toEqual([]);
    expect(() => parseInspect('Error: No such object')).toThrow(/not JSON/);
    expect(() => parseInspect('{}')).toThrow(/array/);
  });
});

describe('serviceVerdict', () => {
  const base = parseInspect(INSPECT);
  const byName = (n: string) => base.find((s) => s.container === n) as ServiceState;
  it.each([
    { container: 'shop-web-1', require: 'healthy', ok: true, status: 'healthy' },
    { container: 'shop-web-2', require: 'healthy', ok: false, status: 'unhealthy' },
    { container: 'shop-web-2', require: 'running', ok: true, status: 'running' },
    { container: 'shop-cache-1', require: 'healthy', ok: true, status: 'running' },
    { container: 'shop_migrate_run_1', require: 'running', ok: false, status: 'exited (3)' },
  ] as const)('$container with $require → $status', ({ container, require, ok, status }) => {
    expect(serviceVerdict(byName(container), require)).toEqual({ ok, status });
  });
  it('with oneShotOk, a container that exited 0 without a restart policy is completed', () => {
    const job = { ...byName('shop_migrate_run_1'), exitCode: 0 };
    const oneShotOk = { oneShotOk: true };
    expect(serviceVerdict({ ...job, restartPolicy: 'no' }, 'healthy', oneShotOk)).toEqual({
      ok: true,
      status: 'completed',
    });
    expect(serviceVerdict({ ...job, restartPolicy: '' }, 'running', oneShotOk)).toEqual({
      ok: true,
      status: 'completed',
    });
    expect(serviceVerdict({ ...job, restartPolicy: 'always' }, 'healthy', oneShotOk)).toEqual({
      ok: false,
      status: 'exited (0)',
    });
    expect(serviceVerdict({ ...job, exitCode: 1, restartPolicy: 'no' }, 'healthy', oneShotOk)).toEqual({
      ok: false,
      status: 'exited (1)',
    });
    expect(serviceVerdict({ ...job, restartPolicy: 'no' })).toEqual({ ok: false, status: 'exited (0)' });
  });
  it('starting and restarting are not up', () => {
    expect(serviceVerdict({ ...byName('shop-web-1'), health: 'starting' })).toEqual({ ok: false, status: 'starting' });
    expect(serviceVerdict({ ...byName('shop-web-1'), status: 'restarting' })).toEqual({
      ok: false,
      status: 'restarting',
    });
  });
});

describe('readServiceStates / containerLogTail over a RemoteHost', () => {
  const ps = 'docker ps -aq --no-trunc --filter label\\=com.docker.compose.project\\=shop | xargs -r docker inspect';

  it('runs one command and parses it', async () => {
    const { host, ran } = tableHost({ [ps]: { code: 0, stdout: INSPECT, stderr: '' } });
    const states = await readServiceStates(host, 'shop');
    expect(ran).toEqual([ps]);
    expect(states).toHaveLength(4);
  });

  it('no containers → empty list', async () => {
    const { host } = tableHost({ [ps]: { code: 0, stdout: '', stderr: '' } });
    expect(await readServiceStates(host, 'shop')).toEqual([]);
  });

  it('a failing docker ps is an error naming the host, not an empty project', async () => {
    const { host } = tableHost({
      [ps]: { code: 0, stdout: '', stderr: 'Cannot connect to the Docker daemon at unix:///var/run/docker.sock.' },
    });
    await expect(readServiceStates(host, 'shop')).rejects.toThrow(
      /on web-1 \(127\.0\.10\.2\): reading container state of project "shop" failed.*Cannot connect/s,
    );
  });

  it('log tail returns the text, or says why it could not', async () => {
    const { host } = tableHost({
      'docker logs --tail 3 shop-web-2 2>&1': { code: 0, stdout: 'a\nb\nc\n\n', stderr: '' },
      'docker logs --tail 3 gone 2>&1': { code: 1, stdout: 'Error: No such container: gone\n', stderr: '' },
    });
    expect(await containerLogTail(host, 'shop-web-2', 3)).toBe('a\nb\nc');
    expect(await containerLogTail(host, 'gone', 3)).toBe(
      '(docker logs failed with exit 1: Error: No such container: gone)',
    );
  });
});
