// health-gate end to end: the BUNDLED action (dist/health-gate/index.js) run as a child
// process exactly as the runner runs a node24 action (INPUT_* env, GITHUB_OUTPUT and
// GITHUB_STEP_SUMMARY files), against
//   - a switchable app served on loopback from this process (runner-side http, tcp, TLS
//     with certificates made by openssl: self-signed and expired), and
//   - the lab (see the droplet part further down).
// Every outcome is asserted from the action's exit code, outputs, summary and error text.

import { spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import * as http from 'node:http';
import * as https from 'node:https';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import { type FixtureDroplet, useLab } from '../lab/fixture.js';
import { buildPrivateBundle } from '../support/private-bundle.js';
import { runAction } from '../support/run-action.js';

const ROOT = new URL('../..', import.meta.url).pathname;

interface ActionRun {
  code: number | null;
  /** Everything the action printed (workflow commands included). */
  log: string;
  outputs: Record<string, string>;
  summary: string;
  /** The ::error:: annotation text, decoded. */
  error: string;
}

/** Runs the bundled action like the runner (test/support/run-action.ts): async, so servers in this process keep answering. */
async function runHealthGate(inputs: Record<string, string>): Promise<ActionRun> {
  const r = await runAction('health-gate', { inputs, timeoutMs: 180_000, distRoot });
  return { code: r.exitCode, log: r.log, outputs: r.outputs, summary: r.summary, error: r.errors.join('\n') };
}

function reportOf(run: ActionRun): Record<string, unknown>[] {
  return JSON.parse(run.outputs['report'] ?? '[]') as Record<string, unknown>[];
}

// ---------------------------------------------------------------------------------------
// A switchable app on loopback (the same modes as the droplet app's CGI script).

type Mode = 'ok' | 'delay' | 'flap' | 'error' | 'wrongbody' | 'slow' | 'echo' | 'redirect';

const SECRET = 'tok-5ec2e7-value';

class SwitchableApp {
  mode: Mode = 'ok';
  requests = 0;
  readyAfterMs = 0;
  firstAt = 0;
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
          // ready `readyAfterMs` after the first request (independent of how long the action takes to start)
          if (this.firstAt === 0) this.firstAt = Date.now();
          return Date.now() - this.firstAt >= this.readyAfterMs
            ? send(200, '{"status":"ok"}')
            : send(503, '{"status":"starting"}');
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
        case 'echo': {
          let body = '';
          req.on('data', (c: Buffer) => (body += c.toString()));
          req.on('end', () =>
            send(200, JSON.stringify({ method: req.method, type: req.headers['content-type'] ?? '', body })),
          );
          return;
        }
        case 'redirect':
          if (req.url === '/final') return send(200, '{"status":"ok","via":"redirect"}');
          res.writeHead(302, { location: '/final' });
          res.end();
          return;
      }
    };
    this.server = tls ? https.createServer(tls, handler) : http.createServer(handler);
  }

  async listen(address = '127.0.0.1'): Promise<string> {
    await new Promise<void>((resolve) => this.server.listen(0, address, resolve));
    const { port } = this.server.address() as AddressInfo;
    return `${this.server instanceof https.Server ? 'https' : 'http'}://${address}:${port}`;
  }

  close(): Promise<void> {
    return new Promise((resolve) => {
      this.server.close(() => resolve());
      (this.server as http.Server).closeAllConnections?.();
    });
  }
}

