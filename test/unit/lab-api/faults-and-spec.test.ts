// API fake: fault injection (TS API and control endpoint), spec fidelity (the validator can fail),
// registry, databases, account.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Reply } from '../../lab/api/index.js';
import { failure, makeEnv, raw, spec, until, type Env } from './helpers.js';

let env: Env;
let hook: ((op: string | undefined, r: Reply) => Reply) | undefined;
beforeAll(async () => {
  env = await makeEnv(
    { publicPrefix: '127.0.33' },
    {
      responseHook: (op, r) => (hook ? hook(op, r) : r),
      registry: { name: 'lab-registry', host: '172.31.0.1:5000', username: 'lab', password: 's3cret' },
      databases: [
        {
          id: '9cc10173-e9ea-4176-9dbc-a4cee4c4ff30',
          name: 'lab-pg',
          user: 'app',
          password: 'pw',
          database: 'app',
          host: '127.0.0.1',
          port: 5433,
          privateHost: '172.31.0.1',
          privatePort: 5433,
        },
      ],
    },
  );
});
afterAll(async () => {
  const t = env.fake.tally();
  await env.close();
  if (t.warnings.length)
    console.log(
      `[${'faults-and-spec'}] request warnings:`,
      JSON.stringify(t.warnings.map((w) => `${w.operation}: ${w.message}`)),
    );
  expect(t.violations).toEqual([]);
});

const base = { region: 'nyc3', size: 's-1vcpu-2gb', image: 'ubuntu-22-04-x64' };

/** A client that honours retry-after on 429 (bounded). */
async function getHonouringRetryAfter(path: string): Promise<{ status: number; retries: number; waits: string[] }> {
  const waits: string[] = [];
  for (let i = 0; i < 10; i++) {
    const r = await raw(env.fake, 'GET', path);
    if (r.status !== 429) return { status: r.status, retries: i, waits };
    expect(r.json).toMatchObject({ id: 'too_many_requests' });
    const after = r.headers.get('retry-after')!;
    waits.push(after);
    await new Promise((res) => setTimeout(res, Number(after) * 1000));
  }
  throw new Error('gave up');
}

