import { describe, expect, it } from 'vitest';

import { applyRetention, readCatalog, resolveBackup } from '../../../src/lib/backup/catalog.js';
import { selectForDeletion } from '../../../src/lib/backup/retention.js';
import { recordingLogger } from './logger.js';
import { MemoryStore } from './memory-store.js';

const DAY = 86_400_000;
const now = new Date('2026-11-22T03:00:00Z');
const item = (id: string, daysAgo: number) => ({ id, createdAt: new Date(now.getTime() - daysAgo * DAY) });

describe('selectForDeletion', () => {
  const five = [item('e', 0), item('d', 1), item('c', 2), item('b', 3), item('a', 4)];
  it.each([
    ['keep-last 3', { keepLast: 3 }, ['b', 'a']],
    ['keep-last 10', { keepLast: 10 }, []],
    ['max-age 2.5d', { maxAgeMs: 2.5 * DAY }, ['b', 'a']],
    ['keep-last 4 + max-age 1.5d', { keepLast: 4, maxAgeMs: 1.5 * DAY }, ['c', 'b', 'a']],
    ['no policy', {}, []],
    ['max-age 1h: never the newest', { maxAgeMs: 3_600_000 }, ['d', 'c', 'b', 'a']],
  ])('%s', (_name, policy, expected) => {
    expect(selectForDeletion(five, policy, now).delete.map((i) => i.id)).toEqual(expected);
  });

  it('never deletes the only remaining backup, however old', () => {
    const one = [item('only', 400)];
    expect(selectForDeletion(one, { maxAgeMs: DAY, keepLast: 1 }, now).delete).toEqual([]);
  });

  it('never deletes a protected item', () => {
    expect(selectForDeletion(five, { keepLast: 1 }, now, new Set(['c'])).delete.map((i) => i.id)).toEqual([
      'd',
      'b',
      'a',
    ]);
  });

  it('input order does not matter', () => {
    const shuffled = [five[2], five[4], five[0], five[3], five[1]] as typeof five;
    expect(selectForDeletion(shuffled, { keepLast: 2 }, now).delete.map((i) => i.id)).toEqual(['c', 'b', 'a']);
  });

  it('refuses keep-last 0', () => {
    expect(() => selectForDeletion(five, { keepLast: 0 }, now)).toThrow(/keep-last/);
  });
});

function seed(store: MemoryStore, stamps: string[], folder = 'bk/app/db/'): void {
  for (const s of stamps) {
    store.put(`${folder}${s}-aaaaaa.pgdump`, 'data');
    store.put(
      `${folder}${s}-aaaaaa.manifest.json`,
      JSON.stringify({
        version: 1,
        key: `${folder}${s}-aaaaaa.pgdump`,
        kind: 'postgres',
        sha256: 'x',
        size: 4,
        createdAt: s,
      }),
    );
  }
}

describe('applyRetention on a store', () => {
  it('deletes manifests then data of the oldest, keeps the rest, and leaves other folders alone', async () => {
    const store = new MemoryStore();
    seed(store, ['20261118T030000Z', '20261119T030000Z', '20261120T030000Z', '20261121T030000Z', '20261122T030000Z']);
    seed(store, ['20261101T030000Z'], 'bk/app/db2/');
    store.put('bk/app/db-other/20261101T030000Z-aaaaaa.pgdump', 'x');
    const out = await applyRetention(store, 'bk/app', 'db', { keepLast: 3 }, now, new Set(), recordingLogger());
    expect(out.deleted).toEqual([
      'bk/app/db/20261119T030000Z-aaaaaa.manifest.json',
      'bk/app/db/20261118T030000Z-aaaaaa.manifest.json',
    ]);
    expect(store.deletes).toEqual([
      'bk/app/db/20261119T030000Z-aaaaaa.manifest.json',
      'bk/app/db/20261119T030000Z-aaaaaa.pgdump',
      'bk/app/db/20261118T030000Z-aaaaaa.manifest.json',
      'bk/app/db/20261118T030000Z-aaaaaa.pgdump',
    ]);
    expect((await readCatalog(store, 'bk/app', 'db')).backups).toHaveLength(3);
    expect(store.objects.has('bk/app/db2/20261101T030000Z-aaaaaa.pgdump')).toBe(true);
    expect(store.objects.has('bk/app/db-other/20261101T030000Z-aaaaaa.pgdump')).toBe(true);
  });

  it('keeps the only complete backup even when max-age says it is too old', async () => {
    const store = new MemoryStore();
    seed(store, ['20250101T000000Z']);
    const out = await applyRetention(
      store,
      'bk/app',
      'db',
      { maxAgeMs: DAY, keepLast: 1 },
      now,
      new Set(),
      recordingLogger(),
    );
    expect(out.deleted).toEqual([]);
    expect(store.deletes).toEqual([]);
  });

  it('a data object without a manifest is not a backup: it does not count toward keep-last and is removed after a day', async () => {
    const store = new MemoryStore();
    seed(store, ['20261121T030000Z']);
    store.put('bk/app/db/20261122T020000Z-bbbbbb.pgdump', 'partial', new Date(now.getTime() - 3_600_000));
    store.put('bk/app/db/20261120T020000Z-cccccc.pgdump', 'partial', new Date(now.getTime() - 2 * DAY));
    const out = await applyRetention(store, 'bk/app', 'db', { keepLast: 1 }, now, new Set(), recordingLogger());
    expect(out.deleted).toEqual([]);
    expect(out.orphansDeleted).toEqual(['bk/app/db/20261120T020000Z-cccccc.pgdump']);
    const latest = await resolveBackup(store, 'bk/app', 'db', 'latest');
    expect(latest.key).toBe('bk/app/db/20261121T030000Z-aaaaaa.pgdump');
    await expect(resolveBackup(store, 'bk/app', 'db', 'bk/app/db/20261122T020000Z-bbbbbb.pgdump')).rejects.toThrow(
      /has no manifest/,
    );
  });

  it('latest with no backups says so', async () => {
    await expect(resolveBackup(new MemoryStore(), 'bk/app', 'db', 'latest')).rejects.toThrow(/no backup of dump "db"/);
  });
});
