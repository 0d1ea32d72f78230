import { describe, expect, it } from 'vitest';

import { ConfigurationError } from '../action/errors.js';
import { attemptBudget } from './check.js';
import {
  type ContainerDefinition,
  type DefinitionDefaults,
  type HttpDefinition,
  parseCheckList,
  shorthandDefinition,
  type TcpDefinition,
} from './definitions.js';
import { judgeResponse, lookupJson, parseJsonPath } from './expect.js';
import { parseStatusSpec, statusMatches } from './status.js';

const defaults: DefinitionDefaults = {
  intervalMs: 2000,
  successes: 1,
  timeoutMs: 120_000,
  startDelayMs: 0,
  app: 'shop',
};

describe('status specs', () => {
  it.each([
    { spec: '200', yes: [200], no: [201, 500] },
    { spec: '200,204', yes: [200, 204], no: [201] },
    { spec: '2xx', yes: [200, 250, 299], no: [199, 300] },
    { spec: '2XX, 301', yes: [204, 301], no: [302] },
    { spec: '200-204,3xx', yes: [200, 204, 302], no: [205, 404] },
    { spec: ' 500 - 599 ', yes: [503], no: [499] },
  ])('$spec', ({ spec, yes, no }) => {
    const parsed = parseStatusSpec(spec);
    for (const s of yes) expect(statusMatches(parsed, s)).toBe(true);
    for (const s of no) expect(statusMatches(parsed, s)).toBe(false);
  });

  it('accepts YAML numbers and lists', () => {
    expect(parseStatusSpec(204).ranges).toEqual([{ min: 204, max: 204 }]);
    expect(parseStatusSpec([200, '3xx']).ranges).toEqual([
      { min: 200, max: 200 },
      { min: 300, max: 399 },
    ]);
  });

  it.each([
    { spec: '2xx,abc', message: '"abc" is not a status code or range' },
    { spec: '6xx', message: '"6xx" is not a status code or range' },
    { spec: '99', message: '"99" is not a status code or range' },
    { spec: '700', message: '700 is not an HTTP status code (100-599)' },
    { spec: '300-200', message: '"300-200" is an empty range (300 > 200)' },
    { spec: ',', message: 'no status codes given' },
  ])('rejects $spec', ({ spec, message }) => {
    expect(() => parseStatusSpec(spec)).toThrow(message);
  });
});

describe('parseCheckList: bad definitions fail naming the field', () => {
  it.each([
    {
      yaml: '- {kind: http, url: "http://127.0.0.1/a"}\n- {kind: tcp, address: "127.0.0.1:5432"}\n- {kind: http, url: "http://127.0.0.1/", expect-status: "2xx,abc"}',
      message: 'checks[2].expect-status has "2xx,abc": "abc" is not a status code or range',
    },
    {
      yaml: '- kind: smtp\n  host: x',
      message: 'checks[0].kind has "smtp": unknown check kind; expected one of http, tcp, container',
    },
    { yaml: '- host: x', message: 'checks[0].kind is required (one of http, tcp, container)' },
    { yaml: '- url: http://x/\n  timeout: -5s', message: 'checks[0].timeout has "-5s": must not be negative' },
    { yaml: '- url: http://x/\n  timeout: -5', message: 'checks[0].timeout has -5: must not be negative' },
    {
      yaml: '- url: http://x/\n  attempt-timeout: soon',
      message: 'checks[0].attempt-timeout has "soon": expected a duration',
    },
    {
      yaml: '- url: http://x/\n  interval: 0s\n  successes: 0',
      message: 'checks[0].successes has 0: must be at least 1',
    },
    {
      yaml: '- url: http://x/\n  expect_status: 200',
      message: 'checks[0] has unknown field "expect_status" for a http check (did you mean "expect-status"?)',
    },
    { yaml: '- kind: tcp\n  url: http://x/', message: 'checks[0] has unknown field "url" for a tcp check' },
    { yaml: '- url: ftp://x/', message: 'checks[0].url has "ftp://x/": URL must use http or https' },
    { yaml: '- url: "not a url"', message: 'checks[0].url has "not a url": not a valid URL' },
    { yaml: '- url: http://x/\n  regex: "(["', message: 'checks[0].regex has "([": not a valid regular expression' },
    { yaml: '- url: http://x/\n  json: {"a..b": 1}', message: 'checks[0].json has path "a..b"' },
    {
      yaml: '- url: http://x/\n  cert-min-days: 10',
      message: 'checks[0].cert-min-days has 10: only applies to https URLs',
    },
    { yaml: '- url: https://x/\n  cert-min-days: -1', message: 'checks[0].cert-min-days has -1: must be at least 0' },
    {
      yaml: '- url: http://x/\n  tls-verify: maybe',
      message: 'checks[0].tls-verify has "maybe": expected true or false',
    },
    { yaml: '- url: http://x/\n  method: FETCH', message: 'checks[0].method has "FETCH": expected one of GET, HEAD' },
    { yaml: '- url: http://x/\n  body: "{}"', message: 'checks[0].body cannot be sent with method GET' },
    { yaml: '- url: http://x/\n  via: ssh', message: 'checks[0].via has "ssh": expected one of runner, droplet' },
    { yaml: '- url: http://x/\n  headers: ["a"]', message: 'checks[0].headers must be a map' },
    {
      yaml: '- url: http://x/\n  headers: {"Bad Name": "x"}',
      message: 'checks[0].headers has "Bad Name": not a valid header name',
    },
    { yaml: '- kind: tcp\n  host: db', message: 'checks[0].port is required for a tcp check' },
    { yaml: '- kind: tcp\n  address: "db"', message: 'checks[0].address has "db": expected host:port' },
    {
      yaml: '- kind: tcp\n  address: "db:70000"',
      message: 'checks[0].address has "db:70000": port must be between 1 and 65535',
    },
    {
      yaml: '- kind: container\n  latency-budget: 1s',
      message: 'checks[0] has unknown field "latency-budget" for a container check',
    },
    {
      yaml: '- kind: container\n  require: ready',
      message: 'checks[0].require has "ready": expected one of healthy, running',
    },
    {
      yaml: '- kind: container\n  services: ["web;rm"]',
      message: 'checks[0].services has "web;rm": not a Compose service name',
    },
    {
      yaml: '- url: http://x/a\n  name: one\n- url: http://x/b\n  name: one',
      message: 'checks[1].name "one" is used by two checks',
    },
    { yaml: 'url: http://x/', message: 'input "checks" must be a list of checks' },
    { yaml: '- [1, 2]', message: 'checks[0] must be a map' },
    { yaml: '- {kind: http, url: [}', message: 'input "checks" is not valid YAML or JSON' },
  ])('$message', ({ yaml, message }) => {
    let caught: unknown;
    try {
      parseCheckList(yaml, defaults);
    } catch (error) {
      caught = error;
    }
    expect(caught).toBeInstanceOf(ConfigurationError);
    expect((caught as Error).message).toContain(message);
  });

  it('a container check without app anywhere names both places', () => {
    expect(() => parseCheckList('- kind: container', { ...defaults, app: undefined })).toThrow(
      'checks[0].app is required for a container check (or set the input "app")',
    );
  });
});