describe('faults', () => {
  it('429 burst with retry-after for a method+path pattern; a client honouring it completes', async () => {
    const id = await env.fake.faults.add({
      kind: 'rate_limit',
      count: 3,
      retryAfterSeconds: 0,
      method: 'GET',
      path: '^/v2/droplets$',
    });
    expect((await raw(env.fake, 'GET', '/account')).status).toBe(200);
    const r = await getHonouringRetryAfter('/droplets');
    expect(r).toEqual({ status: 200, retries: 3, waits: ['0', '0', '0'] });
    expect(env.fake.faults.list().find((f) => f.id === id)).toMatchObject({ hits: 3, remaining: 0 });
    env.fake.faults.clear();
  });

  it('switchable from another process through POST /_lab/faults (auth required), listed and cleared', async () => {
    expect((await raw(env.fake, 'POST', '/_lab/faults', { kind: 'rate_limit', count: 1 }, 'bad')).status).toBe(401);
    const bad = await raw(env.fake, 'POST', '/_lab/faults', { kind: 'rate_limit', count: 0 });
    expect(bad.status).toBe(400);
    const add = await raw(env.fake, 'POST', '/_lab/faults', {
      kind: 'rate_limit',
      count: 1,
      retryAfterSeconds: 2,
      method: 'POST',
      path: '^/v2/tags$',
    });
    expect(add.status).toBe(201);
    expect((await raw(env.fake, 'GET', '/tags')).status).toBe(200);
    const limited = await failure(env.api.tag.createTag({ name: 'after-429' }));
    expect(limited.status).toBe(429);
    expect(limited.headers['retry-after']).toBe('2');
    expect(limited.headers['ratelimit-limit']).toBe('5000');
    expect((await env.api.tag.createTag({ name: 'after-429' })).status).toBe(201);
    const listed = await raw(env.fake, 'GET', '/_lab/faults');
    expect(listed.json.faults[0]).toMatchObject({ id: add.json.id, hits: 1, remaining: 0 });
    expect((await raw(env.fake, 'DELETE', '/_lab/faults')).status).toBe(204);
    expect((await raw(env.fake, 'GET', '/_lab/faults')).json.faults).toEqual([]);
  });

  it('5xx burst, then normal service; added latency is applied to matching requests', async () => {
    await env.fake.faults.add({ kind: 'server_error', count: 2, status: 503 });
    const a = await failure(env.api.account.getAccount());
    const b = await failure(env.api.account.getAccount());
    expect([a.status, b.status]).toEqual([503, 503]);
    expect(a.data).toMatchObject({ id: 'server_error' });
    expect((await env.api.account.getAccount()).status).toBe(200);
    const lat = await env.fake.faults.add({ kind: 'latency', ms: 50, count: 2, path: '^/v2/regions' });
    await env.api.region.listRegions({});
    await env.api.region.listRegions({});
    await env.api.region.listRegions({});
    expect(env.fake.faults.list().find((f) => f.id === lat)).toMatchObject({ hits: 2, remaining: 0 });
    env.fake.faults.clear();
  });

  it('a droplet matching never_active stays new with its create action in progress; others become active', async () => {
    await env.fake.faults.add({ kind: 'never_active', namePattern: '^stuck-' });
    const res = await env.api.droplet.createDroplets({ ...base, names: ['stuck-1', 'fine-1'] });
    const body = res.data as unknown as {
      droplets: { id: number; name: string }[];
      links: { actions: { id: number }[] };
    };
    const [stuck, fine] = body.droplets;
    await until(
      async () => (await env.api.droplet.getDroplet({ droplet_id: fine!.id })).data.droplet.status === 'active',
      'fine active',
    );
    for (let i = 0; i < 5; i++) await env.api.droplet.getDroplet({ droplet_id: stuck!.id });
    expect((await env.api.droplet.getDroplet({ droplet_id: stuck!.id })).data.droplet.status).toBe('new');
    expect((await env.api.action.getAction({ action_id: body.links.actions[0]!.id })).data.action.status).toBe(
      'in-progress',
    );
    expect(env.backend.calls.filter((c) => c === 'create stuck-1')).toEqual([]);
    env.fake.faults.clear();
    await env.api.droplet.deleteDroplet({ droplet_id: stuck!.id });
  });

  it('an action of a given type ends errored (once), the next one completes; sshd/disk faults pass through to the backend', async () => {
    const d = (await env.api.droplet.createDroplet({ ...base, name: 'faulty-1' })).data.droplet;
    await until(
      async () => (await env.api.droplet.getDroplet({ droplet_id: d.id })).data.droplet.status === 'active',
      'active',
    );
    await raw(env.fake, 'POST', '/_lab/faults', { kind: 'action_error', actionType: 'snapshot' });
    const first = (await env.api.droplet.snapshotDroplet({ droplet_id: d.id, name: 'x' })).data.action;
    const done1 = await until(async () => {
      const a = (await env.api.action.getAction({ action_id: first.id })).data.action;
      return a.status !== 'in-progress' ? a : undefined;
    }, 'first snapshot');
    expect(done1.status).toBe('errored');
    expect(done1.completed_at).not.toBeNull();
    const second = (await env.api.droplet.snapshotDroplet({ droplet_id: d.id, name: 'y' })).data.action;
    await until(
      async () => (await env.api.action.getAction({ action_id: second.id })).data.action.status === 'completed',
      'second',
    );

    const c = env.fake.dropletInfo(d.id).container!;
    expect(
      (await raw(env.fake, 'POST', '/_lab/faults', { kind: 'sshd_down', dropletId: d.id, seconds: 5 })).status,
    ).toBe(201);
    await env.fake.faults.add({ kind: 'disk_full', dropletId: d.id, on: true });
    expect(env.backend.calls).toEqual(expect.arrayContaining([`sshdDown ${c} 5`, `diskFull ${c} true`]));
    env.fake.faults.clear();
  });
});

