import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

import { beforeAll, describe, expect, it } from 'vitest';

import type { ActionIo } from '../../lib/action/core.js';
import { ConfigurationError } from '../../lib/action/errors.js';
import type { SummaryDocument } from '../../lib/action/summary.js';
import { render } from '../../lib/commands/cmd.js';
import type { RemoteHost } from '../../lib/ssh/executor.js';
import type { HostConnector } from '../../lib/ssh/pool.js';
import type { HostTarget } from '../../lib/ssh/target.js';
import { readInputs } from './inputs.js';
import { HealthGateFailure, run } from './run.js';
import { fakeClock } from '../../../test/support/fake-clock.js';

let privateKey = '';
let lockedKey = '';
const PASSPHRASE = 'open sesame 77';
beforeAll(() => {
  const dir = mkdtempSync(join(tmpdir(), 'hg-key-'));
  execFileSync('ssh-keygen', ['-q', '-t', 'ed25519', '-N', '', '-f', join(dir, 'k')]);
  privateKey = readFileSync(join(dir, 'k'), 'utf8');
  execFileSync('ssh-keygen', ['-q', '-t', 'ed25519', '-N', PASSPHRASE, '-f', join(dir, 'locked')]);
  lockedKey = readFileSync(join(dir, 'locked'), 'utf8');
  rmSync(dir, { recursive: true, force: true });
});

const FP = 'SHA256:uNiVztksCsDhcc0u9e8BujQXVUpKZIDTMczCvj3tD2s';

function fakeIo(inputs: Record<string, string>) {
  const outputs: Record<string, string> = {};
  const secrets: string[] = [];
  const summaries: SummaryDocument[] = [];
  const log: string[] = [];
  const io: ActionIo = {
    getInput: (n) => inputs[n] ?? '',
    setOutput: (n, v) => {
      outputs[n] = v;
    },
    setSecret: (v) => secrets.push(v),
    saveState: () => undefined,
    getState: () => '',
    writeSummary: (doc) => {
      summaries.push(doc);
      return Promise.resolve();
    },
    logger: {
      info: (m) => log.push(m),
      warn: (m) => log.push(`warning: ${m}`),
      error: (m) => log.push(`error: ${m}`),
      debug: () => undefined,
      group: (_n, fn) => fn(),
    },
  };
  return { io, outputs, secrets, summaries, log };
}

describe('readInputs: configuration errors before anything runs', () => {
  it.each([
    { inputs: {}, message: 'no checks given: set input "url" or "checks"' },
    { inputs: { url: 'http://x/', timeout: '-5s' }, message: 'input "timeout" has "-5s": must not be negative' },
    { inputs: { url: 'http://x/', interval: 'often' }, message: 'input "interval" has "often": expected a duration' },
    { inputs: { url: 'http://x/', successes: '0' }, message: 'input "successes" has "0": must be at least 1' },
    { inputs: { 'expect-status': '200' }, message: 'input "expect-status" applies to input "url", which is not set' },
    {
      inputs: { checks: '- kind: container\n  app: shop', host: '127.0.10.2' },
      message: 'checks[0] ("containers of shop") runs on the droplet, so input "ssh-private-key" is required',
    },
    {
      inputs: { checks: '- kind: container\n  app: shop', host: '127.0.10.2', 'ssh-private-key': 'KEY' },
      message: 'host keys are verified: give "known-hosts"',
    },
    {
      inputs: { checks: '- kind: container\n  app: shop', host: 'a', hosts: 'b', 'ssh-private-key': 'KEY' },
      message: 'inputs "host" and "hosts" cannot be used together',
    },
    {
      inputs: { url: 'http://{host}/healthz' },
      message: 'url ("http http://{host}/healthz") uses {host}, so input "host" (or "hosts") is required',
    },
    {
      inputs: { checks: '- kind: container\n  app: shop', host: 'bad host!', 'ssh-private-key': 'KEY' },
      message: 'input "host" has "bad host!": not a host name or IP address',
    },
  ])('$message', ({ inputs, message }) => {
    const withKey =
      inputs['ssh-private-key' as keyof typeof inputs] === 'KEY'
        ? { ...inputs, 'ssh-private-key': privateKey }
        : inputs;
    let caught: unknown;
    try {
      readInputs({ getInput: (n) => (withKey as Record<string, string>)[n] ?? '' });
    } catch (error) {
      caught = error;
    }
    expect(caught).toBeInstanceOf(ConfigurationError);
    expect((caught as Error).message).toContain(message);
  });

  it('reads droplet targets, host key policy and secrets', () => {
    const inputs = readInputs({
      getInput: (n) =>
        ({
          checks: '- kind: container\n- url: https://u:p%40ss@127.0.0.1/\n  headers: {Authorization: "Bearer tok-123"}',
          hosts: '127.0.10.2, deploy@127.0.10.3:2222',
          'ssh-private-key': privateKey,
          'host-fingerprints': FP,
          app: 'shop',
          timeout: '90s',
          'jump-host': 'bastion@127.0.0.9',
          'connect-attempts': '2',
        })[n] ?? '',
    });
    expect(inputs.timeoutMs).toBe(90_000);
    expect(inputs.ssh?.targets).toEqual([
      { host: '127.0.10.2', port: 22, user: 'root', label: '127.0.10.2' },
      { host: '127.0.10.3', port: 2222, user: 'deploy', label: '127.0.10.3:2222' },
    ]);
    expect(inputs.ssh?.settings.hostKeys).toEqual({ kind: 'verify', knownHosts: [], fingerprints: [FP] });
    // the SSH settings every droplet-facing action shares (src/lib/ssh/inputs.ts)
    expect(inputs.ssh?.settings.jump).toEqual({ host: '127.0.0.9', port: 22, user: 'bastion' });
    expect(inputs.ssh?.settings.connectAttempts).toBe(2);
    expect(inputs.secrets).toEqual(['Bearer tok-123', 'tok-123', 'p@ss']);
    expect(inputs.secretUrls).toEqual(['https://u:p%40ss@127.0.0.1/']);
    expect(inputs.checks.map((c) => c.name)).toEqual(['containers of shop', 'http https://u:***@127.0.0.1/']);
  });
});

