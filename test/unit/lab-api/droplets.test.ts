// API fake: droplets, actions, snapshots, images, ssh keys, tags, auth and errors (MemoryBackend, no Docker).
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { md5Fingerprint } from '../../lab/api/index.js';
import { failure, makeEnv, raw, sshPublicKey, until, type Env } from './helpers.js';

let env: Env;
beforeAll(async () => {
  env = await makeEnv({ publicPrefix: '127.0.31', opDelayMs: 250 });
});
afterAll(async () => {
  const t = env.fake.tally();
  await env.close();
  if (t.warnings.length)
    console.log(
      `[${'droplets'}] request warnings:`,
      JSON.stringify(t.warnings.map((w) => `${w.operation}: ${w.message}`)),
    );
  expect(t.violations).toEqual([]);
});

const base = { region: 'fra1', size: 's-1vcpu-1gb', image: 'ubuntu-24-04-x64' };

async function activeDroplet(id: number) {
  return until(async () => {
    const { data } = await env.api.droplet.getDroplet({ droplet_id: id });
    return data.droplet.status === 'active' ? data.droplet : undefined;
  }, `droplet ${id} active`);
}

describe('auth and errors', () => {
  it('401 in DigitalOcean shape without a valid token, with rate limit headers', async () => {
    const r = await raw(env.fake, 'GET', '/droplets', undefined, 'wrong');
    expect(r.status).toBe(401);
    expect(r.json).toMatchObject({ id: 'unauthorized', message: 'Unable to authenticate you' });
    expect(typeof r.json.request_id).toBe('string');
    const none = await raw(env.fake, 'GET', '/account', undefined, null);
    expect(none.status).toBe(401);
    for (const h of ['ratelimit-limit', 'ratelimit-remaining', 'ratelimit-reset'])
      expect(r.headers.get(h)).toMatch(/^\d+$/);
  });

  it('every response carries ratelimit headers and remaining decreases', async () => {
    const a = await env.api.account.getAccount();
    const b = await env.api.account.getAccount();
    const remaining = (r: { headers: unknown }) => Number((r.headers as Record<string, string>)['ratelimit-remaining']);
    expect(remaining(b)).toBeLessThan(remaining(a));
    expect(a.data.account.status).toBe('active');
  });

  it('422 for an unknown size, region or image slug, and for an invalid name', async () => {
    for (const [body, msg] of [
      [{ ...base, name: 'x1', size: 's-99vcpu-1tb' }, /invalid size/],
      [{ ...base, name: 'x1', region: 'mars1' }, /invalid region/],
      [{ ...base, name: 'x1', image: 'ubuntu-99-04-x64' }, /invalid image/],
    ] as const) {
      const f = await failure(env.api.droplet.createDroplet(body));
      expect(f.status).toBe(422);
      expect(f.data.id).toBe('unprocessable_entity');
      expect(f.data.message).toMatch(msg);
    }
  });

  it('a name the spec forbids is a request spec violation: 422 lab_spec_violation, recorded in the tally', async () => {
    const f = await failure(env.api.droplet.createDroplet({ ...base, name: 'bad_name!' }));
    expect(f.status).toBe(422);
    expect(f.data.id).toBe('lab_spec_violation');
    expect(f.data.message).toMatch(/request.body/);
    const v = env.fake.tally().violations;
    expect(v.length).toBeGreaterThan(0);
    expect(v[0]).toMatchObject({ operation: 'droplets_create', where: 'request.body' });
    env.fake.resetTally();
  });

  it('404 in DigitalOcean shape for a missing droplet', async () => {
    const f = await failure(env.api.droplet.getDroplet({ droplet_id: 1 }));
    expect(f.status).toBe(404);
    expect(f.data).toMatchObject({ id: 'not_found' });
  });
});

