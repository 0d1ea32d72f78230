import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';

import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';

import { ConfigurationError } from '../action/errors.js';
import { createClient, type ClientOptions } from './client.js';
import { normalizeApiEndpoint } from './endpoint.js';
import { ActionFailedError, ActionTimeoutError, DigitalOceanApiError } from './errors.js';
import { requestedDelayMs } from './http.js';
import { nextPageUrl } from './pagination.js';

// A scripted DigitalOcean on 127.0.0.1: each test queues responses per "METHOD path".
interface Reply {
  status: number;
  body?: unknown;
  headers?: Record<string, string>;
}
interface Seen {
  method: string;
  url: string;
  auth: string | undefined;
  body: string;
}

let server: Server;
let base: string;
let replies = new Map<string, Reply[]>();
let seen: Seen[] = [];

function on(method: string, path: string, ...queue: Reply[]): void {
  replies.set(`${method} ${path}`, [...(replies.get(`${method} ${path}`) ?? []), ...queue]);
}

beforeAll(async () => {
  server = createServer((req: IncomingMessage, res: ServerResponse) => {
    let body = '';
    req.on('data', (c: Buffer) => (body += c.toString()));
    req.on('end', () => {
      const url = req.url ?? '';
      seen.push({ method: req.method ?? '', url, auth: req.headers.authorization, body });
      const key = `${req.method} ${url.split('?')[0]}`;
      const queue = replies.get(key) ?? [];
      const reply = queue.length > 1 ? queue.shift() : queue[0];
      if (!reply) {
        res.writeHead(404, { 'content-type': 'application/json' });
        res.end(JSON.stringify({ id: 'not_found', message: `no reply for ${key}` }));
        return;
      }
      res.writeHead(reply.status, { 'content-type': 'application/json', ...reply.headers });
      res.end(reply.body === undefined ? '' : JSON.stringify(reply.body));
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});

afterAll(async () => {
  await new Promise<void>((resolve) => server.close(() => resolve()));
});

const TOKEN = 'dop_v1_0123456789abcdef0123456789abcdef';
let clock = 0;
let sleeps: number[] = [];
let logs: string[] = [];
let masked: string[] = [];

beforeEach(() => {
  replies = new Map();
  seen = [];
  clock = 1_700_000_000_000;
  sleeps = [];
  logs = [];
  masked = [];
});

function client(extra: Partial<ClientOptions> = {}) {
  return createClient({
    token: TOKEN,
    endpoint: normalizeApiEndpoint(base),
    setSecret: (v) => masked.push(v),
    logger: {
      info: (m) => logs.push(m),
      warn: (m) => logs.push(m),
      error: (m) => logs.push(m),
      debug: () => undefined,
      group: (_n, fn) => fn(),
    },
    sleep: async (ms) => {
      sleeps.push(ms);
      clock += ms;
    },
    now: () => clock,
    random: () => 0.5,
    ...extra,
  });
}

const droplet = (id: number, name: string) => ({
  id,
  name,
  status: 'active',
  tags: ['app'],
  networks: { v4: [], v6: [] },
});

describe('normalizeApiEndpoint', () => {
  it.each([
    ['', 'https://api.digitalocean.com/v2'],
    ['https://api.digitalocean.com', 'https://api.digitalocean.com/v2'],
    ['https://api.digitalocean.com/', 'https://api.digitalocean.com/v2'],
    ['https://api.digitalocean.com/v2', 'https://api.digitalocean.com/v2'],
    ['https://api.digitalocean.com/v2/', 'https://api.digitalocean.com/v2'],
    ['http://127.0.0.1:4010/v2', 'http://127.0.0.1:4010/v2'],
    ['http://127.0.0.1:4010', 'http://127.0.0.1:4010/v2'],
    ['http://proxy.local/do/', 'http://proxy.local/do/v2'],
  ])('%j → %s', (input, expected) => {
    expect(normalizeApiEndpoint(input)).toBe(expected);
  });

  it.each([
    ['not a url', 'not a valid URL'],
    ['ftp://x', 'URL must use http or https'],
    ['https://u:p@x/v2', 'no credentials'],
  ])('rejects %j', (input, reason) => {
    expect(() => normalizeApiEndpoint(input)).toThrow(ConfigurationError);
    expect(() => normalizeApiEndpoint(input)).toThrow(reason);
    expect(() => normalizeApiEndpoint(input)).toThrow('input "api-endpoint"');
  });
});

describe('requestedDelayMs', () => {
  const now = 1_700_000_000_000;
  it.each<[number, Record<string, string>, number | undefined]>([
    [429, { 'retry-after': '3' }, 3000],
    [503, { 'retry-after': '1.5' }, 1500],
    [429, { 'retry-after': '0' }, 250],
    [429, { 'retry-after': new Date(now + 4000).toUTCString() }, 4000],
    [429, { 'ratelimit-reset': String(now / 1000 + 7) }, 7000],
    [500, { 'ratelimit-reset': String(now / 1000 + 7) }, undefined],
    [429, {}, undefined],
  ])('%i %j → %s', (status, headers, expected) => {
    expect(requestedDelayMs(status, headers, now)).toBe(expected);
  });
});

describe('DigitalOceanClient', () => {
  it('sends the bearer token to the endpoint and registers it for masking', async () => {
    on('GET', '/v2/droplets/7', { status: 200, body: { droplet: droplet(7, 'web-1') } });
    const d = await client().getDroplet(7);
    expect(d.name).toBe('web-1');
    expect(seen).toEqual([{ method: 'GET', url: '/v2/droplets/7', auth: `Bearer ${TOKEN}`, body: '' }]);
    expect(masked).toContain(TOKEN);
    expect(masked).toContain(Buffer.from(TOKEN).toString('base64'));
  });

  it('retries a 429 after the retry-after the API asked for', async () => {
    on(
      'GET',
      '/v2/droplets/7',
      { status: 429, headers: { 'retry-after': '3' }, body: { id: 'too_many_requests', message: 'slow down' } },
      { status: 200, body: { droplet: droplet(7, 'web-1') } },
    );
    await client().getDroplet(7);
    expect(sleeps).toEqual([3000]);
    expect(seen).toHaveLength(2);
    expect(logs[0]).toBe('DigitalOcean API GET /droplets/7: HTTP 429; retrying in 3s (attempt 2 of 8)');
  });

  it('honours ratelimit-reset when there is no retry-after', async () => {
    on(
      'GET',
      '/v2/droplets/7',
      {
        status: 429,
        headers: { 'ratelimit-remaining': '0', 'ratelimit-reset': String(Math.round(clock / 1000) + 12) },
        body: { id: 'too_many_requests', message: 'API Rate limit exceeded.' },
      },
      { status: 200, body: { droplet: droplet(7, 'web-1') } },
    );
    await client().getDroplet(7);
    expect(sleeps).toEqual([12_000]);
  });

  it('backs off exponentially on 5xx for GET, then gives up with status, message and request_id', async () => {
    on('GET', '/v2/droplets/7', {
      status: 503,
      headers: { 'x-request-id': 'hdr-rid' },
      body: { id: 'service_unavailable', message: 'try later', request_id: 'req-123' },
    });
    const error = await client({ retry: { attempts: 4 } })
      .getDroplet(7)
      .catch((e: unknown) => e);
    expect(error).toBeInstanceOf(DigitalOceanApiError);
    const e = error as DigitalOceanApiError;
    expect([e.status, e.errorId, e.apiMessage, e.requestId, e.attempts]).toEqual([
      503,
      'service_unavailable',
      'try later',
      'req-123',
      4,
    ]);
    expect(e.message).toBe(
      'DigitalOcean API GET /droplets/7 failed after 4 attempts: HTTP 503 service_unavailable: try later (request_id req-123)',
    );
    expect(e.message).not.toContain(TOKEN);
    expect(JSON.stringify(e)).not.toContain(TOKEN);
    // base 1 s doubling, jitter fixed at the middle: 750, 1500, 3000
    expect(sleeps).toEqual([750, 1500, 3000]);
  });

  it('takes request_id from the header when the body has none', async () => {
    on('GET', '/v2/droplets/8', {
      status: 404,
      headers: { 'x-request-id': 'hdr-rid' },
      body: { id: 'not_found', message: 'The resource you were accessing could not be found.' },
    });
    const e = (await client()
      .getDroplet(8)
      .catch((x: unknown) => x)) as DigitalOceanApiError;
    expect([e.status, e.requestId, e.attempts, e.isNotFound]).toEqual([404, 'hdr-rid', 1, true]);
    expect(sleeps).toEqual([]);
  });

  it('does not retry a droplet create on 5xx (it may have happened), but does on 429', async () => {
    on('POST', '/v2/droplets', { status: 500, body: { id: 'server_error', message: 'boom' } });
    const e = (await client()
      .createDroplets({ names: ['a'], region: 'nyc3', size: 's-1vcpu-1gb', image: 'ubuntu-24-04-x64' })
      .catch((x: unknown) => x)) as DigitalOceanApiError;
    expect(e.status).toBe(500);
    expect(seen).toHaveLength(1);

    replies = new Map();
    seen = [];
    on(
      'POST',
      '/v2/droplets',
      { status: 429, headers: { 'retry-after': '1' }, body: { id: 'too_many_requests', message: 'x' } },
      { status: 429, headers: { 'retry-after': '2' }, body: { id: 'too_many_requests', message: 'x' } },
      { status: 202, body: { droplets: [droplet(1, 'a')], links: { actions: [{ id: 55, rel: 'create', href: '' }] } } },
    );
    const created = await client().createDroplets({
      names: ['a'],
      region: 'nyc3',
      size: 's-1vcpu-1gb',
      image: 'ubuntu-24-04-x64',
    });
    expect(created.actionIds).toEqual([55]);
    expect(created.droplets.map((d) => d.name)).toEqual(['a']);
    expect(seen).toHaveLength(3);
    expect(JSON.parse(seen[2]?.body ?? '')).toEqual({
      names: ['a'],
      region: 'nyc3',
      size: 's-1vcpu-1gb',
      image: 'ubuntu-24-04-x64',
    });
  });

  it('gives up at once when the requested wait exceeds the total time budget', async () => {
    on('GET', '/v2/droplets/7', {
      status: 429,
      headers: { 'retry-after': '3600' },
      body: { id: 'too_many_requests', message: 'hourly limit' },
    });
    const e = (await client()
      .getDroplet(7)
      .catch((x: unknown) => x)) as DigitalOceanApiError;
    expect([e.status, e.attempts]).toEqual([429, 1]);
    expect(sleeps).toEqual([]);
  });

  it('stops retrying when the total time budget is used up', async () => {
    on('GET', '/v2/droplets/7', {
      status: 429,
      headers: { 'retry-after': '40' },
      body: { id: 'too_many_requests', message: 'x' },
    });
    const e = (await client({ retry: { maxElapsedMs: 100_000, attempts: 10 } })
      .getDroplet(7)
      .catch((x: unknown) => x)) as DigitalOceanApiError;
    expect(sleeps).toEqual([40_000, 40_000]);
    expect(e.attempts).toBe(3);
  });

  it('reports a network failure as status 0 after retrying an idempotent call', async () => {
    const c = createClient({
      token: TOKEN,
      endpoint: 'http://127.0.0.1:1/v2',
      sleep: async (ms) => void sleeps.push(ms),
      now: () => clock,
      retry: { attempts: 2 },
    });
    const e = (await c.getDroplet(1).catch((x: unknown) => x)) as DigitalOceanApiError;
    expect(e).toBeInstanceOf(DigitalOceanApiError);
    expect([e.status, e.attempts]).toEqual([0, 2]);
    expect(e.message).toContain('ECONNREFUSED');
  });

  it('follows links.pages.next across pages, keeping the configured host', async () => {
    on('GET', '/v2/droplets', {
      status: 200,
      body: {
        droplets: [droplet(1, 'a')],
        links: { pages: { next: 'https://api.digitalocean.com/v2/droplets?page=2&per_page=200&tag_name=app' } },
        meta: { total: 3 },
      },
    });
    // the page-2 request goes to the same path; the queue gives page 2 then page 3
    replies.get('GET /v2/droplets')?.push(
      {
        status: 200,
        body: {
          droplets: [droplet(2, 'b')],
          links: { pages: { next: `${base}/v2/droplets?page=3&per_page=200&tag_name=app` } },
        },
      },
      { status: 200, body: { droplets: [droplet(3, 'c')], links: { pages: {} } } },
    );
    const all = await client().listDropletsByTag('app');
    expect(all.map((d) => d.id)).toEqual([1, 2, 3]);
    expect(seen.map((s) => s.url)).toEqual([
      '/v2/droplets?page=1&per_page=200&tag_name=app',
      '/v2/droplets?page=2&per_page=200&tag_name=app',
      '/v2/droplets?page=3&per_page=200&tag_name=app',
    ]);
    expect(seen.every((s) => s.auth === `Bearer ${TOKEN}`)).toBe(true);
  });

  it('refuses a pagination loop', async () => {
    on('GET', '/v2/firewalls', {
      status: 200,
      body: { firewalls: [], links: { pages: { next: `${base}/v2/firewalls?page=2` } } },
    });
    await expect(client().listFirewalls()).rejects.toThrow('pagination of firewalls loops at /firewalls?page=2');
  });

  it('makes raw reserved-IP calls through the same client (auth, retries, errors)', async () => {
    on(
      'POST',
      '/v2/reserved_ips/203.0.113.9/actions',
      { status: 429, headers: { 'retry-after': '1' }, body: { id: 'too_many_requests', message: 'x' } },
      { status: 201, body: { action: { id: 9, status: 'in-progress', type: 'assign_ip' } } },
    );
    const action = await client().assignReservedIp('203.0.113.9', 42);
    expect(action.id).toBe(9);
    expect(seen.map((s) => [s.url, s.auth, s.body])).toEqual([
      ['/v2/reserved_ips/203.0.113.9/actions', `Bearer ${TOKEN}`, '{"type":"assign","droplet_id":42}'],
      ['/v2/reserved_ips/203.0.113.9/actions', `Bearer ${TOKEN}`, '{"type":"assign","droplet_id":42}'],
    ]);
  });

  it('deleteDroplet treats 404 as already deleted', async () => {
    on('DELETE', '/v2/droplets/5', { status: 404, body: { id: 'not_found', message: 'gone' } });
    await expect(client().deleteDroplet(5)).resolves.toBeUndefined();
  });

  it('sends the documented bodies for droplet actions, tags, load balancers and registry credentials', async () => {
    on('POST', '/v2/droplets/3/actions', {
      status: 201,
      body: { action: { id: 1, status: 'in-progress', type: 'snapshot' } },
    });
    on('POST', '/v2/tags/hostkey-sha256-ab/resources', { status: 204 });
    on('POST', '/v2/load_balancers/lb1/droplets', { status: 204 });
    on('DELETE', '/v2/load_balancers/lb1/droplets', { status: 204 });
    on('GET', '/v2/registry/docker-credentials', {
      status: 200,
      body: { auths: { 'registry.digitalocean.com': { auth: 'YWJj' } } },
    });
    on('GET', '/v2/databases/db-1', {
      status: 200,
      body: { database: { id: 'db-1', name: 'pg', engine: 'pg', version: '16', status: 'online', region: 'nyc3' } },
    });
    const c = client();
    await c.snapshotDroplet(3, 'web-1-2026');
    await c.tagDroplets('hostkey-sha256-ab', [3, 4]);
    await c.addDropletsToLoadBalancer('lb1', [3]);
    await c.removeDropletsFromLoadBalancer('lb1', [3]);
    const creds = await c.getDockerCredentials({ readWrite: false, expirySeconds: 600 });
    const db = await c.getDatabaseCluster('db-1');
    expect(creds.auths['registry.digitalocean.com']?.auth).toBe('YWJj');
    expect(db.status).toBe('online');
    expect(seen.map((s) => `${s.method} ${s.url} ${s.body}`)).toEqual([
      'POST /v2/droplets/3/actions {"type":"snapshot","name":"web-1-2026"}',
      'POST /v2/tags/hostkey-sha256-ab/resources {"resources":[{"resource_id":"3","resource_type":"droplet"},{"resource_id":"4","resource_type":"droplet"}]}',
      'POST /v2/load_balancers/lb1/droplets {"droplet_ids":[3]}',
      'DELETE /v2/load_balancers/lb1/droplets {"droplet_ids":[3]}',
      'GET /v2/registry/docker-credentials?read_write=false&expiry_seconds=600 ',
      'GET /v2/databases/db-1 ',
    ]);
  });
});

describe('waitForAction', () => {
  it('polls until completed, reporting progress, with growing intervals', async () => {
    on(
      'GET',
      '/v2/actions/77',
      {
        status: 200,
        body: { action: { id: 77, status: 'in-progress', type: 'create', resource_type: 'droplet', resource_id: 5 } },
      },
      {
        status: 200,
        body: { action: { id: 77, status: 'in-progress', type: 'create', resource_type: 'droplet', resource_id: 5 } },
      },
      {
        status: 200,
        body: { action: { id: 77, status: 'completed', type: 'create', resource_type: 'droplet', resource_id: 5 } },
      },
    );
    const a = await client().waitForAction(77, { timeoutMs: 60_000 });
    expect(a.status).toBe('completed');
    expect(sleeps).toEqual([2000, 3000]);
    expect(logs).toEqual([
      'waiting for DigitalOcean action 77 (create on droplet 5): in-progress after 0s',
      'waiting for DigitalOcean action 77 (create on droplet 5): in-progress after 2s',
    ]);
  });

  it('throws ActionFailedError on errored', async () => {
    on('GET', '/v2/actions/78', { status: 200, body: { action: { id: 78, status: 'errored', type: 'snapshot' } } });
    await expect(client().waitForAction(78, { timeoutMs: 60_000, label: 'droplet web-1' })).rejects.toThrow(
      new ActionFailedError(78, 'snapshot', 'droplet web-1'),
    );
  });

  it('throws ActionTimeoutError naming the last status once the timeout passes', async () => {
    on('GET', '/v2/actions/79', { status: 200, body: { action: { id: 79, status: 'in-progress', type: 'create' } } });
    const e = (await client()
      .waitForAction(79, { timeoutMs: 20_000, label: 'droplet web-2' })
      .catch((x: unknown) => x)) as ActionTimeoutError;
    expect(e).toBeInstanceOf(ActionTimeoutError);
    expect(e.message).toBe('DigitalOcean action 79 (create on droplet web-2) was still "in-progress" after 20s');
    expect(sleeps.reduce((a, b) => a + b, 0)).toBe(20_000);
  });
});

describe('nextPageUrl', () => {
  it.each([
    ['http://127.0.0.1:9/v2', 'https://api.digitalocean.com/v2/droplets?page=2', '/droplets?page=2'],
    ['http://127.0.0.1:9/v2', 'http://evil.example/v2/snapshots?page=3&per_page=1', '/snapshots?page=3&per_page=1'],
    ['http://127.0.0.1:9/v2', '/v2/droplets?page=2', '/droplets?page=2'],
  ])('%s + %s → %s', (endpoint, next, expected) => {
    expect(nextPageUrl(endpoint, next)).toBe(expected);
  });
});

describe('error hints', () => {
  it.each([
    [401, 'Check the API token (input "token")'],
    [403, 'lacks the scope for this call'],
  ])('HTTP %i says what to do', async (status, text) => {
    on('GET', '/v2/droplets/9', { status, body: { id: 'unauthorized', message: 'Unable to authenticate you' } });
    await expect(client().getDroplet(9)).rejects.toThrow(text);
  });
});
