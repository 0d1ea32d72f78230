// Measures the cost of spec validation in the API fake:
//   node --import tsx test/lab/api/measure.ts
// - spec load (read + parse + index), per-operation compile (deref + tighten + ajv compile) for every
//   operation the fake serves, cold;
// - per-request overhead: the same request mix against a fake with validation on and off.
import { createApiClient } from 'dots-wrapper';
import { MemoryBackend } from './backend.js';
import { startApiFake } from './index.js';
import { SpecValidator } from './spec.js';

const OPS: [string, string, number][] = [
  ['GET', '/v2/account', 200],
  ['GET', '/v2/account/keys', 200],
  ['POST', '/v2/account/keys', 201],
  ['GET', '/v2/actions/{action_id}', 200],
  ['GET', '/v2/droplets', 200],
  ['POST', '/v2/droplets', 202],
  ['GET', '/v2/droplets/{droplet_id}', 200],
  ['POST', '/v2/droplets/{droplet_id}/actions', 201],
  ['GET', '/v2/snapshots', 200],
  ['GET', '/v2/images', 200],
  ['GET', '/v2/regions', 200],
  ['GET', '/v2/sizes', 200],
  ['GET', '/v2/tags', 200],
  ['GET', '/v2/firewalls/{firewall_id}', 200],
  ['GET', '/v2/load_balancers/{lb_id}', 200],
  ['POST', '/v2/load_balancers', 202],
  ['GET', '/v2/reserved_ips/{reserved_ip}', 200],
  ['GET', '/v2/databases/{database_cluster_uuid}', 200],
];

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)]!;
}

async function main(): Promise<void> {
  const t0 = performance.now();
  const v = new SpecValidator();
  const loadMs = performance.now() - t0;
  const per: Record<string, number> = {};
  for (const [m, p, s] of OPS) {
    const path = p.replace(/\{[^}]+\}/g, '1');
    const op = v.match(m, path)!;
    const a = performance.now();
    v.validateResponse(op, path, s, {}, {});
    if (m !== 'GET') v.validateRequest(op, path, {}, {}, true);
    per[`${m} ${p}`] = performance.now() - a;
  }
  const compileTotal = Object.values(per).reduce((x, y) => x + y, 0);
  console.log(`spec load (read + JSON.parse 2.4 MB + index ${'operations'}): ${loadMs.toFixed(0)} ms`);
  console.log(
    `compile, cold, ${OPS.length} operations (response + request body): total ${compileTotal.toFixed(0)} ms, median ${median(Object.values(per)).toFixed(1)} ms, max ${Math.max(...Object.values(per)).toFixed(1)} ms`,
  );
  for (const [k, ms] of Object.entries(per)) console.log(`  ${ms.toFixed(1).padStart(7)} ms  ${k}`);

  const N = Number(process.env.N ?? 300);
  const results: Record<string, number> = {};
  for (const validate of [false, true, false, true]) {
    const backend = new MemoryBackend({ publicPrefix: '127.0.39' });
    const fake = await startApiFake({ backend, validate, spec: validate ? v : undefined });
    const api = createApiClient({ token: fake.token, endpoint: fake.url });
    const d = (
      await api.droplet.createDroplet({ name: 'm1', region: 'nyc3', size: 's-1vcpu-1gb', image: 'ubuntu-24-04-x64' })
    ).data.droplet;
    for (let i = 0; i < 20; i++) await api.droplet.getDroplet({ droplet_id: d.id }); // warm up
    const a = performance.now();
    for (let i = 0; i < N; i++) {
      await api.droplet.getDroplet({ droplet_id: d.id });
      await api.droplet.listDroplets({ per_page: 20 });
      await api.region.listRegions({});
    }
    const perReq = (performance.now() - a) / (N * 3);
    results[validate ? 'on' : 'off'] = perReq;
    if (validate) {
      const st = fake.stats();
      console.log(
        `validator: ${st.validations} validations, ${st.validateMsPerCall} ms per ajv run; whole validation path ${st.overheadMsPerRequest} ms per request (request + response, compiles excluded)`,
      );
    }
    await fake.close();
    await backend.close();
  }
  console.log(
    `per request (GET droplet / list droplets / list regions, ${N * 3} requests, sequential): validation off ${results.off!.toFixed(2)} ms, on ${results.on!.toFixed(2)} ms → overhead ${(results.on! - results.off!).toFixed(2)} ms/request`,
  );
}

await main();