describe('catalogue', () => {
  it('lists regions, sizes and images with realistic slugs', async () => {
    const regions = (await env.api.region.listRegions({ per_page: 200 })).data.regions.map((r) => r.slug);
    expect(regions).toEqual(expect.arrayContaining(['nyc3', 'fra1', 'ams3', 'sfo3']));
    const sizes = (await env.api.size.listSizes({ per_page: 200 })).data.sizes.map((s) => s.slug);
    expect(sizes).toEqual(expect.arrayContaining(['s-1vcpu-1gb', 's-1vcpu-2gb', 's-2vcpu-4gb']));
    const images = (await env.api.image.listImages({ per_page: 200 })).data.images.map((i) => i.slug);
    expect(images).toEqual(expect.arrayContaining(['ubuntu-24-04-x64', 'docker-20-04', 'debian-12-x64']));
    const dist = (await env.api.image.listImages({ type: 'distribution' } as never)).data.images;
    expect(dist.every((i) => i.type === 'base')).toBe(true);
  });
});

describe('ssh keys', () => {
  it('creates keys with DigitalOcean MD5 fingerprints, gets by id and fingerprint, rejects duplicates', async () => {
    const pk = sshPublicKey();
    const { data } = await env.api.sshKey.createSshKey({ name: 'ci', public_key: pk });
    expect(data.ssh_key.fingerprint).toMatch(/^([0-9a-f]{2}:){15}[0-9a-f]{2}$/);
    expect(data.ssh_key.fingerprint).toBe(md5Fingerprint(pk));
    const byId = await env.api.sshKey.getSshKey({ ssh_key_id: data.ssh_key.id } as never);
    const byFp = await env.api.sshKey.getSshKey({ ssh_key_id: data.ssh_key.fingerprint } as never);
    expect((byId.data as { ssh_key: { name: string } }).ssh_key.name).toBe('ci');
    expect((byFp.data as { ssh_key: { id: number } }).ssh_key.id).toBe(data.ssh_key.id);
    const dup = await failure(env.api.sshKey.createSshKey({ name: 'again', public_key: pk }));
    expect(dup.status).toBe(422);
    const list = await env.api.sshKey.listSshKeys({});
    expect(list.data.ssh_keys.map((k) => k.id)).toContain(data.ssh_key.id);
  });
});

