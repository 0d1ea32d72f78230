import { execFileSync } from 'node:child_process';

import { describe, expect, it } from 'vitest';

import { and, cmd, hasSensitive, or, pipe, quiet, redirect, render, sensitive, seq, sh, withEnv } from './cmd.js';

describe('render', () => {
  it.each([
    ['plain argv', cmd('docker', 'compose', 'version'), 'docker compose version'],
    ['spaces quoted', cmd('echo', 'a b'), "echo 'a b'"],
    ['empty arg kept', cmd('printf', ''), "printf ''"],
    ['expansion neutralised', cmd('echo', '$(id)'), 'echo \\$\\(id\\)'],
    ['and', and(cmd('mkdir', '-p', '/opt/app'), cmd('cd', '/opt/app')), 'mkdir -p /opt/app && cd /opt/app'],
    ['or', or(cmd('test', '-d', 'x'), cmd('mkdir', 'x')), 'test -d x || mkdir x'],
    ['pipe', pipe(cmd('docker', 'save', 'img'), cmd('gzip', '-1')), 'docker save img | gzip -1'],
    ['mixed precedence grouped', and(cmd('a'), or(cmd('b'), cmd('c'))), 'a && { b || c; }'],
    ['seq', seq(cmd('a'), cmd('b')), 'a ; b'],
    ['redirect', redirect(cmd('cat'), '>', '/tmp/a b'), "cat > '/tmp/a b'"],
    ['quiet', quiet(cmd('docker', 'info')), 'docker info > /dev/null 2>&1'],
    ['redirect chain groups', redirect(and(cmd('a'), cmd('b')), '>', 'out'), '{ a && b; } > out'],
    ['env prefix', withEnv({ PGPASSWORD: 'p w' }, cmd('psql')), "PGPASSWORD='p w' psql"],
    ['sh -c nests quoting', sh(and(cmd('echo', "it's"), cmd('true'))), 'sh -c "echo \\"it\'s\\" && true"'],
  ])('%s', (_label, script, expected) => {
    expect(render(script)).toBe(expected);
  });

  it('redacts sensitive values in log mode only, also when nested', () => {
    const script = sh(withEnv({ TOKEN: sensitive('s3cret') }, cmd('login', '--password', sensitive('hunter2'))));
    expect(render(script, 'log')).toBe("sh -c 'TOKEN=[REDACTED] login --password [REDACTED]'");
    expect(render(script, 'exec')).toContain('hunter2');
    expect(hasSensitive(script)).toBe(true);
    expect(hasSensitive(cmd('ls'))).toBe(false);
    expect(JSON.stringify({ v: sensitive('x') })).toBe('{"v":"[REDACTED]"}');
  });

  it('rejects an invalid environment name', () => {
    expect(() => withEnv({ 'A;rm': 'x' }, cmd('true'))).toThrow('invalid environment variable name');
  });
});

// Every argument survives a real shell byte for byte.
function randomArg(random: () => number): string {
  const specials = [
    '"',
    "'",
    '$',
    '`',
    '\\',
    '\n',
    '\t',
    ' ',
    ';',
    '&',
    '|',
    '(',
    ')',
    '<',
    '>',
    '*',
    '?',
    '[',
    ']',
    '{',
    '}',
    '~',
    '#',
    '!',
    '=',
    '%',
    '$(id)',
    '`id`',
    '&&',
    '\r',
    '\x7f',
    '\x01',
    'é',
    '€',
  ];
  const length = Math.floor(random() * 24);
  let s = '';
  for (let i = 0; i < length; i += 1) {
    const r = random();
    if (r < 0.45) s += specials[Math.floor(random() * specials.length)];
    else if (r < 0.6) s += String.fromCharCode(1 + Math.floor(random() * 255));
    else s += String.fromCharCode(32 + Math.floor(random() * 95));
  }
  return s;
}

function seeded(seed: number): () => number {
  let x = seed >>> 0;
  return () => {
    x = (Math.imul(x ^ (x >>> 15), 0x2c1b3c6d) + 0x9e3779b9) >>> 0;
    x ^= x >>> 13;
    return (x >>> 0) / 0x100000000;
  };
}

describe('quoting fuzz through a real sh', () => {
  it('10,000 random arguments come back byte for byte via printf %s\\0', () => {
    const random = seeded(20261122);
    const args = Array.from({ length: 10_000 }, () => randomArg(random));
    // Batches keep each sh -c under the kernel's argument size limit.
    for (let i = 0; i < args.length; i += 1000) {
      const batch = args.slice(i, i + 1000);
      const script = cmd('printf', '%s\\0', batch);
      const out = execFileSync('sh', ['-c', render(script)], { encoding: 'latin1', maxBuffer: 64 * 1024 * 1024 });
      const back = out.split('\0').slice(0, -1);
      const expected = batch.map((a) => Buffer.from(a, 'utf8').toString('latin1'));
      expect(back).toEqual(expected);
    }
  });

  it('nested sh -c keeps arguments intact too', () => {
    const random = seeded(7);
    const args = Array.from({ length: 500 }, () => randomArg(random));
    const script = sh(cmd('printf', '%s\\0', args));
    const out = execFileSync('sh', ['-c', render(script)], { encoding: 'latin1' });
    expect(out.split('\0').slice(0, -1)).toEqual(args.map((a) => Buffer.from(a, 'utf8').toString('latin1')));
  });
});
