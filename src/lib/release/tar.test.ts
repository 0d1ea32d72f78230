import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

import { describe, expect, it } from 'vitest';

import { parseState } from './remote.js';
import { tarArchive } from './tar.js';

describe('tarArchive', () => {
  it('GNU tar extracts it with the modes kept (the .env stays 0600), long paths included', () => {
    const dir = mkdtempSync(join(tmpdir(), 'tar-test-'));
    try {
      const long = `${'a'.repeat(80)}/${'b'.repeat(60)}/file.txt`;
      const archive = tarArchive([
        { path: 'deploy/compose.yaml', content: 'services: {}\n', mode: 0o644 },
        { path: 'deploy/.env', content: "SECRET='x'\n", mode: 0o600 },
        { path: 'bin/run.sh', content: Buffer.from('#!/bin/sh\n'), mode: 0o755 },
        { path: long, content: '', mode: 0o644 },
      ]);
      writeFileSync(join(dir, 'a.tar'), archive);
      execFileSync('tar', ['-x', '-f', join(dir, 'a.tar'), '-C', dir]);
      expect(readFileSync(join(dir, 'deploy/compose.yaml'), 'utf8')).toBe('services: {}\n');
      expect(statSync(join(dir, 'deploy/.env')).mode & 0o777).toBe(0o600);
      expect(statSync(join(dir, 'bin/run.sh')).mode & 0o777).toBe(0o755);
      expect(statSync(join(dir, long)).size).toBe(0);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it.each(['/etc/passwd', '../x', ''])('refuses %j', (path) => {
    expect(() => tarArchive([{ path, content: '', mode: 0o644 }])).toThrow();
  });
});

describe('parseState', () => {
  it('splits the one-round-trip state read into its sections', () => {
    const m = { version: 1, id: 'r1', images: [], composeFiles: ['c.yaml'] };
    const text = [
      '@@dd:compose',
      '2.26.1',
      'plugin',
      '@@dd:current',
      'releases/r1',
      '@@dd:manifests',
      JSON.stringify(m),
      '@@dd:log',
      '@@dd:dirs',
      'r1',
      'r0',
      '',
    ].join('\n');
    const s = parseState(text);
    expect(s.compose).toBe('2.26.1\nplugin');
    expect(s.current).toBe('r1');
    expect(s.manifests.map((x) => x.id)).toEqual(['r1']);
    expect(s.log).toEqual([]);
    expect(s.dirs).toEqual(['r1', 'r0']);
  });

  it('a fresh droplet: nothing anywhere', () => {
    expect(parseState('@@dd:compose\n1.29.2\n@@dd:current\n@@dd:manifests\n@@dd:log\n@@dd:dirs\n')).toEqual({
      compose: '1.29.2',
      current: undefined,
      manifests: [],
      log: [],
      dirs: [],
    });
  });
});
