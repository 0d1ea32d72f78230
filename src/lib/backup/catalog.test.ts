import { describe, expect, it } from 'vitest';

import { recordingLogger } from '../../../test/unit/backup/logger.js';
import { MemoryStore } from '../../../test/unit/backup/memory-store.js';
import { applyRetention } from './catalog.js';
import { backupKeys } from './manifest.js';

describe('backups made in the same second', () => {
  it('keep-last 1 keeps the later one (the key after the stamp starts with the milliseconds)', async () => {
    // 20 pairs: with a purely random suffix about half of them would keep the earlier backup
    for (let i = 0; i < 20; i += 1) {
      const store = new MemoryStore();
      const earlier = backupKeys('bk/app', 'db', 'volume', 'none', false, new Date(`2026-12-07T17:06:15.${100 + i}Z`));
      const later = backupKeys('bk/app', 'db', 'volume', 'none', false, new Date(`2026-12-07T17:06:15.${900 - i}Z`));
      expect(later.manifest).toMatch(/^bk\/app\/db\/20261207T170615Z-[0-9a-f]{6}\.manifest\.json$/);
      for (const k of [later, earlier]) {
        store.put(k.data, 'data');
        store.put(k.manifest, '{}');
      }
      const out = await applyRetention(
        store,
        'bk/app',
        'db',
        { keepLast: 1 },
        new Date('2026-12-07T18:00:00Z'),
        new Set(),
        recordingLogger(),
      );
      expect(out.kept).toEqual([later.manifest]);
      expect(out.deleted).toEqual([earlier.manifest]);
    }
  });
});