describe('spec fidelity', () => {
  it('the tally counts validated requests and responses (TS and GET /_lab/tally)', async () => {
    const before = env.fake.tally();
    await env.api.account.getAccount();
    const after = env.fake.tally();
    expect(after.requests).toBe(before.requests + 1);
    expect(after.responses).toBe(before.responses + 1);
    const http = await raw(env.fake, 'GET', '/_lab/tally');
    expect(http.json.requests).toBeGreaterThanOrEqual(after.requests);
    expect(http.json.stats.compiled).toBeGreaterThan(0);
  });

  it('an invalid response (extra property, missing property, wrong type, undocumented status) becomes a 500 lab_spec_violation', async () => {
    const d = (await env.api.droplet.createDroplet({ ...base, name: 'victim' })).data.droplet;
    const cases: [string, (r: Reply) => Reply, RegExp][] = [
      [
        'extra',
        (r) => ({ ...r, body: { droplet: { ...(r.body as { droplet: object }).droplet, invented: 1 } } }),
        /must NOT have additional properties \(invented\)/,
      ],
      [
        'missing',
        (r) => {
          const { droplet } = r.body as { droplet: Record<string, unknown> };
          const { vpc_uuid: _x, ...rest } = droplet;
          return { ...r, body: { droplet: rest } };
        },
        /must have required property 'vpc_uuid'/,
      ],
      [
        'type',
        (r) => ({ ...r, body: { droplet: { ...(r.body as { droplet: object }).droplet, id: 'abc' } } }),
        /\/droplet\/id must be integer/,
      ],
      ['status', (r) => ({ ...r, status: 201 }), /status 201 is not documented/],
    ];
    for (const [name, mutate, msg] of cases) {
      hook = (op, r) => (op === 'droplets_get' ? mutate(r) : r);
      const f = await failure(env.api.droplet.getDroplet({ droplet_id: d.id }));
      hook = undefined;
      expect([name, f.status, f.data.id]).toEqual([name, 500, 'lab_spec_violation']);
      expect(f.data.message).toMatch(msg);
      const v = env.fake.tally().violations;
      expect(v.length).toBeGreaterThan(0);
      expect(v.every((x) => x.operation === 'droplets_get')).toBe(true);
      env.fake.resetTally();
    }
    await env.api.droplet.deleteDroplet({ droplet_id: d.id });
  });

  it('tightening closes the spec weaknesses: {"action":{}} and an action with invented fields fail', () => {
    const v = spec();
    const op = v.match('GET', '/v2/actions/1')!;
    expect(op.id).toBe('actions_get');
    const empty = v.validateResponse(
      op,
      '/v2/actions/1',
      200,
      { 'ratelimit-limit': '1', 'ratelimit-remaining': '1', 'ratelimit-reset': '1' },
      { action: {} },
    );
    expect(empty.map((x) => x.message)).toEqual(
      expect.arrayContaining([expect.stringMatching(/required property 'status'/)]),
    );
    const noHeaders = v.validateResponse(op, '/v2/actions/1', 200, {}, { action: {} });
    expect(noHeaders.some((x) => x.where === 'response.headers')).toBe(true);
    const badHeader = v.validateResponse(
      op,
      '/v2/actions/1',
      200,
      { 'ratelimit-limit': 'many', 'ratelimit-remaining': '1', 'ratelimit-reset': '1' },
      { action: {} },
    );
    expect(badHeader.find((x) => x.where === 'response.headers')?.message).toMatch(
      /ratelimit-limit must be an integer/,
    );
    // a property the spec's own examples omit stays optional: droplet.gpu_info
    const droplet = v.tightenedResponseSchema('GET', '/v2/droplets/{droplet_id}', 200).properties.droplet;
    expect(droplet.required).toContain('vpc_uuid');
    expect(droplet.required).not.toContain('gpu_info');
    expect(droplet.additionalProperties).toBe(false);
  });

  it('request properties the spec does not declare pass (DigitalOcean ignores them) but are reported as warnings', async () => {
    const r = await raw(env.fake, 'POST', '/tags', { name: 'warned', colour: 'red' });
    expect(r.status).toBe(201);
    const w = env.fake.tally().warnings.find((x) => x.operation === 'tags_create');
    expect(w?.message).toMatch(/undeclared properties.*colour/);
    expect(env.fake.tally().violations).toEqual([]);
  });

  it('an undocumented route is a violation', async () => {
    const r = await raw(env.fake, 'GET', '/droplets/1/not-a-thing');
    expect([r.status, r.json.id]).toEqual([422, 'lab_spec_violation']);
    expect(env.fake.tally().violations[0]).toMatchObject({ where: 'route' });
    env.fake.resetTally();
  });
});

describe('registry, databases, account', () => {
  it('registry and docker-credentials point at the lab registry', async () => {
    const reg = (await env.api.containerRegistry.getRegistry()).data.registry;
    expect(reg.name).toBe('lab-registry');
    const creds = (await env.api.containerRegistry.getDockerCredentials({} as never)).data as unknown as {
      auths: Record<string, { auth: string }>;
    };
    expect(Buffer.from(creds.auths['172.31.0.1:5000']!.auth, 'base64').toString()).toBe('lab:s3cret');
    expect(creds.auths['registry.digitalocean.com']!.auth).toBe(creds.auths['172.31.0.1:5000']!.auth);
  });

  it('database cluster with connection and private_connection', async () => {
    const id = '9cc10173-e9ea-4176-9dbc-a4cee4c4ff30';
    const db = (await env.api.database.getDatabaseCluster({ database_cluster_id: id })).data.database;
    expect(db.connection).toMatchObject({ host: '127.0.0.1', port: 5433, user: 'app', database: 'app' });
    expect(db.private_connection).toMatchObject({ host: '172.31.0.1', port: 5433 });
    expect(db.connection.uri).toBe('postgresql://app:pw@127.0.0.1:5433/app?sslmode=disable');
    const list = (await env.api.database.listDatabaseClusters({} as never)).data.databases;
    expect(list.map((x) => x.id)).toEqual([id]);
    expect(
      (
        await failure(
          env.api.database.getDatabaseCluster({ database_cluster_id: 'b7d8a5f5-0000-4000-8000-000000000000' }),
        )
      ).status,
    ).toBe(404);
  });

  it('account', async () => {
    const a = (await env.api.account.getAccount()).data.account;
    expect(a).toMatchObject({ status: 'active', email_verified: true, droplet_limit: 25 });
  });
});
