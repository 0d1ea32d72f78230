// health-gate end to end: the BUNDLED action (dist/health-gate/index.js) run as a child
// process exactly as the runner runs a node24 action (INPUT_* env, GITHUB_OUTPUT and
// GITHUB_STEP_SUMMARY files), against
//   - a switchable app served on loopback from this process (runner-side http, tcp, TLS
//     with certificates made by openssl: self-signed and expired), and
//   - the lab (see the droplet part further down).
// Every outcome is asserted from the action's exit code, outputs, summary and error text.

import { spawn, spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import * as http from 'node:http';
import * as https from 'node:https';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

import { afterAll, beforeAll, describe, expect, it } from 'vitest';

const ROOT = new URL('../..', import.meta.url).pathname;
const DIST = join(ROOT, 'dist/health-gate/index.js');

export interface ActionRun {
  code: number;
  /** Everything the action printed (workflow commands included). */
  log: string;
  outputs: Record<string, string>;
  summary: string;
  /** The ::error:: annotation text, decoded. */
  error: string;
}

function parseOutputFile(text: string): Record<string, string> {
  const outputs: Record<string, string> = {};
  const lines = text.split('\n');
  for (let i = 0; i < lines.length; i += 1) {
    const m = /^([^<=]+)<<(.+)$/.exec(lines[i] as string);
    if (!m) continue;
    const [, name, delimiter] = m;
    const value: string[] = [];
    for (i += 1; i < lines.length && lines[i] !== delimiter; i += 1) value.push(lines[i] as string);
    outputs[name as string] = value.join('\n');
  }
  return outputs;
}

const decodeCommand = (s: string): string => s.replace(/%0A/g, '\n').replace(/%0D/g, '\r').replace(/%25/g, '%');

/** Runs the bundled action like the runner: async, so servers in this process keep answering. */
export async function runHealthGate(inputs: Record<string, string>): Promise<ActionRun> {
  const dir = mkdtempSync(join(tmpdir(), 'hg-run-'));
  const outputFile = join(dir, 'output');
  const summaryFile = join(dir, 'summary');
  writeFileSync(outputFile, '');
  writeFileSync(summaryFile, '');
  const env: NodeJS.ProcessEnv = {
    PATH: process.env['PATH'],
    HOME: dir,
    RUNNER_TEMP: dir,
    GITHUB_OUTPUT: outputFile,
    GITHUB_STEP_SUMMARY: summaryFile,
    GITHUB_ACTIONS: 'true',
  };
  for (const [name, value] of Object.entries(inputs)) env[`INPUT_${name.replace(/ /g, '_').toUpperCase()}`] = value;
  const child = spawn(process.execPath, [DIST], { env, stdio: ['ignore', 'pipe', 'pipe'] });
  let log = '';
  child.stdout.on('data', (d: Buffer) => (log += d.toString()));
  child.stderr.on('data', (d: Buffer) => (log += d.toString()));
  const code = await new Promise<number>((resolve) => child.on('close', (c) => resolve(c ?? -1)));
  const outputs = parseOutputFile(readFileSync(outputFile, 'utf8'));
  const summary = readFileSync(summaryFile, 'utf8');
  rmSync(dir, { recursive: true, force: true });
  const error = log
    .split('\n')
    .filter((l) => l.startsWith('::error::'))
    .map((l) => decodeCommand(l.slice('::error::'.length)))
    .join('\n');
  return { code, log, outputs, summary, error };
}

export function reportOf(run: ActionRun): Record<string, unknown>[] {
  return JSON.parse(run.outputs['report'] ?? '[]') as Record<string, unknown>[];
}

// ---------------------------------------------------------------------------------------
// A switchable app on loopback (the same modes as the droplet app's CGI script).

type Mode = 'ok' | 'delay' | 'flap' | 'error' | 'wrongbody' | 'slow';

const SECRET = 'tok-5ec2e7-value';

class SwitchableApp {
  mode: Mode = 'ok';
  requests = 0;
  readyAt = 0;
  slowMs = 400;
  private flip = false;
  readonly server: http.Server | https.Server;

  constructor(tls?: { key: string; cert: string }) {
    const handler = (req: http.IncomingMessage, res: http.ServerResponse): void => {
      this.requests += 1;
      const send = (status: number, body: string): void => {
        res.writeHead(status, { 'content-type': 'application/json' });
        res.end(body);
      };
      switch (this.mode) {
        case 'ok':
          return send(200, '{"status":"ok"}');
        case 'delay':
          return Date.now() >= this.readyAt ? send(200, '{"status":"ok"}') : send(503, '{"status":"starting"}');
        case 'flap':
          this.flip = !this.flip;
          return this.flip ? send(200, '{"status":"ok"}') : send(500, '{"status":"flap"}');
        case 'error':
          // echoes the request's secret header: the report must show it masked
          return send(500, `{"error":"db down","auth":"${String(req.headers['authorization'] ?? '')}"}`);
        case 'wrongbody':
          return send(200, '{"status":"degraded"}');
        case 'slow':
          setTimeout(() => send(200, '{"status":"ok"}'), this.slowMs);
          return;
      }
    };
    this.server = tls ? https.createServer(tls, handler) : http.createServer(handler);
  }

  async listen(): Promise<string> {
    await new Promise<void>((resolve) => this.server.listen(0, '127.0.0.1', resolve));
    const { port } = this.server.address() as AddressInfo;
    return `${this.server instanceof https.Server ? 'https' : 'http'}://127.0.0.1:${port}`;
  }

  close(): Promise<void> {
    return new Promise((resolve) => {
      this.server.close(() => resolve());
      (this.server as http.Server).closeAllConnections?.();
    });
  }
}

/** Certificates for 127.0.0.1 made with openssl: self-signed valid 30 days, and one expired in 2021. */
function makeCerts(dir: string): { valid: { key: string; cert: string }; expired: { key: string; cert: string } } {
  mkdirSync(dir, { recursive: true });
  const sh = (args: string[]): void => {
    const r = spawnSync('openssl', args, { cwd: dir, encoding: 'utf8' });
    if (r.status !== 0) throw new Error(`openssl ${args[0]} failed: ${r.stderr}`);
  };
  const key = ['-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes'];
  const subject = ['-subj', '/CN=127.0.0.1', '-addext', 'subjectAltName=IP:127.0.0.1'];
  sh(['req', '-x509', ...key, '-keyout', 'valid.key', '-out', 'valid.crt', '-days', '30', ...subject]);
  writeFileSync(join(dir, 'index.txt'), '');
  writeFileSync(join(dir, 'serial'), '01\n');
  writeFileSync(
    join(dir, 'ca.cnf'),
    [
      '[ ca ]',
      'default_ca = CA_default',
      '[ CA_default ]',
      'dir = .',
      'database = ./index.txt',
      'new_certs_dir = .',
      'serial = ./serial',
      'default_md = sha256',
      'policy = policy_any',
      'copy_extensions = copy',
      'unique_subject = no',
      '[ policy_any ]',
      'commonName = supplied',
      '',
    ].join('\n'),
  );
  sh(['req', '-new', ...key, '-keyout', 'expired.key', '-out', 'expired.csr', ...subject]);
  sh([
    'ca',
    '-batch',
    '-config',
    'ca.cnf',
    '-selfsign',
    '-keyfile',
    'expired.key',
    '-in',
    'expired.csr',
    '-out',
    'expired.crt',
    '-startdate',
    '20200101000000Z',
    '-enddate',
    '20210101000000Z',
  ]);
  const read = (f: string): string => readFileSync(join(dir, f), 'utf8');
  return {
    valid: { key: read('valid.key'), cert: read('valid.crt') },
    expired: { key: read('expired.key'), cert: read('expired.crt') },
  };
}

beforeAll(() => {
  if (process.env['HEALTH_GATE_PREBUILT'] === '1') return;
  const r = spawnSync(process.execPath, [join(ROOT, 'scripts/build.mjs'), 'health-gate'], {
    cwd: ROOT,
    encoding: 'utf8',
  });
  if (r.status !== 0) throw new Error(`node scripts/build.mjs health-gate failed:\n${r.stdout}\n${r.stderr}`);
}, 300_000);

describe('health-gate (bundled) — runner-side checks against a switchable app on loopback', () => {
  const app = new SwitchableApp();
  let base = '';
  const certDir = mkdtempSync(join(tmpdir(), 'hg-certs-'));
  let selfSigned: SwitchableApp;
  let expired: SwitchableApp;
  let selfSignedUrl = '';
  let expiredUrl = '';

  beforeAll(async () => {
    base = await app.listen();
    const certs = makeCerts(certDir);
    selfSigned = new SwitchableApp(certs.valid);
    expired = new SwitchableApp(certs.expired);
    selfSignedUrl = await selfSigned.listen();
    expiredUrl = await expired.listen();
  });
  afterAll(async () => {
    await Promise.all([app.close(), selfSigned?.close(), expired?.close()]);
    rmSync(certDir, { recursive: true, force: true });
  });

  it('healthy after a delay: passes once the app is ready, attempts reported', async () => {
    app.mode = 'delay';
    app.readyAt = Date.now() + 1500;
    app.requests = 0;
    const run = await runHealthGate({
      url: `${base}/health`,
      'expect-status': '200',
      interval: '250ms',
      timeout: '30s',
    });
    expect(run.code, run.log).toBe(0);
    expect(run.outputs['passed']).toBe('true');
    const attempts = Number(run.outputs['attempts']);
    expect(attempts).toBeGreaterThan(1);
    expect(attempts).toBe(app.requests);
    expect(run.outputs['last-status']).toBe('200');
    expect(Number(run.outputs['latency-p50-ms'])).toBeGreaterThanOrEqual(0);
    expect(run.outputs['latency-p95-ms']).toMatch(/^\d+$/);
    const [report] = reportOf(run);
    expect(report).toMatchObject({ passed: true, attempts, passes: 1, lastStatus: '200' });
    expect(run.log).toContain('attempt 1: fail 503');
    expect(run.summary).toContain('### Health gate passed');
    expect(run.summary).toContain(`| pass | 1/${attempts} | 200 |`);
  });

  it('flapping: successes 3 never holds → fails within the deadline; successes 1 passes', async () => {
    app.mode = 'flap';
    app.requests = 0;
    const run = await runHealthGate({
      checks: `- name: api\n  url: ${base}/health\n  successes: 3`,
      interval: '200ms',
      timeout: '3s',
    });
    expect(run.code).toBe(1);
    expect(run.outputs['passed']).toBe('false');
    const attempts = Number(run.outputs['attempts']);
    // attempts every 200ms within 3s, stopping once 3 in a row cannot fit: at most 16
    expect(attempts).toBeGreaterThanOrEqual(5);
    expect(attempts).toBeLessThanOrEqual(16);
    const [report] = reportOf(run);
    expect(report?.['passed']).toBe(false);
    expect(Number(report?.['passes'])).toBeGreaterThan(0);
    expect(run.error).toContain('check "api" did not pass within 3s');
    expect(run.error).toContain('needed 3 passes in a row');

    const once = await runHealthGate({
      checks: `- name: api\n  url: ${base}/health\n  successes: 1`,
      interval: '200ms',
      timeout: '3s',
    });
    expect(once.code, once.log).toBe(0);
  });

  it('500s: fails naming the check, the last status and a masked body excerpt', async () => {
    app.mode = 'error';
    const run = await runHealthGate({
      checks: `- name: orders\n  url: ${base}/health\n  headers: {Authorization: "Bearer ${SECRET}"}`,
      interval: '200ms',
      timeout: '1s',
    });
    expect(run.code).toBe(1);
    expect(run.outputs['passed']).toBe('false');
    expect(run.outputs['last-status']).toBe('500');
    expect(run.error).toContain('health-gate failed: 1 of 1 check(s) failed');
    expect(run.error).toContain('check "orders" did not pass within 1s');
    expect(run.error).toContain('last status 500 (status 500 is not one of 200-299)');
    expect(run.error).toContain('body: "{\\"error\\":\\"db down\\",\\"auth\\":\\"***\\"}"');
    // the secret appears nowhere: not in the log, the outputs or the summary
    expect(run.log).toContain(`::add-mask::${SECRET}`);
    const withoutMaskCommands = run.log
      .split('\n')
      .filter((l) => !l.startsWith('::add-mask::'))
      .join('\n');
    expect(withoutMaskCommands).not.toContain(SECRET);
    expect(JSON.stringify(run.outputs)).not.toContain(SECRET);
    expect(run.summary).not.toContain(SECRET);
    expect(run.summary).toContain('### Health gate failed');
    expect(run.summary).toContain('| orders | http |');
  });

  it('wrong body: JSON path, contains and regex mismatches are named', async () => {
    app.mode = 'wrongbody';
    const json = await runHealthGate({
      checks: `- name: status\n  url: ${base}/health\n  json: {"$.status": ok}`,
      interval: '200ms',
      timeout: '600ms',
    });
    expect(json.code).toBe(1);
    expect(json.outputs['last-status']).toBe('200');
    expect(json.error).toContain('last status 200 (JSON $.status is "degraded", expected "ok")');
    expect(json.error).toContain('body: "{\\"status\\":\\"degraded\\"}"');

    const contains = await runHealthGate({
      checks: `- name: c\n  url: ${base}/health\n  contains: '"ok"'\n- name: r\n  url: ${base}/health\n  regex: "^\\\\{\\"status\\":\\"ok"`,
      interval: '200ms',
      timeout: '600ms',
    });
    expect(contains.code).toBe(1);
    expect(contains.error).toContain('check "c" did not pass');
    expect(contains.error).toContain('body does not contain "\\"ok\\""');
    expect(contains.error).toContain('check "r" did not pass');
    expect(contains.error).toContain('body does not match /^\\{"status":"ok/');
    expect(contains.outputs['last-status']).toBe('c: 200; r: 200');
  });

  it('slow responses over the latency budget fail with the measured p95', async () => {
    app.mode = 'slow';
    app.slowMs = 400;
    const run = await runHealthGate({
      url: `${base}/health`,
      successes: '3',
      interval: '100ms',
      timeout: '20s',
      'latency-budget': '150ms',
    });
    expect(run.code).toBe(1);
    expect(run.outputs['passed']).toBe('false');
    const p95 = Number(run.outputs['latency-p95-ms']);
    expect(p95).toBeGreaterThanOrEqual(400);
    expect(run.error).toContain(`answered but too slowly: latency p95 ${p95}ms is over the budget of 150ms`);
    expect(reportOf(run)[0]).toMatchObject({ passed: false, passes: 3, latencyBudgetMs: 150 });

    app.mode = 'ok';
    const fast = await runHealthGate({
      url: `${base}/health`,
      successes: '3',
      interval: '100ms',
      timeout: '20s',
      'latency-budget': '150ms',
    });
    expect(fast.code, fast.log).toBe(0);
    expect(Number(fast.outputs['latency-p95-ms'])).toBeLessThanOrEqual(150);
  });

  it('self-signed certificate: fails with verification on; passes with it off (warned); cert-min-days still applies', async () => {
    const on = await runHealthGate({ url: `${selfSignedUrl}/health`, interval: '200ms', timeout: '600ms' });
    expect(on.code).toBe(1);
    expect(on.outputs['last-status']).toBe('DEPTH_ZERO_SELF_SIGNED_CERT');
    expect(on.error).toContain('TLS: self-signed certificate');

    const off = await runHealthGate({
      checks: `- name: tls-off\n  url: ${selfSignedUrl}/health\n  tls-verify: false\n  cert-min-days: 7`,
      timeout: '5s',
    });
    expect(off.code, off.log).toBe(0);
    expect(off.log).toContain('::warning::check "tls-off": TLS verification is off');

    const soon = await runHealthGate({
      checks: `- name: renew\n  url: ${selfSignedUrl}/health\n  tls-verify: false\n  cert-min-days: 60`,
      interval: '200ms',
      timeout: '600ms',
    });
    expect(soon.code).toBe(1);
    expect(soon.error).toMatch(/certificate expires in (29|30) day\(s\); at least 60 day\(s\) required/);
  });

  it('expired certificate: fails with verification on; with it off only cert-min-days catches it', async () => {
    const on = await runHealthGate({ url: `${expiredUrl}/health`, interval: '200ms', timeout: '600ms' });
    expect(on.code).toBe(1);
    expect(on.outputs['last-status']).toMatch(/^(CERT_HAS_EXPIRED|DEPTH_ZERO_SELF_SIGNED_CERT)$/);
    expect(on.error).toContain('TLS: ');

    const off = await runHealthGate({ checks: `- url: ${expiredUrl}/health\n  tls-verify: false`, timeout: '5s' });
    expect(off.code, off.log).toBe(0);

    const days = await runHealthGate({
      checks: `- name: exp\n  url: ${expiredUrl}/health\n  tls-verify: false\n  cert-min-days: 1`,
      interval: '200ms',
      timeout: '600ms',
    });
    expect(days.code).toBe(1);
    expect(days.error).toMatch(/certificate expired \d+ day\(s\) ago; at least 1 day\(s\) required/);
  });

  it('tcp: an open port passes, a closed one fails with ECONNREFUSED', async () => {
    const port = new URL(base).port;
    const run = await runHealthGate({
      checks: `- kind: tcp\n  address: 127.0.0.1:${port}\n- {kind: tcp, host: 127.0.0.1, port: 1, name: closed}`,
      interval: '200ms',
      timeout: '600ms',
    });
    expect(run.code).toBe(1);
    const [open, closed] = reportOf(run);
    expect(open).toMatchObject({ passed: true, lastStatus: 'connected' });
    expect(closed).toMatchObject({ passed: false, lastStatus: 'ECONNREFUSED' });
    expect(run.error).toContain('check "closed" did not pass');
  });

  it.each([
    {
      what: 'bad status range',
      inputs: (u: string) => ({
        checks: `- {url: "${u}"}\n- {url: "${u}/b"}\n- {url: "${u}/c", expect-status: "2xx,abc"}`,
      }),
      message: 'checks[2].expect-status has "2xx,abc": "abc" is not a status code or range',
    },
    {
      what: 'unknown kind',
      inputs: (u: string) => ({ checks: `- {url: "${u}"}\n- {kind: ping, host: 127.0.0.1}` }),
      message: 'checks[1].kind has "ping": unknown check kind; expected one of http, tcp, container',
    },
    {
      what: 'negative timeout',
      inputs: (u: string) => ({ checks: `- {url: "${u}", timeout: -5s}` }),
      message: 'checks[0].timeout has "-5s": must not be negative',
    },
    {
      what: 'negative input timeout',
      inputs: (u: string) => ({ url: u, timeout: '-1m' }),
      message: 'input "timeout" has "-1m": must not be negative',
    },
    {
      what: 'shorthand expect-status',
      inputs: (u: string) => ({ url: u, 'expect-status': '200,2x' }),
      message: 'input "expect-status" has "200,2x": "2x" is not a status code or range',
    },
    {
      what: 'misspelt field',
      inputs: (u: string) => ({ checks: `- {url: "${u}", expected-status: 200}` }),
      message: 'checks[0] has unknown field "expected-status" for a http check',
    },
    {
      what: 'container check without a host',
      inputs: (u: string) => ({ checks: `- {url: "${u}"}\n- {kind: container, app: shop}` }),
      message: 'checks[1] ("containers of shop") runs on the droplet, so input "host" (or "hosts") is required',
    },
  ])('bad definition ($what) fails before any request, naming the field', async ({ inputs, message }) => {
    app.mode = 'ok';
    app.requests = 0;
    const run = await runHealthGate(inputs(`${base}/health`));
    expect(run.code).toBe(1);
    expect(run.error).toBe(`health-gate failed: ${message}`);
    expect(app.requests).toBe(0);
    expect(run.outputs).toEqual({});
  });
});