function fakeConnector(hosts: Record<string, RemoteHost>) {
  const connected: string[] = [];
  let closed = 0;
  const connector: HostConnector = {
    connect(t: HostTarget) {
      connected.push(t.label);
      const h = hosts[t.host];
      return h ? Promise.resolve(h) : Promise.reject(new Error(`no fake for ${t.host}`));
    },
    closeAll() {
      closed += 1;
      return Promise.resolve();
    },
  };
  return { connector, connected, closed: () => closed };
}

function inspectHost(label: string, health: string): RemoteHost {
  return {
    label,
    address: label,
    run(script) {
      const text = render(script);
      if (text.startsWith('docker ps')) {
        return Promise.resolve({
          code: 0,
          stdout: JSON.stringify([
            {
              Id: '1',
              Name: '/shop-web-1',
              State: {
                Status: 'running',
                Health: { Status: health, Log: [{ ExitCode: 1, Output: 'probe failed', End: 't' }] },
              },
              Config: { Labels: { 'com.docker.compose.project': 'shop', 'com.docker.compose.service': 'web' } },
            },
          ]),
          stderr: '',
        });
      }
      if (text.startsWith('docker logs')) return Promise.resolve({ code: 0, stdout: 'GET /health 500\n', stderr: '' });
      return Promise.reject(new Error(`unexpected ${text}`));
    },
    upload: () => Promise.reject(new Error('unused')),
    stream: () => Promise.reject(new Error('unused')),
    close: () => Promise.resolve(),
  };
}

