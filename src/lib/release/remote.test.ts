import { describe, expect, it } from 'vitest';

import { render } from '../commands/cmd.js';
import { appPaths } from './model.js';
import { beginScript, finishScript, parseBegin } from './remote.js';

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
        'mkdir -p /opt/shop && mkdir /opt/shop/.lock && mkdir -p /opt/shop/releases && rm -rf /opt/shop/.deploy-tmp && ' +
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
    expect(render(finishScript(paths, 'b2', ['z9'], { kind: 'cmd', argv: ['unlock'] }))).toBe(
      '{ ln -sfn releases/b2 /opt/shop/current.next && mv -Tf /opt/shop/current.next /opt/shop/current && ' +
        '{ tee -a /opt/shop/deploys.log > /dev/null; } && echo \\@\\@dd\\:switched; } ; ' +
        '{ rm -rf /opt/shop/releases/z9 2> /dev/null; } ; { unlock && echo \\@\\@dd\\:unlocked; }',
    );
  });
});
