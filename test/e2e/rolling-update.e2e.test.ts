// rolling-update on ONE droplet, end to end with the BUNDLED action (dist/rolling-update)
// run as the runner runs it, against a lab droplet (Docker 26, Compose v2): nginx in front of
// a 2-replica web service and a worker. Release r1 from nothing, then r2 start-first under
// load through nginx (no request may fail), then a release whose web never becomes healthy:
// the action fails naming the service, the old containers keep serving, the worker is not touched.
// Then a service with a named volume (jobs): recreated, never two copies on its data; a release
// that drops it fails first (jobs keeps running), then succeeds: jobs is stopped and removed,
// its volume kept.
import { randomBytes } from 'node:crypto';

import { beforeAll, describe, expect, it } from 'vitest';

import { startLoad } from '../../bench/rolling-update-load.js';
import { type FixtureDroplet, useLab } from '../lab/fixture.js';
import {
  buildRollingUpdate,
  containers,
  getText,
  labImages,
  rollingUpdate,
  ruInputs,
} from '../support/rolling-update-lab.js';

const lab = useLab();
const app = `ru${randomBytes(2).toString('hex')}`;
let d: FixtureDroplet;

interface DropletOut {
  droplet: string;
  before: string | null;
  after: string | null;
  result: string;
  services: { service: string; strategy: string; result: string; gapSeconds?: number }[];
  removed: string[];
}

const withJobs = { 'compose-files': 'compose.yaml, compose.jobs.yaml' };

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
    // with proxy-service the old containers are stopped where they stand (never taken off the
    // network while answering), then the proxy is reloaded again: the log says so
    expect(r.log).toContain('stopping the 2 old container(s) where they stand');
    expect(r.log).toContain('old container(s) stopped and out of DNS; reloading proxy nginx again');
    expect(r.log).not.toContain('network disconnect');
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

  it('a service writing to a named volume (jobs) is recreated, not started beside its old copy; the log says why', async () => {
    const r = await rollingUpdate({ ...ruInputs(lab, [d], app, 'r4'), ...withJobs });
    expect(r.exitCode, r.log).toBe(0);
    const out = JSON.parse(r.outputs['droplets'] ?? '[]') as DropletOut[];
    expect(out[0]?.services.find((s) => s.service === 'jobs')).toMatchObject({
      strategy: 'recreate',
      result: 'updated',
    });
    // once, when it is recreated (src/lib/rollout/droplet.ts), not again when the roll-out is planned
    const why = 'writes to volume jobs-data at /data: two containers must not run on the same data';
    expect(r.log).toContain(`jobs: recreating (${why}`);
    expect(r.log.split(why)).toHaveLength(2);
    expect(out[0]?.removed).toEqual([]);
    // r5 of the same file: recreated again, one container at any time (the old one stopped first)
    const again = await rollingUpdate({ ...ruInputs(lab, [d], app, 'r5'), ...withJobs, services: 'jobs' });
    expect(again.exitCode, again.log).toBe(0);
    const jobs = (await containers(lab, d, app)).filter((c) => c.service === 'jobs');
    expect(jobs).toHaveLength(1);
    expect(jobs[0]?.status).toMatch(/^Up/);
    expect((await lab.exec(d, `docker volume inspect ${app}_jobs-data --format '{{.Name}}'`)).stdout.trim()).toBe(
      `${app}_jobs-data`,
    );
    expect(again.log).not.toContain('starting 1 new container(s) beside 1 old');
  });

  it('a release without jobs whose web fails: jobs is NOT removed (still running, same container)', async () => {
    const before = (await containers(lab, d, app)).filter((c) => c.service === 'jobs');
    const r = await rollingUpdate({ ...ruInputs(lab, [d], app, 'r6', 'HEALTH_PATH=/nope'), 'health-timeout': '8s' });
    expect(r.exitCode).toBe(1);
    expect(r.errors.join('\n')).toMatch(/service "web" failed/);
    expect(r.log).not.toContain('no longer in the release');
    const after = (await containers(lab, d, app)).filter((c) => c.service === 'jobs');
    expect(after.map((c) => c.name)).toEqual(before.map((c) => c.name));
    expect(after[0]?.status).toMatch(/^Up/);
    expect((await lab.exec(d, `readlink /opt/${app}/current`)).stdout.trim()).toBe('releases/r5');
  });

  it('the same release without jobs succeeding: jobs is stopped and removed after the roll-out, its volume and data kept', async () => {
    const r = await rollingUpdate(ruInputs(lab, [d], app, 'r7'));
    expect(r.exitCode, r.log).toBe(0);
    expect(await getText(`http://${d.publicIpv4}/v.txt`)).toEqual({ status: 200, body: 'r7' });
    const out = JSON.parse(r.outputs['droplets'] ?? '[]') as DropletOut[];
    expect(out[0]?.removed).toEqual(['jobs']);
    expect(out[0]?.services.map((s) => s.service)).not.toContain('jobs');
    // after every service rolled
    const removedAt = r.log.indexOf('jobs: no longer in the release; stopping and removing');
    expect(removedAt, r.log).toBeGreaterThan(r.log.lastIndexOf('worker: '));
    expect(r.summary).toMatch(/jobs \(volumes kept\)/);
    const rows = await containers(lab, d, app);
    expect(rows.filter((c) => c.service === 'jobs')).toEqual([]);
    expect(rows.filter((c) => c.service === 'web')).toHaveLength(2);
    // the volume and what the jobs wrote are still there
    const { web } = labImages(lab);
    const data = await lab.exec(d, `docker run --rm -v ${app}_jobs-data:/data ${web} /bin/busybox cat /data/runs`);
    expect(data.stdout.trim().split('\n')).toEqual(['r4', 'r5']);
    expect((await lab.exec(d, `readlink /opt/${app}/current`)).stdout.trim()).toBe('releases/r7');
  });
});