describe('parseCheckList: good definitions', () => {
  it('reads every http field, with defaults filled from the action inputs', () => {
    const [d] = parseCheckList(
      `
- name: api
  url: https://user:pw@127.0.0.1:8443/health?x=1
  via: droplet
  method: post
  headers: { Authorization: "Bearer abc", X-Trace: "1", X-Custom: "c" }
  secret-headers: [x-custom]
  body: { ping: true }
  expect-status: 200,204,3xx
  contains: [ok, ready]
  regex: "^\\\\{"
  json: { "$.status": ok, "checks[0].up": true }
  follow-redirects: true
  max-redirects: 3
  attempt-timeout: 1500ms
  tls-verify: false
  cert-min-days: 14
  interval: 500ms
  successes: 3
  timeout: 30s
  start-delay: 2
  latency-budget: 250ms
`,
      defaults,
    ) as [HttpDefinition];
    expect(d).toMatchObject({
      kind: 'http',
      where: 'checks[0]',
      name: 'api',
      via: 'droplet',
      method: 'POST',
      headers: { Authorization: 'Bearer abc', 'X-Trace': '1', 'X-Custom': 'c' },
      secretHeaders: ['authorization', 'x-custom'],
      body: '{"ping":true}',
      followRedirects: true,
      maxRedirects: 3,
      attemptTimeoutMs: 1500,
      tlsVerify: false,
      poll: { intervalMs: 500, successes: 3, timeoutMs: 30_000, startDelayMs: 2000, latencyBudgetMs: 250 },
    });
    expect(d.expect.status.text).toBe('200,204,3xx');
    expect(d.expect.contains).toEqual(['ok', 'ready']);
    expect(d.expect.regex?.source).toBe('^\\{');
    expect(d.expect.json.map((j) => [j.path, j.segments, j.equals])).toEqual([
      ['$.status', ['status'], 'ok'],
      ['checks[0].up', ['checks', 0, 'up'], true],
    ]);
    expect(d.expect.certMinDays).toBe(14);
  });

  it('applies defaults; a check timeout never exceeds the overall one; JSON input works too', () => {
    const defs = parseCheckList(
      '[{"url":"http://127.0.0.1/"},{"kind":"tcp","address":"127.0.0.1:5432","timeout":"1h"},{"kind":"container","services":["web"]}]',
      { ...defaults, latencyBudgetMs: 900 },
    );
    const [h, t, c] = defs as [HttpDefinition, TcpDefinition, ContainerDefinition];
    expect(h).toMatchObject({
      name: 'http http://127.0.0.1/',
      method: 'GET',
      via: 'runner',
      followRedirects: false,
      tlsVerify: true,
      attemptTimeoutMs: 10_000,
      poll: { intervalMs: 2000, successes: 1, timeoutMs: 120_000, startDelayMs: 0, latencyBudgetMs: 900 },
    });
    expect(h.expect.status.text).toBe('200-299');
    expect(t).toMatchObject({
      name: 'tcp 127.0.0.1:5432',
      host: '127.0.0.1',
      port: 5432,
      poll: { timeoutMs: 120_000 },
    });
    expect(c.poll.latencyBudgetMs).toBeUndefined();
    expect(c).toMatchObject({
      name: 'containers of shop (web)',
      app: 'shop',
      services: ['web'],
      require: 'healthy',
      logLines: 30,
    });
  });

  it('the url/expect-status shorthand names the inputs in errors', () => {
    expect(shorthandDefinition('http://127.0.0.1:8080/', '2xx', defaults).expect.status.text).toBe('2xx');
    expect(() => shorthandDefinition('http://127.0.0.1:8080/', '2xx,abc', defaults)).toThrow(
      'input "expect-status" has "2xx,abc": "abc" is not a status code or range',
    );
    expect(() => shorthandDefinition('nope', '', defaults)).toThrow('input "url" has "nope": not a valid URL');
  });

  it('never shows a URL password in names or errors', () => {
    const [d] = parseCheckList('- url: "http://u:s3cret@127.0.0.1/"', defaults) as [HttpDefinition];
    expect(d.name).toBe('http http://u:***@127.0.0.1/');
  });
});

