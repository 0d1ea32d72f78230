import { describe, expect, it } from 'vitest';

import {
  appPaths,
  type DeployLogEntry,
  envFileContent,
  parseDeployLog,
  pinnedOverride,
  planPrune,
  previousRelease,
  type ReleaseManifest,
  validateAppName,
  validateReleaseId,
} from './model.js';

function manifest(id: string, createdAt: string, images: string[]): ReleaseManifest {
  return {
    version: 1,
    id,
    app: 'shop',
    createdAt,
    sha: '',
    repo: '',
    runId: '',
    actor: '',
    composeFiles: ['compose.yaml'],
    envFile: '.env',
    profiles: [],
    images: images.map((img, i) => ({ service: `s${i}`, image: `img${i}`, id: img })),
    delivery: 'registry',
  };
}

function entry(release: string, previous: string | null, result: 'success' | 'failed' = 'success'): DeployLogEntry {
  return {
    time: '',
    app: 'shop',
    action: 'deploy',
    result,
    release,
    previous,
    serving: result === 'success' ? release : previous,
    sha: '',
    repo: '',
    runId: '',
    actor: '',
    durationSeconds: 1,
    images: {},
  };
}

describe('release model', () => {
  it('paths', () => {
    const p = appPaths('shop');
    expect([p.root, p.releases, p.current, p.deploysLog, p.lock, p.release('abc')]).toEqual([
      '/opt/shop',
      '/opt/shop/releases',
      '/opt/shop/current',
      '/opt/shop/deploys.log',
      '/opt/shop/.lock',
      '/opt/shop/releases/abc',
    ]);
  });

  it.each(['Shop', 'a b', '../x', '', '-x'])('refuses app name %j', (name) => {
    expect(() => validateAppName('app', name)).toThrow(/input "app" has/);
  });

  it.each(['previous', '../x', 'a/b', ''])('refuses release id %j', (id) => {
    expect(() => validateReleaseId('release-id', id)).toThrow(/input "release-id" has/);
  });

  it('pins every service to its image id', () => {
    const text = pinnedOverride(manifest('r1', 't', ['sha256:aaa', 'sha256:bbb']).images);
    expect(text).toContain('services:\n  s0:\n    image: sha256:aaa\n  s1:\n    image: sha256:bbb\n');
  });

  it('previous = what was serving before the current release was switched in', () => {
    const kept = [manifest('r1', '1', []), manifest('r2', '2', []), manifest('r3', '3', [])];
    const log = [entry('r1', null), entry('r2', 'r1'), entry('r3', 'r2'), entry('r4', 'r3', 'failed')];
    expect(previousRelease('r3', log, kept)).toBe('r2');
    // after a rollback r3 → r2 the log says r2 came after r3: previous toggles back
    expect(previousRelease('r2', [...log, { ...entry('r2', 'r3'), action: 'rollback' }], kept)).toBe('r3');
    // no log: the newest other kept release
    expect(previousRelease('r1', [], kept)).toBe('r3');
    expect(previousRelease(undefined, [], [])).toBeUndefined();
  });

  it('prune keeps the newest N plus current and previous, and only images no kept release pins', () => {
    const ms = [
      manifest('r1', '2026-01-01', ['sha256:a', 'sha256:shared']),
      manifest('r2', '2026-01-02', ['sha256:b', 'sha256:shared']),
      manifest('r3', '2026-01-03', ['sha256:c', 'sha256:shared']),
      manifest('r4', '2026-01-04', ['sha256:d', 'sha256:shared']),
    ];
    const plan = planPrune(ms, ['r1', 'r2', 'r3', 'r4', 'junk'], 2, ['r4', 'r1']);
    expect(plan.keep.sort()).toEqual(['r1', 'r4']);
    expect(plan.remove.sort()).toEqual(['junk', 'r2', 'r3']);
    expect(plan.images.sort()).toEqual(['sha256:b', 'sha256:c']);
  });

  it('.env lines read back literally in Compose v1 and v2', () => {
    expect(
      envFileContent(
        new Map([
          ['A', 'plain $HOME "x"'],
          ['B', "it's"],
          ['C', 'two\nlines'],
        ]),
      ),
    ).toBe(`A='plain $HOME "x"'\nB="it's"\nC="two\\nlines"\n`);
  });

  it('a torn deploys.log line is skipped', () => {
    const text = `${JSON.stringify(entry('r1', null))}\n{"time":"tor`;
    expect(parseDeployLog(text).map((e) => e.release)).toEqual(['r1']);
  });
});
