// API fake: firewalls, load balancers with real forwarding + health checks, reserved IPs (MemoryBackend
// droplets run a tiny HTTP app answering their name on <public address>:8080).
import { request } from 'node:http';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { failure, makeEnv, raw, until, type Env } from './helpers.js';

let env: Env;
beforeAll(async () => {
  // timeScale 0.05: a 3 s health check interval runs every 150 ms (semantics unchanged, time compressed).
  env = await makeEnv(
    { publicPrefix: '127.0.32', appPort: 8080 },
    { lbProxy: { timeScale: 0.05 }, reservedIpProxy: { ports: [8080] } },
  );
});
afterAll(async () => {
  const t = env.fake.tally();
  await env.close();
  if (t.warnings.length)
    console.log(
      `[${'networking'}] request warnings:`,
      JSON.stringify(t.warnings.map((w) => `${w.operation}: ${w.message}`)),
    );
  expect(t.violations).toEqual([]);
});

const base = { region: 'ams3', size: 's-1vcpu-1gb', image: 'docker-20-04' };

async function activeDroplets(names: string[], tags: string[] = []): Promise<number[]> {
  const res = await env.api.droplet.createDroplets({ ...base, names, tags });
  const ids = (res.data as unknown as { droplets: { id: number }[] }).droplets.map((d) => d.id);
  for (const id of ids)
    await until(
      async () => (await env.api.droplet.getDroplet({ droplet_id: id })).data.droplet.status === 'active',
      `droplet ${id}`,
    );
  return ids;
}

/** One HTTP GET (new connection each time). */
function get(host: string, port: number, path = '/'): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const req = request({ host, port, path, agent: false, timeout: 2000 }, (res) => {
      let body = '';
      res.on('data', (c: Buffer) => (body += c.toString()));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
    });
    req.on('error', reject);
    req.on('timeout', () => req.destroy(new Error('timeout')));
    req.end();
  });
}

async function spread(host: string, port: number, n: number): Promise<Record<string, number>> {
  const seen: Record<string, number> = {};
  for (let i = 0; i < n; i++) {
    const r = await get(host, port);
    const key = r.status === 200 ? r.body : `HTTP ${r.status}`;
    seen[key] = (seen[key] ?? 0) + 1;
  }
  return seen;
}

describe('firewalls (stored, not enforced)', () => {
  it('CRUD, droplets and tags attach/detach, rules add/remove', async () => {
    const [id] = await activeDroplets(['fw-1']);
    await env.api.tag.createTag({ name: 'fw-web' });
    const rules = {
      inbound_rules: [{ protocol: 'tcp', ports: '22', sources: { addresses: ['0.0.0.0/0', '::/0'] } }],
      outbound_rules: [{ protocol: 'tcp', ports: 'all', destinations: { addresses: ['0.0.0.0/0'] } }],
    };
    const created = await env.api.firewall.createFirewall({
      name: 'fw-one',
      ...rules,
      droplet_ids: [id!],
      tags: [],
    } as never);
    expect(created.status).toBe(202);
    const fw = created.data.firewall;
    expect(fw).toMatchObject({
      name: 'fw-one',
      status: 'succeeded',
      droplet_ids: [id],
      inbound_rules: rules.inbound_rules,
    });
    await env.api.firewall.addTagsToFirewall({ firewall_id: fw.id!, tags: ['fw-web'] });
    await env.api.firewall.removeDropletsFromFirewall({ firewall_id: fw.id!, droplet_ids: [id!] });
    await env.api.firewall.addRulesToFirewall({
      firewall_id: fw.id!,
      inbound_rules: [{ protocol: 'tcp', ports: '80', sources: { load_balancer_uids: [], addresses: ['10.0.0.0/8'] } }],
    } as never);
    let got = (await env.api.firewall.getFirewall({ firewall_id: fw.id! })).data.firewall;
    expect(got.tags).toEqual(['fw-web']);
    expect(got.droplet_ids).toEqual([]);
    expect(got.inbound_rules.map((r) => r.ports)).toEqual(['22', '80']);
    const upd = await env.api.firewall.updateFirewall({ ...got, id: fw.id!, name: 'fw-renamed' } as never);
    expect(upd.data.firewall.name).toBe('fw-renamed');
    got = (await env.api.firewall.listFirewalls({})).data.firewalls.find((f) => f.id === fw.id)!;
    expect(got.name).toBe('fw-renamed');
    expect((await env.api.firewall.deleteFirewall({ firewall_id: fw.id! })).status).toBe(204);
    expect((await failure(env.api.firewall.getFirewall({ firewall_id: fw.id! }))).status).toBe(404);
  });
});