describe('droplets', () => {
  it('creates a droplet (202, status new, links.actions), goes active with networks once the backend runs it', async () => {
    const pk = sshPublicKey('owner');
    const key = (await env.api.sshKey.createSshKey({ name: 'owner', public_key: pk })).data.ssh_key;
    const res = await env.api.droplet.createDroplet({
      ...base,
      name: 'web-01',
      ssh_keys: [key.fingerprint],
      tags: ['env:test', 'web'],
      user_data: '#cloud-config\nruncmd:\n  - touch /ok\n',
    });
    expect(res.status).toBe(202);
    const d = res.data.droplet;
    expect(d.status).toBe('new');
    expect(d.networks.v4).toEqual([]);
    expect(d.kernel).toBeNull();
    expect(d.tags).toEqual(['env:test', 'web']);
    const links = (res.data as unknown as { links: { actions: { id: number; rel: string; href: string }[] } }).links;
    expect(links.actions[0]!.rel).toBe('create');
    expect(links.actions[0]!.href).toBe(`${env.fake.url}/actions/${links.actions[0]!.id}`);

    const active = await activeDroplet(d.id);
    const pub = active.networks.v4.find((n) => n.type === 'public')!;
    const priv = active.networks.v4.find((n) => n.type === 'private')!;
    expect(pub.ip_address).toMatch(/^127\.0\.31\.\d+$/);
    expect(priv.ip_address).toMatch(/^10\.131\.0\.\d+$/);
    const action = (await env.api.action.getAction({ action_id: links.actions[0]!.id })).data.action;
    expect(action).toMatchObject({
      status: 'completed',
      type: 'create',
      resource_id: d.id,
      resource_type: 'droplet',
      region_slug: 'fra1',
    });
    expect(action.completed_at).not.toBeNull();

    const container = env.fake.dropletInfo(d.id).container!;
    expect(env.backend.file(container, '/root/.ssh/authorized_keys')).toBe(pk);
    expect(env.backend.file(container, '/var/lib/cloud/user-data')).toContain('touch /ok');
    expect(env.backend.droplets.get(container)!.spec.variant).toBe('trixie');
  });

  it('multi-creates with names (bookworm variant for debian-12), paginates with links.pages and meta.total, filters by tag', async () => {
    const names = ['multi-1', 'multi-2', 'multi-3', 'multi-4', 'multi-5'];
    const res = await env.api.droplet.createDroplets({ ...base, image: 'debian-12-x64', names, tags: ['multi'] });
    expect(res.status).toBe(202);
    const body = res.data as unknown as { droplets: { id: number; name: string }[]; links: { actions: unknown[] } };
    expect(body.droplets.map((d) => d.name)).toEqual(names);
    expect(body.links.actions).toHaveLength(5);
    for (const d of body.droplets) await activeDroplet(d.id);
    const c = env.fake.dropletInfo(body.droplets[0]!.id).container!;
    expect(env.backend.droplets.get(c)!.spec.variant).toBe('bookworm');

    const seen: string[] = [];
    let page = 1;
    for (; page <= 5; page++) {
      const r = await env.api.droplet.listDroplets({ tag_name: 'multi', per_page: 2, page });
      expect(r.data.meta?.total).toBe(5);
      seen.push(...r.data.droplets.map((d) => d.name));
      const pages = (r.data.links as { pages?: Record<string, string> }).pages ?? {};
      if (page > 1) expect(pages.prev).toContain(`page=${page - 1}`);
      if (!pages.next) break;
      expect(new URL(pages.next).searchParams.get('tag_name')).toBe('multi');
      expect(pages.last).toContain('page=3');
    }
    expect(page).toBe(3);
    expect(seen).toEqual(names);
  });

  it('per_page over 200 is rejected as a spec violation of the request', async () => {
    const r = await raw(env.fake, 'GET', '/droplets?per_page=500');
    expect(r.status).toBe(422);
    expect(r.json.id).toBe('lab_spec_violation');
    expect(env.fake.tally().violations.some((v) => v.where === 'request.query')).toBe(true);
    env.fake.resetTally();
  });

  it('deletes one droplet and droplets by tag; backend containers are destroyed', async () => {
    const one = (await env.api.droplet.createDroplet({ ...base, name: 'gone-1' })).data.droplet;
    await activeDroplet(one.id);
    const c = env.fake.dropletInfo(one.id).container!;
    expect((await env.api.droplet.deleteDroplet({ droplet_id: one.id })).status).toBe(204);
    expect((await failure(env.api.droplet.getDroplet({ droplet_id: one.id }))).status).toBe(404);
    await until(() => !env.backend.droplets.has(c), 'container destroyed');

    expect((await env.api.droplet.deleteDropletsByTag({ tag_name: 'multi' })).status).toBe(204);
    const left = await env.api.droplet.listDroplets({ tag_name: 'multi' });
    expect(left.data.meta?.total).toBe(0);
  });
});

