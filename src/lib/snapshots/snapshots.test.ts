import { describe, expect, it } from 'vitest';

import type { Logger } from '../action/logger.js';
import type { Action, Droplet, Snapshot } from '../digitalocean/types.js';
import { snapshotName, snapshotPrefix, validateTemplate } from './naming.js';
import { applySnapshotRetention, snapshotDroplet, type SnapshotApi, type SnapshotOptions } from './snapshots.js';

const quiet: Logger = { info: () => {}, warn: () => {}, error: () => {}, debug: () => {}, group: (_n, fn) => fn() };

function droplet(id: number, name: string): Droplet {
  return { id, name, status: 'active', tags: [] } as unknown as Droplet;
}

class FakeApi implements SnapshotApi {
  calls: string[] = [];
  snapshots: Snapshot[] = [];
  failSnapshot = false;
  clock = Date.parse('2026-11-22T03:00:00Z');
  private seq = 100;

  add(name: string, dropletId: number, createdAt: string, tags: string[]): Snapshot {
    const s = {
      id: String(++this.seq),
      name,
      created_at: createdAt,
      resource_id: String(dropletId),
      resource_type: 'droplet',
      regions: [],
      min_disk_size: 25,
      size_gigabytes: 1,
      tags,
    } as Snapshot;
    this.snapshots.push(s);
    return s;
  }
  async getDroplet(id: number): Promise<Droplet> {
    return droplet(id, `d${id}`);
  }
  private action(type: string): Action {
    return { id: ++this.seq, status: 'in-progress', type };
  }
  async snapshotDroplet(id: number, name: string): Promise<Action> {
    this.calls.push(`snapshot ${id} ${name}`);
    if (this.failSnapshot) throw new Error('422 Droplet already has a pending event');
    this.add(name, id, new Date(this.clock).toISOString(), []);
    return this.action('snapshot');
  }
  async shutdownDroplet(id: number): Promise<Action> {
    this.calls.push(`shutdown ${id}`);
    return this.action('shutdown');
  }
  async powerOffDroplet(id: number): Promise<Action> {
    this.calls.push(`power_off ${id}`);
    return this.action('power_off');
  }
  async powerOnDroplet(id: number): Promise<Action> {
    this.calls.push(`power_on ${id}`);
    return this.action('power_on');
  }
  async waitForAction(id: number): Promise<Action> {
    return { id, status: 'completed', type: 'x' };
  }
  async listSnapshots(): Promise<Snapshot[]> {
    return this.snapshots.map((s) => ({ ...s, tags: [...(s.tags ?? [])] }));
  }
  async deleteSnapshot(id: string | number): Promise<void> {
    this.calls.push(`delete ${id}`);
    this.snapshots = this.snapshots.filter((s) => s.id !== String(id));
  }
  async createTag(name: string): Promise<void> {
    this.calls.push(`tag ${name}`);
  }
  async tagResources(tag: string, resources: readonly { resource_id: string; resource_type: string }[]): Promise<void> {
    for (const r of resources) {
      this.calls.push(`tag-resource ${tag} ${r.resource_type}:${r.resource_id}`);
      this.snapshots.find((s) => s.id === r.resource_id)?.tags?.push(tag);
    }
  }
}

const opts = (api: FakeApi, extra: Partial<SnapshotOptions> = {}): SnapshotOptions => ({
  app: 'shop',
  template: '{app}-{droplet}-{timestamp}',
  tag: 'droplet-deploy:shop',
  powerOff: false,
  timeoutMs: 60_000,
  retention: {},
  now: () => new Date(api.clock),
  logger: quiet,
  ...extra,
});

describe('snapshot names', () => {
  it('renders the template and its retention prefix', () => {
    const ctx = { app: 'shop', droplet: 'web-1', dropletId: 7, at: new Date('2026-11-22T03:04:05.678Z') };
    expect(snapshotName('{app}-{droplet}-{timestamp}', ctx)).toBe('shop-web-1-20261122T030405Z');
    expect(snapshotPrefix('{app}-{droplet}-{timestamp}', ctx)).toBe('shop-web-1-');
    expect(snapshotName('nightly.{droplet-id}.{timestamp}', ctx)).toBe('nightly.7.20261122T030405Z');
  });
  it.each([
    ['{app}-{droplet}', /must contain \{timestamp\}/],
    ['{timestamp}-{app}', /fixed text/],
    ['{app}-{host}-{timestamp}', /unknown placeholder \{host\}/],
    ['{app} {timestamp}', /only letters/],
  ])('rejects %s', (t, msg) => {
    expect(() => validateTemplate(t)).toThrow(msg);
  });
});

