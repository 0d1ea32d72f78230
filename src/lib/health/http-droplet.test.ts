import { describe, expect, it } from 'vitest';

import { render, type Script } from '../commands/cmd.js';
import type { ExecResult, RemoteHost, RunOptions } from '../ssh/executor.js';
import { type HttpDefinition, parseCheckList } from './definitions.js';
import {
  CURL_MARKER,
  curlConfig,
  curlConfigValue,
  curlScript,
  dropletHttpAttempt,
  parseCurlStderr,
} from './http-droplet.js';

const defaults = { intervalMs: 1000, successes: 1, timeoutMs: 60_000, startDelayMs: 0 };
const def = (yaml: string): HttpDefinition => (parseCheckList(yaml, defaults) as [HttpDefinition])[0];

describe('curl config (sent on stdin, never argv)', () => {
  it('the remote command is only `curl --config -`', () => {
    expect(render(curlScript())).toBe('curl --config -');
  });

  it.each([
    ['plain', '"plain"'],
    ['a "quoted" \\ path', '"a \\"quoted\\" \\\\ path"'],
    ['two\nlines\r\tx', '"two\\nlines\\r\\tx"'],
  ])('quotes %j', (value, expected) => {
    expect(curlConfigValue(value)).toBe(expected);
  });

  it.each([
    {
      what: 'GET with defaults',
      yaml: '- url: http://127.0.0.1:8080/health',
      timeoutMs: 10_000,
      expected: [
        'silent',
        'show-error',
        'max-time = "10.000"',
        'header = "User-Agent: droplet-deploy-health-gate"',
        `write-out = "%{stderr}\\n${CURL_MARKER} %{http_code} %{time_total} %{url_effective}\\n"`,
        'url = "http://127.0.0.1:8080/health"',
      ],
    },
    {
      what: 'POST with secret header, JSON body, redirects, TLS off, cert days',
      yaml: '- url: https://127.0.0.1/x\n  method: POST\n  headers: {Authorization: "Bearer s3\\"cret"}\n  body: {a: 1}\n  follow-redirects: true\n  max-redirects: 2\n  tls-verify: false\n  cert-min-days: 5',
      timeoutMs: 1500,
      expected: [
        'silent',
        'show-error',
        'max-time = "1.500"',
        'request = "POST"',
        'header = "Authorization: Bearer s3\\"cret"',
        'header = "Content-Type: application/json"',
        'header = "User-Agent: droplet-deploy-health-gate"',
        'data-raw = "{\\"a\\":1}"',
        'location',
        'max-redirs = "2"',
        'insecure',
        `write-out = "%{stderr}\\n${CURL_MARKER} %{http_code} %{time_total} %{url_effective}\\n%{certs}"`,
        'url = "https://127.0.0.1/x"',
      ],
    },
    {
      what: 'HEAD uses curl head mode (no waiting for a body)',
      yaml: '- url: http://127.0.0.1/\n  method: HEAD',
      timeoutMs: 2000,
      expected: [
        'silent',
        'show-error',
        'max-time = "2.000"',
        'head',
        'header = "User-Agent: droplet-deploy-health-gate"',
        `write-out = "%{stderr}\\n${CURL_MARKER} %{http_code} %{time_total} %{url_effective}\\n"`,
        'url = "http://127.0.0.1/"',
      ],
    },
  ])('$what', ({ yaml, timeoutMs, expected }) => {
    expect(curlConfig(def(yaml), timeoutMs)).toBe(`${expected.join('\n')}\n`);
  });
});