describe('actions and snapshots', () => {
  it('power_off/power_on/reboot go in-progress → completed with timestamps and drive the backend', async () => {
    const d = (await env.api.droplet.createDroplet({ ...base, name: 'power-1' })).data.droplet;
    await activeDroplet(d.id);
    const c = env.fake.dropletInfo(d.id).container!;
    const off = (await env.api.droplet.powerOffDroplet({ droplet_id: d.id })).data.action;
    expect(off.status).toBe('in-progress');
    expect(off.completed_at).toBeNull();
    const busy = await failure(env.api.droplet.powerOnDroplet({ droplet_id: d.id }));
    expect([busy.status, busy.data.message]).toEqual([422, 'Droplet already has a pending event.']);
    await until(
      async () =>
        (await env.api.droplet.getDropletAction({ droplet_id: d.id, action_id: off.id })).data.action.status ===
        'completed',
      'power_off',
    );
    expect((await env.api.droplet.getDroplet({ droplet_id: d.id })).data.droplet.status).toBe('off');
    expect(await env.backend.isRunning(c)).toBe(false);
    const on = (await env.api.droplet.powerOnDroplet({ droplet_id: d.id })).data.action;
    await until(
      async () => (await env.api.action.getAction({ action_id: on.id })).data.action.status === 'completed',
      'power_on',
    );
    expect(await env.backend.isRunning(c)).toBe(true);
    const rb = (await env.api.droplet.rebootDroplet({ droplet_id: d.id })).data.action;
    await until(
      async () => (await env.api.action.getAction({ action_id: rb.id })).data.action.status === 'completed',
      'reboot',
    );
    const acts = await env.api.droplet.listDropletActions({ droplet_id: d.id });
    expect(acts.data.actions.map((a) => a.type)).toEqual(['reboot', 'power_on', 'power_off', 'create']);
    expect(env.backend.calls).toEqual(expect.arrayContaining([`powerOff ${c}`, `powerOn ${c}`, `reboot ${c}`]));
  });

  it('snapshot → listed under /v2/snapshots and the droplet; a droplet from it has the same files; rebuild/restore; delete', async () => {
    const d = (await env.api.droplet.createDroplet({ ...base, image: 'debian-12-x64', name: 'snap-src' })).data.droplet;
    await activeDroplet(d.id);
    const c = env.fake.dropletInfo(d.id).container!;
    env.backend.writeFile(c, '/srv/app.txt', 'v1');
    const act = (await env.api.droplet.snapshotDroplet({ droplet_id: d.id, name: 'snap-one' })).data.action;
    expect(act.type).toBe('snapshot');
    await until(
      async () => (await env.api.action.getAction({ action_id: act.id })).data.action.status === 'completed',
      'snapshot',
    );

    const snaps = (await env.api.snapshot.listSnapshots({ resource_type: 'droplet' } as never)).data.snapshots;
    const snap = snaps.find((s) => s.name === 'snap-one')!;
    expect(snap).toMatchObject({ resource_id: String(d.id), resource_type: 'droplet', regions: ['fra1'] });
    const own = (await env.api.droplet.listDropletSnapshots({ droplet_id: d.id })).data.snapshots;
    expect(own.map((s) => s.id)).toEqual([Number(snap.id)]);
    expect((await env.api.droplet.getDroplet({ droplet_id: d.id })).data.droplet.snapshot_ids).toEqual([
      Number(snap.id),
    ]);
    const img = (await env.api.image.getImage({ image_id: Number(snap.id) } as never)).data as {
      image: { type: string; public: boolean };
    };
    expect(img.image).toMatchObject({ type: 'snapshot', public: false });

    const copy = (await env.api.droplet.createDroplet({ ...base, image: Number(snap.id) as never, name: 'snap-copy' }))
      .data.droplet;
    await activeDroplet(copy.id);
    const cc = env.fake.dropletInfo(copy.id).container!;
    expect(env.backend.file(cc, '/srv/app.txt')).toBe('v1');
    expect(env.backend.droplets.get(cc)!.spec.variant).toBe('bookworm');

    env.backend.writeFile(c, '/srv/app.txt', 'v2');
    const restore = (await env.api.droplet.restoreDroplet({ droplet_id: d.id, image: Number(snap.id) } as never)).data
      .action;
    await until(
      async () => (await env.api.action.getAction({ action_id: restore.id })).data.action.status === 'completed',
      'restore',
    );
    expect(env.backend.file(c, '/srv/app.txt')).toBe('v1');
    const rebuild = (await env.api.droplet.rebuildDroplet({ droplet_id: d.id, image: 'ubuntu-24-04-x64' } as never))
      .data.action;
    await until(
      async () => (await env.api.action.getAction({ action_id: rebuild.id })).data.action.status === 'completed',
      'rebuild',
    );
    expect(env.backend.file(c, '/srv/app.txt')).toBeUndefined();
    const rebuilt = (await env.api.droplet.getDroplet({ droplet_id: d.id })).data.droplet;
    expect((rebuilt.image as { slug: string }).slug).toBe('ubuntu-24-04-x64');

    expect((await env.api.snapshot.deleteSnapshot({ snapshot_id: snap.id } as never)).status).toBe(204);
    expect(env.backend.snapshots.size).toBe(0);
    expect((await failure(env.api.snapshot.getSnapshot({ snapshot_id: snap.id } as never))).status).toBe(404);
  });
});