/** Certificates for 127.0.0.1 made with openssl: self-signed valid 30 days, and one expired in 2021. */
function makeCerts(
  dir: string,
  ips: readonly string[] = ['127.0.0.1'],
): { valid: { key: string; cert: string }; expired: { key: string; cert: string } } {
  mkdirSync(dir, { recursive: true });
  const sh = (args: string[]): void => {
    const r = spawnSync('openssl', args, { cwd: dir, encoding: 'utf8' });
    if (r.status !== 0) throw new Error(`openssl ${args[0]} failed: ${r.stderr}`);
  };
  const key = ['-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes'];
  const subject = ['-subj', `/CN=${ips[0]}`, '-addext', `subjectAltName=${ips.map((ip) => `IP:${ip}`).join(',')}`];
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

// built from the sources into a private folder: never the shared dist/
let distRoot = '';
beforeAll(() => {
  distRoot = buildPrivateBundle('health-gate');
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
    app.readyAfterMs = 1500;
    app.firstAt = 0;
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
    app.slowMs = 600;
    const run = await runHealthGate({
      url: `${base}/health`,
      successes: '3',
      interval: '100ms',
      timeout: '20s',
      'latency-budget': '300ms',
    });
    expect(run.code).toBe(1);
    expect(run.outputs['passed']).toBe('false');
    const p95 = Number(run.outputs['latency-p95-ms']);
    expect(p95).toBeGreaterThanOrEqual(600);
    expect(run.error).toContain(`answered but too slowly: latency p95 ${p95}ms is over the budget of 300ms`);
    expect(reportOf(run)[0]).toMatchObject({ passed: false, passes: 3, latencyBudgetMs: 300 });

    app.mode = 'ok';
    const fast = await runHealthGate({
      url: `${base}/health`,
      successes: '3',
      interval: '100ms',
      timeout: '20s',
      'latency-budget': '300ms',
    });
    expect(fast.code, fast.log).toBe(0);
    expect(Number(fast.outputs['latency-p95-ms'])).toBeLessThanOrEqual(300);
  });

  it('POST with a JSON body; redirects followed only when asked', async () => {
    app.mode = 'echo';
    const post = await runHealthGate({
      checks: `- name: post\n  url: ${base}/echo\n  method: POST\n  body: {ping: 1}\n  json: {"$.method": POST, "$.type": application/json, "$.body": '{"ping":1}'}`,
      timeout: '5s',
    });
    expect(post.code, post.log).toBe(0);

    app.mode = 'redirect';
    const stay = await runHealthGate({ url: `${base}/start`, interval: '200ms', timeout: '600ms' });
    expect(stay.code).toBe(1);
    expect(stay.outputs['last-status']).toBe('302');
    const as3xx = await runHealthGate({ url: `${base}/start`, 'expect-status': '3xx', timeout: '5s' });
    expect(as3xx.code, as3xx.log).toBe(0);
    const follow = await runHealthGate({
      checks: `- url: ${base}/start\n  follow-redirects: true\n  contains: '"via":"redirect"'`,
      timeout: '5s',
    });
    expect(follow.code, follow.log).toBe(0);
    expect(follow.outputs['last-status']).toBe('200');
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

// ---------------------------------------------------------------------------------------
// On a lab droplet: the same switchable app as busybox httpd CGI scripts (fixtures/health-gate)
// in a Compose project "hgapp" published on the droplet's port 80, with a Docker healthcheck.

const FIXTURES = join(ROOT, 'test/e2e/fixtures/health-gate');
const APP_DIR = '/opt/hgapp';

describe('health-gate (bundled) — against a switchable app on a lab droplet', () => {
  const lab = useLab();
  let d: FixtureDroplet;
  let appUrl = '';
  let ssh: Record<string, string> = {};
  const certDir = mkdtempSync(join(tmpdir(), 'hg-gw-certs-'));
  let gatewayTls: SwitchableApp | undefined;
  let gatewayTlsUrl = '';

  const sh = async (command: string, stdin?: string): Promise<string> => {
    const r = await lab.exec(d, command, stdin !== undefined ? { stdin } : {});
    if (r.code !== 0) throw new Error(`on the droplet: ${command} → exit ${r.code}: ${r.stderr}`);
    return r.stdout;
  };
  /** Puts the app's files on a droplet and starts it with the given Compose command. */
  const installApp = async (target: FixtureDroplet, up: string): Promise<void> => {
    const on = async (command: string, stdin?: string): Promise<void> => {
      const r = await lab.exec(target, command, stdin !== undefined ? { stdin } : {});
      if (r.code !== 0) throw new Error(`on ${target.name}: ${command} → exit ${r.code}: ${r.stderr}`);
    };
    const image = lab.env.LAB_APP_IMAGES.split(',').find((i) => /\/web(:|$)/.test(i));
    if (!image) throw new Error(`no web image in LAB_APP_IMAGES=${lab.env.LAB_APP_IMAGES}`);
    await on(`mkdir -p ${APP_DIR}/www/cgi-bin ${APP_DIR}/www/state && chmod 777 ${APP_DIR}/www/state`);
    for (const [file, path, mode] of [
      ['compose.yaml', `${APP_DIR}/compose.yaml`, '644'],
      ['health', `${APP_DIR}/www/cgi-bin/health`, '755'],
      ['probe', `${APP_DIR}/www/cgi-bin/probe`, '755'],
    ] as const) {
      await on(`cat > ${path} && chmod ${mode} ${path}`, readFileSync(join(FIXTURES, file), 'utf8'));
    }
    await on(`echo APP_IMAGE=${image} > ${APP_DIR}/.env && echo ok > ${APP_DIR}/www/mode`);
    await on(`cd ${APP_DIR} && ${up}`);
  };
  const setMode = (mode: string): Promise<string> =>
    sh(`rm -f ${APP_DIR}/www/state/flap ${APP_DIR}/www/state/first && echo "${mode}" > ${APP_DIR}/www/mode`);

  beforeAll(async () => {
    d = await lab.createDroplet({ variant: 'trixie' });
    await installApp(d, 'docker compose -p hgapp up -d --wait --wait-timeout 120');
    appUrl = `http://${d.publicIpv4}/cgi-bin/health`;
    ssh = {
      host: d.publicIpv4,
      'ssh-private-key': lab.identity.privateKey,
      'known-hosts': `${d.publicIpv4} ${d.hostKey}`,
      app: 'hgapp',
    };
    // An https server on the lab network's gateway (this host), reachable from the droplet,
    // with an expired certificate: for curl's TLS handling in in-droplet checks.
    const gateway = lab.info.network.gateway;
    const certs = makeCerts(certDir, [gateway]);
    gatewayTls = new SwitchableApp(certs.expired);
    gatewayTlsUrl = await gatewayTls.listen(gateway);
  }, 300_000);
  afterAll(async () => {
    await gatewayTls?.close();
    rmSync(certDir, { recursive: true, force: true });
  });

  it('healthy after a delay (runner → droplet port 80): passes, attempts reported', async () => {
    await setMode('delay 3');
    const run = await runHealthGate({ url: appUrl, 'expect-status': '200', interval: '500ms', timeout: '60s' });
    expect(run.code, run.log).toBe(0);
    expect(run.outputs['passed']).toBe('true');
    const attempts = Number(run.outputs['attempts']);
    expect(attempts).toBeGreaterThan(1);
    expect(reportOf(run)[0]).toMatchObject({ passed: true, attempts, passes: 1, lastStatus: '200' });
    expect(run.log).toContain('attempt 1: fail 503');
    expect(run.outputs['latency-p95-ms']).toMatch(/^\d+$/);
  });

  it('{host} in a runner-side url runs the check once per droplet address (no SSH needed)', async () => {
    await setMode('ok');
    const run = await runHealthGate({ url: 'http://{host}/cgi-bin/health', hosts: d.publicIpv4, timeout: '20s' });
    expect(run.code, run.log).toBe(0);
    expect(reportOf(run)[0]).toMatchObject({
      name: `http http://{host}/cgi-bin/health @ ${d.publicIpv4}`,
      target: `GET ${appUrl}`,
      passed: true,
    });
  });

  it('flapping app: successes 3 fails within the deadline', async () => {
    await setMode('flap');
    const run = await runHealthGate({ url: appUrl, successes: '3', interval: '300ms', timeout: '4s' });
    expect(run.code).toBe(1);
    expect(run.outputs['passed']).toBe('false');
    const [report] = reportOf(run);
    expect(Number(report?.['passes'])).toBeGreaterThan(0);
    expect(Number(report?.['attempts'])).toBeLessThanOrEqual(Math.floor(4000 / 300) + 1);
    expect(run.error).toContain('needed 3 passes in a row');
  });

  it('500s: fails with the status and the body excerpt', async () => {
    await setMode('error');
    const run = await runHealthGate({ url: appUrl, interval: '300ms', timeout: '1s' });
    expect(run.code).toBe(1);
    expect(run.outputs['last-status']).toBe('500');
    expect(run.error).toContain(
      'last status 500 (status 500 is not one of 200-299); body: "{\\"error\\":\\"db down\\"}"',
    );
  });

  it('wrong body: fails naming the JSON path and what it was', async () => {
    await setMode('wrongbody');
    const run = await runHealthGate({
      checks: `- name: app-status\n  url: ${appUrl}\n  json: {"$.status": ok}`,
      interval: '300ms',
      timeout: '1s',
    });
    expect(run.code).toBe(1);
    expect(run.error).toContain('check "app-status" did not pass');
    expect(run.error).toContain('JSON $.status is "degraded", expected "ok"');
  });

  it('slow responses over the latency budget fail', async () => {
    await setMode('slow 1');
    const run = await runHealthGate({
      url: appUrl,
      successes: '2',
      interval: '200ms',
      timeout: '30s',
      'latency-budget': '300ms',
    });
    expect(run.code).toBe(1);
    const p95 = Number(run.outputs['latency-p95-ms']);
    expect(p95).toBeGreaterThanOrEqual(1000);
    expect(run.error).toContain(`latency p95 ${p95}ms is over the budget of 300ms`);
  });

  it('in-droplet http (curl over SSH): passes when ok, fails with status and body, times out per attempt', async () => {
    await setMode('ok');
    const inside = `- name: inside\n  via: droplet\n  url: http://127.0.0.1/cgi-bin/health\n  json: {"$.status": ok}\n  headers: {X-Api-Key: "${SECRET}"}`;
    const ok = await runHealthGate({ checks: inside, timeout: '30s', ...ssh });
    expect(ok.code, ok.log).toBe(0);
    expect(reportOf(ok)[0]).toMatchObject({
      passed: true,
      kind: 'http',
      lastStatus: '200',
      target: 'GET http://127.0.0.1/cgi-bin/health (from ' + d.publicIpv4 + ')',
    });

    await setMode('error');
    const bad = await runHealthGate({ checks: inside, interval: '300ms', timeout: '2s', ...ssh });
    expect(bad.code).toBe(1);
    expect(bad.outputs['last-status']).toBe('500');
    expect(bad.error).toContain('check "inside" did not pass');
    expect(bad.error).toContain('body: "{\\"error\\":\\"db down\\"}"');
    expect(
      bad.log
        .split('\n')
        .filter((l) => !l.startsWith('::add-mask::'))
        .join('\n'),
    ).not.toContain(SECRET);

    await setMode('slow 3');
    const slow = await runHealthGate({
      checks: `- name: inside-slow\n  via: droplet\n  url: http://127.0.0.1/cgi-bin/health\n  attempt-timeout: 1s`,
      interval: '200ms',
      timeout: '3s',
      ...ssh,
    });
    expect(slow.code).toBe(1);
    expect(slow.outputs['last-status']).toBe('timeout');
    expect(slow.error).toContain('curl: (28)');
  });

  it('in-droplet https with an expired certificate: TLS failure; with verification off, cert-min-days reads the cert via curl', async () => {
    const on = await runHealthGate({
      checks: `- name: tls\n  via: droplet\n  url: ${gatewayTlsUrl}/health`,
      interval: '300ms',
      timeout: '1s',
      ...ssh,
    });
    expect(on.code).toBe(1);
    expect(on.outputs['last-status']).toBe('TLS');
    expect(on.error).toContain('TLS: curl: (60)');

    const off = await runHealthGate({
      checks: `- name: tls-off\n  via: droplet\n  url: ${gatewayTlsUrl}/health\n  tls-verify: false\n  cert-min-days: 1`,
      interval: '300ms',
      timeout: '1s',
      ...ssh,
    });
    expect(off.code).toBe(1);
    expect(off.log).toContain('::warning::check "tls-off": TLS verification is off');
    expect(off.error).toMatch(/certificate expired \d+ day\(s\) ago; at least 1 day\(s\) required/);
  });

  it('container check: healthy passes; an unhealthy container fails with its health log and last log lines', async () => {
    await setMode('ok');
    await sh(`rm -f ${APP_DIR}/www/probe-fail`);
    const healthy = await runHealthGate({ checks: '- kind: container', timeout: '60s', ...ssh });
    expect(healthy.code, healthy.log).toBe(0);
    expect(reportOf(healthy)[0]).toMatchObject({ passed: true, kind: 'container', lastStatus: 'healthy' });

    await sh(`touch ${APP_DIR}/www/probe-fail`);
    // Docker marks the container unhealthy after `retries` failed probes; wait for that (bounded).
    let health = '';
    for (let i = 0; i < 60 && health !== 'unhealthy'; i += 1) {
      health = (await sh("docker inspect -f '{{.State.Health.Status}}' hgapp-web-1")).trim();
      if (health !== 'unhealthy') await new Promise((r) => setTimeout(r, 500));
    }
    expect(health).toBe('unhealthy');
    const run = await runHealthGate({
      checks: '- kind: container\n  services: [web]\n  log-lines: 5',
      interval: '500ms',
      timeout: '8s',
      ...ssh,
    });
    await sh(`rm -f ${APP_DIR}/www/probe-fail`);
    expect(run.code).toBe(1);
    expect(run.outputs['passed']).toBe('false');
    expect(run.outputs['last-status']).toBe('unhealthy');
    expect(run.error).toContain('check "containers of hgapp (web)" did not pass within 8s');
    expect(run.error).toContain('last status unhealthy (web (hgapp-web-1): unhealthy)');
    expect(run.error).toContain('service web (container hgapp-web-1, running, unhealthy):');
    expect(run.error).toContain('health log:');
    expect(run.error).toMatch(/exit 1 at .*: wget: server returned error: HTTP\/1\.1 500/);
    expect(run.error).toContain('last 5 log lines:');
    expect(run.error).toContain('url:/cgi-bin/probe');
    const [report] = reportOf(run);
    expect(String(report?.['diagnostics'])).toContain('health log:');
    expect(run.summary).toContain('containers of hgapp (web): why it failed');
  });

  it('container check on Compose v1 (bookworm droplet, docker-compose 1.29): state read from Docker works the same', async () => {
    const v1 = await lab.createDroplet({ variant: 'bookworm' });
    try {
      await installApp(v1, 'docker-compose -p hgapp -f compose.yaml up -d');
      const target = {
        host: v1.publicIpv4,
        'ssh-private-key': lab.identity.privateKey,
        'known-hosts': `${v1.publicIpv4} ${v1.hostKey}`,
        app: 'hgapp',
      };
      // the container starts "starting": the check polls until Docker says healthy
      const healthy = await runHealthGate({
        checks: '- kind: container\n  services: [web]',
        interval: '500ms',
        timeout: '60s',
        ...target,
      });
      expect(healthy.code, healthy.log).toBe(0);
      expect(reportOf(healthy)[0]).toMatchObject({ passed: true, lastStatus: 'healthy' });

      const r = await lab.exec(v1, `cd ${APP_DIR} && docker-compose -p hgapp -f compose.yaml stop web`);
      expect(r.code, r.stderr).toBe(0);
      const stopped = await runHealthGate({
        checks: '- kind: container\n  log-lines: 3',
        interval: '300ms',
        timeout: '1s',
        ...target,
      });
      expect(stopped.code).toBe(1);
      expect(stopped.error).toMatch(/last status exited \(\d+\) \(web \(hgapp_web_1\): exited \(\d+\)\)/);
      expect(stopped.error).toContain('service web (container hgapp_web_1, exited');
      expect(stopped.error).toContain('last 3 log lines:');
    } finally {
      await lab.destroy(v1);
    }
  });
});