describe('parseCurlStderr', () => {
  it.each([
    {
      stderr: `\n${CURL_MARKER} 200 0.012345 http://127.0.0.1/\n`,
      facts: { status: 200, latencyMs: 12, effectiveUrl: 'http://127.0.0.1/' },
    },
    {
      stderr: `curl: (7) Failed to connect to 127.0.0.1 port 81 after 0 ms: Couldn't connect to server\n\n${CURL_MARKER} 000 0.000300 http://127.0.0.1:81/\n`,
      facts: {
        status: 0,
        latencyMs: 0,
        effectiveUrl: 'http://127.0.0.1:81/',
        error: "curl: (7) Failed to connect to 127.0.0.1 port 81 after 0 ms: Couldn't connect to server",
      },
    },
    {
      stderr: `\n${CURL_MARKER} 200 0.2 https://10.0.0.1:443/\nSubject:CN = 10.0.0.1\nStart date:Jan  1 00:00:00 2020 GMT\nExpire date:Jan  1 00:00:00 2021 GMT\n`,
      facts: {
        status: 200,
        latencyMs: 200,
        effectiveUrl: 'https://10.0.0.1:443/',
        notAfter: 'Jan  1 00:00:00 2021 GMT',
      },
    },
  ])('$facts.status $facts.effectiveUrl', ({ stderr, facts }) => {
    expect(parseCurlStderr(stderr)).toEqual(facts);
  });

  it('no marker (curl missing, or killed) → undefined', () => {
    expect(parseCurlStderr('sh: 1: curl: not found\n')).toBeUndefined();
  });
});

describe('dropletHttpAttempt over a RemoteHost', () => {
  function host(answer: ExecResult) {
    const seen: { command: string; stdin: string }[] = [];
    const h: RemoteHost = {
      label: 'web-1',
      address: '127.0.10.2',
      run(script: Script, options?: RunOptions) {
        seen.push({ command: render(script), stdin: String(options?.stdin ?? '') });
        return Promise.resolve(answer);
      },
      upload: () => Promise.reject(new Error('unused')),
      stream: () => Promise.reject(new Error('unused')),
      close: () => Promise.resolve(),
    };
    return { h, seen };
  }
  const ctx = { attempt: 1, remainingMs: 60_000 };

  it('judges the body and status curl returned; the secret header only travels on stdin', async () => {
    const { h, seen } = host({
      code: 0,
      stdout: '{"status":"degraded"}',
      stderr: `\n${CURL_MARKER} 200 0.031 http://127.0.0.1/health\n`,
    });
    const d = def('- url: http://127.0.0.1/health\n  json: {"$.status": ok}\n  headers: {X-Api-Key: k-123456}');
    const outcome = await dropletHttpAttempt(d, h)(ctx);
    expect(outcome).toEqual({
      ok: false,
      status: '200',
      latencyMs: 31,
      detail: 'JSON $.status is "degraded", expected "ok"',
      excerpt: '{"status":"degraded"}',
    });
    expect(seen[0]?.command).toBe('curl --config -');
    expect(seen[0]?.stdin).toContain('header = "X-Api-Key: k-123456"');
  });

  it.each([
    {
      code: 28,
      stderr: `curl: (28) Operation timed out after 1001 milliseconds with 0 bytes received\n\n${CURL_MARKER} 000 1.001 http://x/\n`,
      status: 'timeout',
      detail: 'curl: (28) Operation timed out after 1001 milliseconds with 0 bytes received',
    },
    {
      code: 60,
      stderr: `curl: (60) SSL certificate problem: certificate has expired\n${CURL_MARKER} 000 0.01 https://x/\n`,
      status: 'TLS',
      detail: 'TLS: curl: (60) SSL certificate problem: certificate has expired',
    },
    { code: 127, stderr: 'sh: 1: curl: not found\n', status: 'no curl', detail: 'curl is not installed on web-1' },
  ])('curl exit $code → $status', async ({ code, stderr, status, detail }) => {
    const { h } = host({ code, stdout: '', stderr });
    const outcome = await dropletHttpAttempt(def('- url: http://x/'), h)(ctx);
    expect(outcome).toMatchObject({ ok: false, status, detail });
  });

  it('reads the certificate expiry curl printed for cert-min-days', async () => {
    const { h } = host({
      code: 0,
      stdout: 'ok',
      stderr: `\n${CURL_MARKER} 200 0.01 https://x/\nExpire date:Jan 11 00:00:00 2030 GMT\n`,
    });
    const now = () => Date.parse('2030-01-01T00:00:00Z');
    const outcome = await dropletHttpAttempt(def('- url: https://x/\n  cert-min-days: 30'), h, { now })(ctx);
    expect(outcome).toMatchObject({
      ok: false,
      detail: 'certificate expires in 10 day(s); at least 30 day(s) required',
    });
  });
});