describe('tags on snapshots (images) and shutdown', () => {
  it('tags a snapshot image; /v2/snapshots and /v2/images?tag_name show it; deleting the tag removes it; shutdown is graceful', async () => {
    const d = (await env.api.droplet.createDroplet({ ...base, name: 'img-tag-src' })).data.droplet;
    await activeDroplet(d.id);
    const act = (await env.api.droplet.snapshotDroplet({ droplet_id: d.id, name: 'tagged-snap' })).data.action;
    await until(
      async () => (await env.api.action.getAction({ action_id: act.id })).data.action.status === 'completed',
      'snapshot',
    );
    const snap = (await env.api.droplet.listDropletSnapshots({ droplet_id: d.id })).data.snapshots[0]!;
    await env.api.tag.createTag({ name: 'backup' });
    await env.api.tag.tagResources({
      tag_name: 'backup',
      resources: [{ resource_id: String(snap.id), resource_type: 'image' }],
    });
    const listed = (await env.api.snapshot.listSnapshots({ resource_type: 'droplet' } as never)).data.snapshots;
    expect(listed.find((x) => x.id === String(snap.id))!.tags).toEqual(['backup']);
    const byTag = (await env.api.image.listImages({ tag_name: 'backup' } as never)).data.images;
    expect(byTag.map((i) => i.id)).toEqual([snap.id]);
    expect((await env.api.tag.getTag({ tag_name: 'backup' })).data.tag.resources.count).toBe(1);
    await env.api.tag.deleteTag({ tag_name: 'backup' });
    expect((await env.api.snapshot.getSnapshot({ snapshot_id: String(snap.id) } as never)).data.snapshot.tags).toEqual(
      [],
    );

    const c = env.fake.dropletInfo(d.id).container!;
    const sd = (await env.api.droplet.shutdownDroplet({ droplet_id: d.id })).data.action;
    await until(
      async () => (await env.api.action.getAction({ action_id: sd.id })).data.action.status === 'completed',
      'shutdown',
    );
    expect(env.backend.calls).toContain(`shutdown ${c}`);
    expect((await env.api.droplet.getDroplet({ droplet_id: d.id })).data.droplet.status).toBe('off');
  });
});

describe('tags', () => {
  it('create, tag/untag droplets (droplet.tags in sync), get counts, list, delete', async () => {
    const d = (await env.api.droplet.createDroplet({ ...base, name: 'tagged-1' })).data.droplet;
    await activeDroplet(d.id);
    expect((await env.api.tag.createTag({ name: 'blue' })).status).toBe(201);
    const bad = await failure(env.api.tag.createTag({ name: 'no spaces' }));
    expect([bad.status, bad.data.id]).toEqual([422, 'lab_spec_violation']);
    env.fake.resetTally();
    await env.api.tag.tagResources({
      tag_name: 'blue',
      resources: [{ resource_id: String(d.id), resource_type: 'droplet' }],
    });
    expect((await env.api.droplet.getDroplet({ droplet_id: d.id })).data.droplet.tags).toContain('blue');
    const tag = (await env.api.tag.getTag({ tag_name: 'blue' })).data.tag;
    expect(tag.resources.droplets.count).toBe(1);
    expect((await env.api.droplet.listDroplets({ tag_name: 'blue' })).data.droplets.map((x) => x.id)).toEqual([d.id]);
    await env.api.tag.untagResources({
      tag_name: 'blue',
      resources: [{ resource_id: String(d.id), resource_type: 'droplet' }],
    });
    expect((await env.api.droplet.getDroplet({ droplet_id: d.id })).data.droplet.tags).not.toContain('blue');
    expect((await env.api.tag.listTags({})).data.tags.map((t) => t.name)).toContain('blue');
    expect((await env.api.tag.deleteTag({ tag_name: 'blue' })).status).toBe(204);
    expect((await failure(env.api.tag.getTag({ tag_name: 'blue' }))).status).toBe(404);
  });
});