describe('load balancers', () => {
  it('CRUD + add/remove droplets; forwards round robin over healthy members; drains an unhealthy one and brings it back', async () => {
    const ids = await activeDroplets(['lb-a', 'lb-b']);
    const res = await env.api.loadBalancer.createLoadBalancer({
      name: 'lb-one',
      region: 'ams3',
      forwarding_rules: [{ entry_protocol: 'http', entry_port: 80, target_protocol: 'http', target_port: 8080 }],
      health_check: {
        protocol: 'http',
        port: 8080,
        path: '/',
        check_interval_seconds: 3,
        response_timeout_seconds: 2,
        healthy_threshold: 2,
        unhealthy_threshold: 2,
      },
      droplet_ids: [ids[0]!],
    } as never);
    expect(res.status).toBe(202);
    const lbId = res.data.load_balancer.id!;
    expect(res.data.load_balancer.status).toBe('new');
    const lb = await until(async () => {
      const l = (await env.api.loadBalancer.getLoadBalancer({ load_balancer_id: lbId })).data.load_balancer;
      return l.status === 'active' ? l : undefined;
    }, 'lb active');
    expect(lb.ip).toMatch(/^127\.0\.20\.\d+$/);
    await env.api.loadBalancer.addDropletsToLoadBalancer({ load_balancer_id: lbId, droplet_ids: [ids[1]!] });
    expect(
      (await env.api.loadBalancer.getLoadBalancer({ load_balancer_id: lbId })).data.load_balancer.droplet_ids,
    ).toEqual(ids);

    await until(() => env.fake.loadBalancerHealth(lbId).every((h) => h.status === 'healthy'), 'both healthy');
    expect(await spread(lb.ip!, 80, 6)).toEqual({ 'lb-a': 3, 'lb-b': 3 });

    // member health is observable through the control endpoint too
    const h = await raw(env.fake, 'GET', `/_lab/load_balancers/${lbId}/health`);
    expect(h.json.droplets.map((d: { status: string }) => d.status)).toEqual(['healthy', 'healthy']);

    // app on lb-b fails its health check → out after unhealthy_threshold consecutive failures
    const cB = env.fake.dropletInfo(ids[1]!).container!;
    env.backend.setAppHealthy(cB, false);
    const drained = await until(() => {
      const b = env.fake.loadBalancerHealth(lbId).find((x) => x.droplet_id === ids[1]);
      return b?.status === 'unhealthy' ? b : undefined;
    }, 'lb-b unhealthy');
    expect(drained.consecutive_failures).toBe(2);
    expect(await spread(lb.ip!, 80, 4)).toEqual({ 'lb-a': 4 });

    env.backend.setAppHealthy(cB, true);
    const back = await until(() => {
      const b = env.fake.loadBalancerHealth(lbId).find((x) => x.droplet_id === ids[1]);
      return b?.status === 'healthy' ? b : undefined;
    }, 'lb-b healthy again');
    expect(back.consecutive_successes).toBe(2);
    expect(await spread(lb.ip!, 80, 4)).toEqual({ 'lb-a': 2, 'lb-b': 2 });

    await env.api.loadBalancer.removeDropletsFromLoadBalancer({ load_balancer_id: lbId, droplet_ids: ids });
    await until(() => env.fake.loadBalancerHealth(lbId).length === 0, 'no members');
    expect((await get(lb.ip!, 80)).status).toBe(503);

    const list = (await env.api.loadBalancer.listLoadBalancers({})).data.load_balancers;
    expect(list.map((l) => l.id)).toContain(lbId);
    expect((await env.api.loadBalancer.deleteLoadBalancer({ load_balancer_id: lbId })).status).toBe(204);
    await expect(get(lb.ip!, 80)).rejects.toThrow();
  });

  it('selects droplets by tag (TCP rule) and follows the tag; updates with PUT', async () => {
    const ids = await activeDroplets(['tag-a', 'tag-b'], ['lb-pool']);
    const res = await env.api.loadBalancer.createLoadBalancer({
      name: 'lb-tag',
      region: 'ams3',
      forwarding_rules: [{ entry_protocol: 'tcp', entry_port: 8081, target_protocol: 'tcp', target_port: 8080 }],
      health_check: {
        protocol: 'tcp',
        port: 8080,
        check_interval_seconds: 3,
        response_timeout_seconds: 2,
        healthy_threshold: 1,
        unhealthy_threshold: 2,
      },
      tag: 'lb-pool',
    } as never);
    const lbId = res.data.load_balancer.id!;
    const lb = await until(async () => {
      const l = (await env.api.loadBalancer.getLoadBalancer({ load_balancer_id: lbId })).data.load_balancer;
      return l.status === 'active' && l.droplet_ids.length === 2 ? l : undefined;
    }, 'lb active');
    expect(lb.tag).toBe('lb-pool');
    expect([...lb.droplet_ids].sort()).toEqual([...ids].sort());
    const fixed = await failure(
      env.api.loadBalancer.addDropletsToLoadBalancer({ load_balancer_id: lbId, droplet_ids: [ids[0]!] }),
    );
    expect(fixed.status).toBe(422);
    await until(() => env.fake.loadBalancerHealth(lbId).every((h) => h.status === 'healthy'), 'healthy');
    expect(await spread(lb.ip!, 8081, 4)).toEqual({ 'tag-a': 2, 'tag-b': 2 });
    await env.api.tag.untagResources({
      tag_name: 'lb-pool',
      resources: [{ resource_id: String(ids[1]), resource_type: 'droplet' }],
    });
    expect(await spread(lb.ip!, 8081, 3)).toEqual({ 'tag-a': 3 });

    const put = await env.api.loadBalancer.updateLoadBalancer({
      load_balancer_id: lbId,
      name: 'lb-tag-2',
      region: 'ams3',
      forwarding_rules: [{ entry_protocol: 'http', entry_port: 8082, target_protocol: 'http', target_port: 8080 }],
      health_check: {
        protocol: 'http',
        port: 8080,
        path: '/',
        check_interval_seconds: 3,
        response_timeout_seconds: 2,
        healthy_threshold: 1,
        unhealthy_threshold: 2,
      },
      tag: 'lb-pool',
    } as never);
    expect(put.data.load_balancer.name).toBe('lb-tag-2');
    await until(
      async () => (await get(lb.ip!, 8082).catch(() => ({ status: 0, body: '' }))).body === 'tag-a',
      'new rule forwards',
    );
    await env.api.loadBalancer.deleteLoadBalancer({ load_balancer_id: lbId });
  });
});

