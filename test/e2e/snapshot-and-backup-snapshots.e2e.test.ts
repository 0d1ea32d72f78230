// snapshot-and-backup, snapshots: the BUNDLED action (dist/snapshot-and-backup/index.js) run as
// the runner runs it, against a DigitalOcean API fake (held to the OpenAPI spec) whose droplets
// are real lab droplets (Docker droplet backend; snapshots commit the droplet container).
//
// - 4 runs make 4 snapshots of ours; a foreign snapshot with our name prefix but without our tag,
//   one with our tag but another name, and a snapshot of another droplet exist too;
//   the 5th run with snapshot-keep-last 3 deletes EXACTLY the 2 oldest of ours.
// - power-off: the droplet is off during the snapshot and active again afterwards; when the
//   snapshot action errors (fault injected), the droplet is still powered back on and the step
//   fails naming the action.
//
// Needs: node scripts/build.mjs snapshot-and-backup
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import { type ApiFakeHandle, startApiFake } from '../lab/api/index.js';
import { useLab } from '../lab/fixture.js';
import { runAction } from '../support/run-action.js';

const lab = useLab();
let fake: ApiFakeHandle;
const APP = 'snapapp';
const TAG = `droplet-deploy-${APP}`;

interface ApiSnapshot {
  id: string;
  name: string;
  created_at: string;
  resource_id: string;
  tags: string[];
}

async function api<T>(method: string, path: string, body?: unknown): Promise<T> {
  const res = await fetch(`${fake.url}${path}`, {
    method,
    headers: { authorization: `Bearer ${fake.token}`, 'content-type': 'application/json' },
    ...(body === undefined ? {} : { body: JSON.stringify(body) }),
  });
  const text = await res.text();
  if (!res.ok) throw new Error(`${method} ${path}: ${res.status} ${text}`);
  return (text ? JSON.parse(text) : undefined) as T;
}

async function waitAction(id: number): Promise<void> {
  for (let i = 0; i < 600; i += 1) {
    const { action } = await api<{ action: { status: string } }>('GET', `/actions/${id}`);
    if (action.status === 'completed') return;
    if (action.status === 'errored') throw new Error(`action ${id} errored`);
    await new Promise((r) => setTimeout(r, 250));
  }
  throw new Error(`action ${id} did not finish`);
}

async function createDroplet(name: string): Promise<number> {
  const r = await api<{ droplet: { id: number }; links: { actions: { id: number }[] } }>('POST', '/droplets', {
    name,
    region: 'fra1',
    size: 's-1vcpu-1gb',
    image: 'ubuntu-24-04-x64',
  });
  for (const a of r.links.actions) await waitAction(a.id);
  return r.droplet.id;
}

async function snapshotsOf(dropletId: number): Promise<ApiSnapshot[]> {
  const { snapshots } = await api<{ snapshots: ApiSnapshot[] }>('GET', '/snapshots?resource_type=droplet&per_page=200');
  return snapshots.filter((s) => s.resource_id === String(dropletId));
}

const baseInputs = (dropletId: number): Record<string, string> => ({
  app: APP,
  token: fake.token,
  'api-endpoint': fake.url,
  'droplet-ids': String(dropletId),
  'snapshot-timeout': '5m',
});

let web: number;
let other: number;

beforeAll(async () => {
  fake = await startApiFake({ backend: lab.backend, lbProxy: { enabled: false }, reservedIpProxy: { enabled: false } });
  [web, other] = await Promise.all([createDroplet('snap-web-1'), createDroplet('snap-web-2')]);
}, 600_000);

afterAll(async () => {
  if (fake) {
    expect(fake.tally().violations).toEqual([]);
    await fake.close();
  }
}, 300_000);