describe('snapshotDroplet', () => {
  it('snapshots, finds and tags the new snapshot', async () => {
    const api = new FakeApi();
    const out = await snapshotDroplet(api, droplet(7, 'web-1'), opts(api));
    expect(out).toMatchObject({ name: 'shop-web-1-20261122T030000Z', snapshotId: '101', poweredOff: false });
    expect(api.calls).toEqual([
      'snapshot 7 shop-web-1-20261122T030000Z',
      'tag droplet-deploy:shop',
      'tag-resource droplet-deploy:shop image:101',
    ]);
  });

  it('with power-off: shutdown, snapshot, power on', async () => {
    const api = new FakeApi();
    await snapshotDroplet(api, droplet(7, 'web-1'), opts(api, { powerOff: true }));
    expect(api.calls.slice(0, 3)).toEqual(['shutdown 7', 'snapshot 7 shop-web-1-20261122T030000Z', 'power_on 7']);
  });

  it('powers the droplet back on even when the snapshot fails, and reports the failure', async () => {
    const api = new FakeApi();
    api.failSnapshot = true;
    await expect(snapshotDroplet(api, droplet(7, 'web-1'), opts(api, { powerOff: true }))).rejects.toThrow(
      /pending event/,
    );
    expect(api.calls).toEqual(['shutdown 7', 'snapshot 7 shop-web-1-20261122T030000Z', 'power_on 7']);
  });

  it('falls back to a hard power_off when the shutdown does not finish', async () => {
    const api = new FakeApi();
    let waits = 0;
    api.waitForAction = async (id) => {
      waits += 1;
      if (waits === 1) throw new Error('timed out');
      return { id, status: 'completed', type: 'x' };
    };
    await snapshotDroplet(api, droplet(7, 'web-1'), opts(api, { powerOff: true }));
    expect(api.calls.slice(0, 4)).toEqual([
      'shutdown 7',
      'power_off 7',
      'snapshot 7 shop-web-1-20261122T030000Z',
      'power_on 7',
    ]);
  });
});

describe('applySnapshotRetention', () => {
  it('5 of ours, keep 3: exactly the 2 oldest of ours go; foreign ones stay', async () => {
    const api = new FakeApi();
    const tag = 'droplet-deploy:shop';
    const ours = [1, 2, 3, 4, 5].map((d) =>
      api.add(`shop-web-1-2026111${d}T030000Z`, 7, `2026-11-1${d}T03:00:00Z`, [tag]),
    );
    const untaggedSameName = api.add('shop-web-1-20261101T030000Z', 7, '2026-11-01T03:00:00Z', []);
    const taggedOtherName = api.add('manual-before-upgrade', 7, '2026-11-01T03:00:00Z', [tag]);
    const otherDroplet = api.add('shop-web-2-20261101T030000Z', 8, '2026-11-01T03:00:00Z', [tag]);
    const deleted = await applySnapshotRetention(
      api,
      droplet(7, 'web-1'),
      opts(api, { retention: { keepLast: 3 } }),
      new Set(),
    );
    expect(deleted).toEqual([ours[1]?.id, ours[0]?.id]);
    const left = api.snapshots.map((s) => s.id);
    for (const s of [untaggedSameName, taggedOtherName, otherDroplet, ours[2], ours[3], ours[4]])
      expect(left).toContain(s?.id);
  });

  it('max-age never removes the last one of ours', async () => {
    const api = new FakeApi();
    api.add('shop-web-1-20200101T000000Z', 7, '2020-01-01T00:00:00Z', ['droplet-deploy:shop']);
    expect(
      await applySnapshotRetention(
        api,
        droplet(7, 'web-1'),
        opts(api, { retention: { maxAgeMs: 86_400_000 } }),
        new Set(),
      ),
    ).toEqual([]);
  });
});