describe('run', () => {
  it('container checks on two droplets: outputs, summary, connections closed', async () => {
    const { io, outputs, summaries, secrets } = fakeIo({
      checks: '- kind: container',
      hosts: '127.0.10.2,127.0.10.3',
      'ssh-private-key': privateKey,
      'host-fingerprints': FP,
      app: 'shop',
    });
    const fake = fakeConnector({
      '127.0.10.2': inspectHost('web-1', 'healthy'),
      '127.0.10.3': inspectHost('web-2', 'healthy'),
    });
    const c = fakeClock();
    const result = await run(readInputs(io), io, { openConnector: () => fake.connector, ...c });
    expect(result.passed).toBe(true);
    expect(fake.connected).toEqual(['127.0.10.2', '127.0.10.3']);
    expect(fake.closed()).toBe(1);
    // the SSH key is masked (each of its lines too)
    expect(secrets).toContain(privateKey);
    expect(secrets).toContain(privateKey.split('\n')[1]);
    expect(outputs).toMatchObject({
      passed: 'true',
      attempts: '2',
      'last-status': 'containers of shop @ web-1: healthy; containers of shop @ web-2: healthy',
    });
    expect(JSON.parse(outputs['report'] ?? '')).toHaveLength(2);
    expect(summaries[0]?.markdown).toContain('### Health gate passed');
    expect(summaries[0]?.markdown).toContain(
      '| containers of shop @ web-1 | container | shop on web-1 | pass | 1/1 | healthy |',
    );
  });

  it('an unhealthy container fails with its health log and log lines; outputs and summary are still written', async () => {
    const { io, outputs, summaries } = fakeIo({
      checks: '- kind: container\n  log-lines: 1',
      host: '127.0.10.2',
      'ssh-private-key': privateKey,
      'host-fingerprints': FP,
      app: 'shop',
      timeout: '3s',
    });
    const fake = fakeConnector({ '127.0.10.2': inspectHost('web-1', 'unhealthy') });
    const c = fakeClock();
    const error = await run(readInputs(io), io, { openConnector: () => fake.connector, ...c }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(HealthGateFailure);
    expect((error as Error).message).toBe(
      [
        '1 of 1 check(s) failed; the deploy should not stand.',
        'check "containers of shop" did not pass within 3s after 2 attempt(s): last status unhealthy (web (shop-web-1): unhealthy)',
        'service web (container shop-web-1, running, unhealthy):',
        '  health log:',
        '    exit 1 at t: probe failed',
        '  last 1 log lines:',
        '    GET /health 500',
      ].join('\n'),
    );
    expect(outputs['passed']).toBe('false');
    expect(outputs['last-status']).toBe('unhealthy');
    expect(summaries[0]?.markdown).toContain('<details><summary>containers of shop: why it failed</summary>');
    expect(fake.closed()).toBe(1);
  });

  it('masks secret header values and URL passwords (with derived forms) before anything runs', async () => {
    const { io, secrets, outputs } = fakeIo({
      checks: '- url: http://u:pw-9876@127.0.0.1/\n  via: droplet\n  headers: {X-Token: tok-abcdef}',
      host: '127.0.10.2',
      'ssh-private-key': privateKey,
      'host-fingerprints': FP,
    });
    const stdins: string[] = [];
    const curlHost: RemoteHost = {
      ...inspectHost('web-1', 'healthy'),
      run(_script, options) {
        stdins.push(String(options?.stdin));
        // the app echoes the credentials back: the report must not
        return Promise.resolve({
          code: 0,
          stdout: 'tok-abcdef pw-9876',
          stderr: '\n__HEALTH_GATE__ 200 0.002 http://127.0.0.1/\n',
        });
      },
    };
    await run(readInputs(io), io, { openConnector: () => fakeConnector({ '127.0.10.2': curlHost }).connector });
    expect(secrets).toContain('tok-abcdef');
    expect(secrets).toContain(Buffer.from('tok-abcdef').toString('base64'));
    expect(secrets).toContain('pw-9876');
    expect(secrets).toContain(Buffer.from('u:pw-9876').toString('base64'));
    expect(stdins[0]).toContain('header = "X-Token: tok-abcdef"');
    expect(outputs['report']).toContain('"excerpt":"*** ***"');
    expect(outputs['report']).not.toContain('pw-9876');
  });

  it('masks the SSH passphrase before connecting', async () => {
    const { io, secrets } = fakeIo({
      checks: '- kind: container',
      host: '127.0.10.2',
      'ssh-private-key': lockedKey,
      'ssh-passphrase': PASSPHRASE,
      'host-fingerprints': FP,
      app: 'shop',
    });
    let maskedFirst = false;
    const fake = fakeConnector({ '127.0.10.2': inspectHost('web-1', 'healthy') });
    const connector: HostConnector = {
      ...fake.connector,
      connect: (t) => {
        maskedFirst = secrets.includes(PASSPHRASE);
        return fake.connector.connect(t);
      },
    };
    await run(readInputs(io), io, { openConnector: () => connector, ...fakeClock() });
    expect(maskedFirst).toBe(true);
    expect(secrets).toContain(lockedKey);
  });

  it('an SSH connection failure fails the gate with outputs saying no check ran', async () => {
    const { io, outputs } = fakeIo({
      checks: '- kind: container',
      host: '127.0.10.9',
      'ssh-private-key': privateKey,
      'host-fingerprints': FP,
      app: 'shop',
    });
    const fake = fakeConnector({});
    const error = await run(readInputs(io), io, { openConnector: () => fake.connector }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(HealthGateFailure);
    expect((error as Error).message).toBe(
      'could not reach the droplet(s) for the in-droplet checks, no check ran: no fake for 127.0.10.9',
    );
    expect(outputs).toEqual({ passed: 'false', attempts: '0', 'last-status': 'ssh connection failed' });
    expect(fake.closed()).toBe(1);
  });
});