describe('reserved IPs (raw API: dots-wrapper only knows floating IPs)', () => {
  it('create for a droplet, forwards to it; unassign/assign actions; delete', async () => {
    const [a, b] = await activeDroplets(['rip-a', 'rip-b']);
    const created = await raw(env.fake, 'POST', '/reserved_ips', { droplet_id: a });
    expect(created.status).toBe(202);
    const ip: string = created.json.reserved_ip.ip;
    expect(ip).toMatch(/^127\.0\.21\.\d+$/);
    expect(created.json.reserved_ip.droplet.id).toBe(a);
    expect((await get(ip, 8080)).body).toBe('rip-a');

    const un = await raw(env.fake, 'POST', `/reserved_ips/${ip}/actions`, { type: 'unassign' });
    expect(un.status).toBe(201);
    expect(un.json.action).toMatchObject({ type: 'unassign_ip', status: 'completed', resource_type: 'reserved_ip' });
    expect((await raw(env.fake, 'GET', `/reserved_ips/${ip}`)).json.reserved_ip.droplet).toBeNull();
    await expect(get(ip, 8080)).rejects.toThrow();

    const as = await raw(env.fake, 'POST', `/reserved_ips/${ip}/actions`, { type: 'assign', droplet_id: b });
    expect(as.json.action.type).toBe('assign_ip');
    expect((await get(ip, 8080)).body).toBe('rip-b');
    const acts = await raw(env.fake, 'GET', `/reserved_ips/${ip}/actions`);
    expect(acts.json.actions.map((x: { type: string }) => x.type)).toEqual(['assign_ip', 'unassign_ip', 'assign_ip']);
    const one = await raw(env.fake, 'GET', `/reserved_ips/${ip}/actions/${as.json.action.id}`);
    expect(one.json.action.id).toBe(as.json.action.id);

    const regional = await raw(env.fake, 'POST', '/reserved_ips', { region: 'ams3' });
    expect(regional.json.reserved_ip.droplet).toBeNull();
    const list = await raw(env.fake, 'GET', '/reserved_ips');
    expect(list.json.meta.total).toBe(2);
    expect((await raw(env.fake, 'DELETE', `/reserved_ips/${ip}`)).status).toBe(204);
    expect((await raw(env.fake, 'DELETE', `/reserved_ips/${regional.json.reserved_ip.ip}`)).status).toBe(204);
    expect((await raw(env.fake, 'GET', `/reserved_ips/${ip}`)).status).toBe(404);
  });
});
