import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { buffer } from 'node:stream/consumers';

import { describe, expect, it } from 'vitest';

import { tarArchive } from '../release/tar.js';
import { filteredTar, layersToDrop, listTar, presentPrefix } from './transfer.js';

describe('transfer: only the missing layers', () => {
  it('presentPrefix is the longest chain prefix some droplet image has', () => {
    const layers = ['sha256:a', 'sha256:b', 'sha256:c'];
    expect(presentPrefix(layers, [])).toBe(0);
    expect(presentPrefix(layers, [['sha256:a', 'sha256:x']])).toBe(1);
    expect(presentPrefix(layers, [['sha256:a'], ['sha256:a', 'sha256:b', 'sha256:z']])).toBe(2);
    // the same layer on another base is a different chain: not reusable
    expect(presentPrefix(layers, [['sha256:z', 'sha256:b']])).toBe(0);
  });

  it('drops the present layer files, keeps manifest, config and the missing layers; tar still reads it', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'transfer-test-'));
    try {
      const manifest = [
        { Config: 'cfg.json', RepoTags: ['web:v2'], Layers: ['l1/layer.tar', 'l2/layer.tar', 'l3/layer.tar'] },
      ];
      const file = join(dir, 'save.tar');
      writeFileSync(
        file,
        tarArchive([
          { path: 'l1/layer.tar', content: Buffer.alloc(3000, 1), mode: 0o644 },
          { path: 'l1/json', content: '{}', mode: 0o644 },
          { path: 'l2/layer.tar', content: Buffer.alloc(2000, 2), mode: 0o644 },
          { path: 'l3/layer.tar', content: Buffer.alloc(1000, 3), mode: 0o644 },
          { path: 'cfg.json', content: '{"rootfs":{}}', mode: 0o644 },
          { path: 'manifest.json', content: JSON.stringify(manifest), mode: 0o644 },
        ]),
      );
      const entries = listTar(file);
      expect(entries.map((e) => [e.name, e.size])).toEqual([
        ['l1/layer.tar', 3000],
        ['l1/json', 2],
        ['l2/layer.tar', 2000],
        ['l3/layer.tar', 1000],
        ['cfg.json', 13],
        ['manifest.json', JSON.stringify(manifest).length],
      ]);
      const { drop, keptLayerBytes } = layersToDrop(entries, manifest[0] as never, 2);
      expect([...drop].sort()).toEqual(['l1/layer.tar', 'l2/layer.tar']);
      expect(keptLayerBytes).toBe(1000);
      const out = await buffer(filteredTar(file, entries, drop));
      writeFileSync(join(dir, 'out.tar'), out);
      expect(
        execFileSync('tar', ['-t', '-f', join(dir, 'out.tar')], { encoding: 'utf8' })
          .trim()
          .split('\n'),
      ).toEqual(['l1/json', 'l3/layer.tar', 'cfg.json', 'manifest.json']);
      // 4 headers + data padded to 512 (json, 1000-byte layer, config, manifest) + the end blocks
      expect(out.length).toBe(4 * 512 + (512 + 1024 + 512 + 512) + 1024);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
