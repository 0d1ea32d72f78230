import { execFileSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

import { afterEach, describe, expect, it } from 'vitest';

import { render } from '../commands/cmd.js';
import { appPaths } from './model.js';
import { beginScript, finishScript, parseBegin, pruneImagesScript, removedImages } from './remote.js';

const paths = appPaths('shop');

describe('begin script', () => {
  it('takes the lock, unpacks into the run scratch folder, then reads the state and validates in one command', () => {
    const text = render(
      beginScript(paths, {
        lockDir: paths.lock,
        scratch: '/opt/shop/.deploy-tmp/t1',
        config: { project: 'shop', files: ['/opt/shop/.deploy-tmp/t1/release/compose.yaml'], profiles: [] },
      }),
    );
    expect(
      text.startsWith(
        'mkdir -p /opt/shop && mkdir /opt/shop/.lock && echo \\@\\@dd\\:locked && mkdir -p /opt/shop/releases && rm -rf /opt/shop/.deploy-tmp && ' +
          'mkdir -p /opt/shop/.deploy-tmp/t1 && tar -x -f - -C /opt/shop/.deploy-tmp/t1 && ' +
          'mv -f /opt/shop/.deploy-tmp/t1/holder.json /opt/shop/.lock/holder.json && { echo \\@\\@dd\\:current ;',
      ),
    ).toBe(true);
    expect(text).toContain(
      'sh config /opt/shop/.deploy-tmp/t1/probe --project-name shop --file /opt/shop/.deploy-tmp/t1/release/compose.yaml',
    );
  });

  it('without a lock part (the lock was taken by waiting) nothing is taken twice', () => {
    const text = render(beginScript(paths, { scratch: '/opt/shop/.deploy-tmp/t1' }));
    expect(text).not.toContain('.lock');
    expect(text.startsWith('mkdir -p /opt/shop/releases && rm -rf /opt/shop/.deploy-tmp')).toBe(true);
    expect(text).toMatch(/ sh probe; }$/);
  });

  it('parses the state, the Compose version and the resolved config with its exit code', () => {
    const yaml = 'services:\n  web:\n    image: web:1\n';
    const out = [
      '@@dd:current',
      'releases/a1',
      '@@dd:manifests',
      '@@dd:log',
      '@@dd:dirs',
      'a1',
      'b2',
      '@@dd:compose',
      '2.26.1',
      'plugin',
      '@@dd:config',
      yaml,
      '@@dd:config-exit 0',
      '',
    ].join('\n');
    const state = parseBegin(out);
    expect(state.current).toBe('a1');
    expect(state.dirs).toEqual(['a1', 'b2']);
    expect(state.compose).toBe('2.26.1\nplugin');
    expect(state.config).toEqual({ code: 0, yaml: `${yaml}` });
  });

  it('a failed config keeps its exit code; no config section means it did not run', () => {
    expect(parseBegin('@@dd:compose\n1.29.2\n@@dd:config\n\n@@dd:config-exit 15\n').config).toEqual({
      code: 15,
      yaml: '',
    });
    expect(parseBegin('@@dd:compose\n').config).toBeUndefined();
  });
});

describe('finish script', () => {
  it('switches current, logs, prunes and unlocks in one command', () => {
    expect(
      render(finishScript(paths, 'b2', { remove: ['z9'], images: ['sha256:a1'] }, { kind: 'cmd', argv: ['unlock'] })),
    ).toBe(
      '{ ln -sfn releases/b2 /opt/shop/current.next && mv -Tf /opt/shop/current.next /opt/shop/current && ' +
        '{ tee -a /opt/shop/deploys.log > /dev/null; } && echo \\@\\@dd\\:switched; } ; ' +
        '{ rm -rf /opt/shop/releases/z9 2> /dev/null; } ; ' +
        `${render(pruneImagesScript(['sha256:a1']))} ; { unlock && echo \\@\\@dd\\:unlocked; }`,
    );
  });
});

// A stub `docker` on PATH: images are files $STATE/img/<id> holding their tags; an id with
// a file in $STATE/busy/ is in use (rm fails). Every call is logged to $STATE/log.
const STUB_DOCKER = `#!/bin/sh
echo "$*" >> "$STATE/log"
[ "$1" = image ] || exit 2
case "$2" in
inspect)
  for last; do :; done
  [ -f "$STATE/img/$last" ] || { echo "Error: No such image: $last" >&2; exit 1; }
  case "$*" in *RepoTags*) cat "$STATE/img/$last" ;; *) echo "$last" ;; esac ;;
rm)
  shift 2
  for ref; do
    for f in "$STATE"/img/*; do
      [ -f "$f" ] || continue
      id=\${f##*/}
      case " $(cat "$f") $id " in *" $ref "*)
        [ -e "$STATE/busy/$id" ] && { echo "conflict: image is being used by a running container" >&2; exit 1; }
        rm "$f" ;;
      esac
    done
  done ;;
esac
`;

describe('image prune script (run by sh against a stub docker)', () => {
  let dir = '';
  afterEach(() => rmSync(dir, { recursive: true, force: true }));

  it('untags an image by every name, removes an untagged one by id, keeps one in use, skips one already gone', () => {
    dir = mkdtempSync(join(tmpdir(), 'dd-prune-'));
    for (const d of ['bin', 'img', 'busy']) mkdirSync(join(dir, d));
    writeFileSync(join(dir, 'bin', 'docker'), STUB_DOCKER, { mode: 0o755 });
    writeFileSync(join(dir, 'img', 'sha256:aaa'), 'reg.example/web:1 reg.example/web:old \n');
    writeFileSync(join(dir, 'img', 'sha256:bbb'), '\n');
    writeFileSync(join(dir, 'img', 'sha256:ddd'), 'reg.example/worker:2 \n');
    writeFileSync(join(dir, 'busy', 'sha256:ddd'), '');
    const out = execFileSync(
      'sh',
      ['-c', render(pruneImagesScript(['sha256:aaa', 'sha256:bbb', 'sha256:ccc', 'sha256:ddd']))],
      {
        encoding: 'utf8',
        env: { PATH: `${join(dir, 'bin')}:/usr/bin:/bin`, STATE: dir },
      },
    );
    expect(removedImages(out)).toEqual(['sha256:aaa', 'sha256:bbb']);
    const calls = readFileSync(join(dir, 'log'), 'utf8').split('\n');
    expect(calls).toContain('image rm reg.example/web:1 reg.example/web:old');
    expect(calls).toContain('image rm sha256:bbb');
    expect(calls).toContain('image rm reg.example/worker:2');
    expect(calls.filter((c) => c.startsWith('image rm'))).toHaveLength(3);
  });
});
