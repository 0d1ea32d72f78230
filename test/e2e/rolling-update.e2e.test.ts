// rolling-update on ONE droplet, end to end with the BUNDLED action (dist/rolling-update)
// run as the runner runs it, against a lab droplet (Docker 26, Compose v2): nginx in front of
// a 2-replica web service and a worker. Release r1 from nothing, then r2 start-first under
// load through nginx (no request may fail), then a release whose web never becomes healthy:
// the action fails naming the service, the old containers keep serving, the worker is not touched.
import { randomBytes } from 'node:crypto';

import { beforeAll, describe, expect, it } from 'vitest';

import { startLoad } from '../../bench/rolling-update-load.js';
import { type FixtureDroplet, useLab } from '../lab/fixture.js';
import { buildRollingUpdate, containers, getText, rollingUpdate, ruInputs } from '../support/rolling-update-lab.js';

const lab = useLab();
const app = `ru${randomBytes(2).toString('hex')}`;
let d: FixtureDroplet;

interface DropletOut {
  droplet: string;
  before: string | null;
  after: string | null;
  result: string;
  services: { service: string; strategy: string; result: string; gapSeconds?: number }[];
}

beforeAll(async () => {
  buildRollingUpdate();
  d = await lab.createDroplet({ variant: 'trixie' });
}, 300_000);

describe('rolling-update on one droplet', () => {
  it('r1 from nothing: every service started (web and worker start-first, nginx recreated: it publishes :80)', async () => {
    const r = await rollingUpdate(ruInputs(lab, [d], app, 'r1'));
    expect(r.exitCode, r.log).toBe(0);
    expect(await getText(`http://${d.publicIpv4}/v.txt`)).toEqual({ status: 200, body: 'r1' });
    const out = JSON.parse(r.outputs['droplets'] ?? '[]') as DropletOut[];
    expect(out).toHaveLength(1);
    expect(out[0]?.result).toBe('updated');
    expect(out[0]?.after).toBe('r1');
    expect(out[0]?.services.map((s) => [s.service, s.strategy, s.result])).toEqual([
      ['web', 'start-first', 'updated'],
      ['nginx', 'recreate', 'updated'],
      ['worker', 'start-first', 'updated'],
    ]);
    expect(r.outputs['updated-count']).toBe('1');
    const rows = await containers(lab, d, app);
    expect(rows.filter((c) => c.service === 'web' && c.status.includes('(healthy)'))).toHaveLength(2);
  });

  it('r2 start-first under 60 req/s through nginx: no request fails, old containers gone, current → r2', async () => {
    const before = (await containers(lab, d, app)).filter((c) => c.service === 'web').map((c) => c.name);
    const load = startLoad({
      url: `http://${d.publicIpv4}/v.txt`,
      ratePerSecond: 60,
      timeoutMs: 2000,
      slowMs: 250,
      maxRequests: 6000,
      maxDurationMs: 100_000,
    });
    const r = await rollingUpdate({
      ...ruInputs(lab, [d], app, 'r2'),
      services: 'web, worker',
      'proxy-service': 'nginx',
      'proxy-reload': 'nginx -s reload',
    });
    await new Promise((res) => setTimeout(res, 1000));
    const stats = await load.stop();
    expect(r.exitCode, r.log).toBe(0);
    expect(stats.total).toBeGreaterThan(100);
    expect(stats.failed, JSON.stringify(stats)).toBe(0);
    expect(stats.bodies['r1']).toBeGreaterThan(0);
    expect(stats.bodies['r2']).toBeGreaterThan(0);
    expect(await getText(`http://${d.publicIpv4}/v.txt`)).toEqual({ status: 200, body: 'r2' });

    const out = JSON.parse(r.outputs['droplets'] ?? '[]') as DropletOut[];
    expect(out[0]).toMatchObject({ before: 'r1', after: 'r2', result: 'updated' });
    expect(out[0]?.services.map((s) => [s.service, s.strategy, s.result])).toEqual([
      ['web', 'start-first', 'updated'],
      ['worker', 'start-first', 'updated'],
    ]);
    const after = await containers(lab, d, app);
    const web = after.filter((c) => c.service === 'web');
    expect(web).toHaveLength(2);
    expect(web.map((c) => c.name).filter((n) => before.includes(n))).toEqual([]);
    expect(after.filter((c) => c.service === 'worker')).toHaveLength(1);
    expect((await lab.exec(d, `readlink /opt/${app}/current`)).stdout.trim()).toBe('releases/r2');
    // the old containers left DNS before they stopped: the log says so
    expect(r.log).toContain('old container(s) out of DNS');
  });

  it('a web that never becomes healthy: fails naming web, the r2 containers keep serving, the worker is not touched', async () => {
    const before = await containers(lab, d, app);
    const r = await rollingUpdate({
      ...ruInputs(lab, [d], app, 'r3', 'HEALTH_PATH=/nope'),
      services: 'web, worker',
      'health-timeout': '8s',
    });
    expect(r.exitCode).toBe(1);
    const error = r.errors.join('\n');
    expect(error).toMatch(/rolling-update failed: .*service "web" failed/s);
    expect(error).toMatch(/the new containers were removed and the 2 old one\(s\) kept serving/);
    expect(error).toContain('Release r2 kept serving');
    expect(await getText(`http://${d.publicIpv4}/v.txt`)).toEqual({ status: 200, body: 'r2' });
    const after = await containers(lab, d, app);
    expect(after.map((c) => c.name)).toEqual(before.map((c) => c.name));
    const out = JSON.parse(r.outputs['droplets'] ?? '[]') as DropletOut[];
    expect(out[0]?.result).toBe('failed');
    expect(out[0]?.services.map((s) => [s.service, s.result])).toEqual([
      ['web', 'failed'],
      ['worker', 'not-started'],
    ]);
    expect((await lab.exec(d, `readlink /opt/${app}/current`)).stdout.trim()).toBe('releases/r2');
    expect((await lab.exec(d, `ls /opt/${app}/releases`)).stdout.trim().split('\n').sort()).toEqual(['r1', 'r2']);
  });
});