describe('snapshot-and-backup: snapshots and their retention', () => {
  it('create 5, keep 3: exactly the 2 oldest of OURS are deleted; foreign snapshots untouched', async () => {
    // foreign snapshots: our prefix without our tag; our tag with another name; another droplet's
    const foreignPrefix = await api<{ action: { id: number } }>('POST', `/droplets/${web}/actions`, {
      type: 'snapshot',
      name: `${APP}-snap-web-1-manual`,
    });
    await waitAction(foreignPrefix.action.id);
    const foreignTagged = await api<{ action: { id: number } }>('POST', `/droplets/${web}/actions`, {
      type: 'snapshot',
      name: 'before-upgrade',
    });
    await waitAction(foreignTagged.action.id);
    await api('POST', '/tags', { name: TAG });
    const taggedId = (await snapshotsOf(web)).find((s) => s.name === 'before-upgrade')?.id as string;
    await api('POST', `/tags/${TAG}/resources`, { resources: [{ resource_id: taggedId, resource_type: 'image' }] });
    const otherRun = await runAction('snapshot-and-backup', { inputs: baseInputs(other) });
    expect(otherRun.exitCode, otherRun.log).toBe(0);
    const otherSnapshot = otherRun.outputs['snapshot-ids'] as string;
    const foreign = (await snapshotsOf(web)).map((s) => s.id);
    expect(foreign).toHaveLength(2);

    const made: string[] = [];
    for (let i = 1; i <= 4; i += 1) {
      const r = await runAction('snapshot-and-backup', { inputs: baseInputs(web) });
      expect(r.exitCode, r.log).toBe(0);
      expect(r.outputs['deleted-snapshot-ids']).toBe('');
      made.push(r.outputs['snapshot-ids'] as string);
      // distinct UTC-second timestamps in the names
      await new Promise((res) => setTimeout(res, 1100));
    }
    const fifth = await runAction('snapshot-and-backup', { inputs: { ...baseInputs(web), 'snapshot-keep-last': '3' } });
    expect(fifth.exitCode, fifth.log).toBe(0);
    made.push(fifth.outputs['snapshot-ids'] as string);
    console.log(`snapshots made: ${made.join(', ')}; deleted: ${fifth.outputs['deleted-snapshot-ids']}`);

    expect(fifth.outputs['deleted-snapshot-ids']?.split(',')).toEqual([made[1], made[0]]);
    const left = await snapshotsOf(web);
    expect(left.map((s) => s.id).sort()).toEqual([...foreign, made[2], made[3], made[4]].sort());
    for (const s of left.filter((x) => made.includes(x.id))) {
      expect(s.name).toMatch(new RegExp(`^${APP}-snap-web-1-\\d{8}T\\d{6}Z$`));
      expect(s.tags).toContain(TAG);
    }
    expect((await snapshotsOf(other)).map((s) => s.id)).toEqual([otherSnapshot]);
    expect(fifth.summary).toContain('Deleted by retention');
  });

  it('power-off: off during the snapshot, active afterwards; a failed snapshot still powers the droplet on', async () => {
    const ok = await runAction('snapshot-and-backup', { inputs: { ...baseInputs(other), 'power-off': 'true' } });
    expect(ok.exitCode, ok.log).toBe(0);
    expect(ok.log).toMatch(/shutting down for a consistent snapshot/);
    expect(ok.log).toMatch(/powering on/);
    expect((await api<{ droplet: { status: string } }>('GET', `/droplets/${other}`)).droplet.status).toBe('active');

    const fault = await fetch(`${fake.origin}/_lab/faults`, {
      method: 'POST',
      headers: { authorization: `Bearer ${fake.token}`, 'content-type': 'application/json' },
      body: JSON.stringify({ kind: 'action_error', actionType: 'snapshot', count: 1 }),
    });
    expect(fault.status, await fault.text()).toBe(201);
    const failed = await runAction('snapshot-and-backup', { inputs: { ...baseInputs(other), 'power-off': 'true' } });
    expect(failed.exitCode).toBe(1);
    expect(failed.errors.join('\n')).toMatch(
      /snapshot-and-backup failed: .*snapshot of droplet snap-web-2: .*errored/s,
    );
    expect(failed.log).toMatch(/powering on/);
    expect((await api<{ droplet: { status: string } }>('GET', `/droplets/${other}`)).droplet.status).toBe('active');
  });
});