describe('JSON paths', () => {
  it.each([
    { path: '$.status', segments: ['status'] },
    { path: 'status', segments: ['status'] },
    { path: '$.checks[1].name', segments: ['checks', 1, 'name'] },
    { path: '$["odd key"].x', segments: ['odd key', 'x'] },
    { path: "$['a.b']", segments: ['a.b'] },
  ])('$path', ({ path, segments }) => {
    expect(parseJsonPath(path)).toEqual(segments);
  });

  it('looks values up, telling missing from null', () => {
    const doc = { a: { b: [null, { c: 0 }] } };
    expect(lookupJson(doc, ['a', 'b', 1, 'c'])).toEqual({ found: true, value: 0 });
    expect(lookupJson(doc, ['a', 'b', 0])).toEqual({ found: true, value: null });
    expect(lookupJson(doc, ['a', 'x'])).toEqual({ found: false });
    expect(lookupJson(doc, ['a', 'b', 5])).toEqual({ found: false });
  });
});

describe('judgeResponse', () => {
  const [def] = parseCheckList(
    '- url: https://127.0.0.1/\n  expect-status: 2xx\n  contains: ok\n  regex: "v\\\\d+"\n  json: {"$.db": "up"}\n  cert-min-days: 10',
    defaults,
  ) as [HttpDefinition];
  const good = '{"status":"ok","version":"v12","db":"up"}';
  it.each([
    { status: 200, body: good, days: 30, ok: true, reason: undefined },
    { status: 500, body: good, days: 30, ok: false, reason: 'status 500 is not one of 2xx' },
    { status: 200, body: '{"db":"up","v1":1}', days: 30, ok: false, reason: 'body does not contain "ok"' },
    { status: 200, body: '{"ok":1,"db":"up"}', days: 30, ok: false, reason: 'body does not match /v\\d+/' },
    { status: 200, body: 'ok v1 <html>', days: 30, ok: false, reason: 'body is not JSON' },
    { status: 200, body: '{"ok":1,"v1":1}', days: 30, ok: false, reason: 'JSON $.db is missing' },
    {
      status: 200,
      body: '{"ok":1,"v1":1,"db":"down"}',
      days: 30,
      ok: false,
      reason: 'JSON $.db is "down", expected "up"',
    },
    {
      status: 200,
      body: good,
      days: 3.5,
      ok: false,
      reason: 'certificate expires in 3 day(s); at least 10 day(s) required',
    },
    {
      status: 200,
      body: good,
      days: -1.2,
      ok: false,
      reason: 'certificate expired 2 day(s) ago; at least 10 day(s) required',
    },
    { status: 200, body: good, days: undefined, ok: false, reason: 'the server certificate could not be read' },
  ])('$status $body $days → $reason', ({ status, body, days, ok, reason }) => {
    const v = judgeResponse(def.expect, {
      status,
      body,
      https: true,
      ...(days !== undefined ? { certDaysLeft: days } : {}),
    });
    expect(v.ok).toBe(ok);
    expect(v.reason).toBe(reason);
  });
});

describe('attemptBudget', () => {
  it.each([
    { timeout: 10_000, remaining: 60_000, budget: 10_000 },
    { timeout: 10_000, remaining: 3_000, budget: 3_000 },
    { timeout: 10_000, remaining: 0, budget: 500 },
    { timeout: 200, remaining: 0, budget: 200 },
  ])('timeout $timeout, $remaining ms left → $budget', ({ timeout, remaining, budget }) => {
    expect(attemptBudget(timeout, remaining)).toBe(budget);
  });
});
