import { describe, expect, it } from 'vitest';

import { ConfigurationError } from './errors.js';
import {
  formatDuration,
  parseBool,
  parseDuration,
  parseEnum,
  parseFingerprint,
  parseInteger,
  parseJson,
  parseLines,
  parseList,
  parseMap,
  parsePort,
  parseSshPublicKey,
  parseUrl,
} from './parsers.js';

const ED25519 = 'ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIGNB5K9iKOUQxgMKZ8p4W6C8Ll1mKk3Np0o0yZ9nqvqk deploy@ci';

describe('parsers accept good values', () => {
  it.each([
    ['true', true],
    ['false', false],
    [' TRUE ', true],
    ['False', false],
  ])('parseBool(%j) = %j', (value, expected) => {
    expect(parseBool('x', value)).toBe(expected);
  });

  it.each([
    ['90s', 90_000],
    ['5m', 300_000],
    ['1h30m', 5_400_000],
    ['250ms', 250],
    ['90', 90_000],
    ['1.5', 1_500],
    ['2d', 172_800_000],
    ['1m30s', 90_000],
  ])('parseDuration(%j) = %d ms', (value, expected) => {
    expect(parseDuration('timeout', value)).toBe(expected);
  });

  it.each([
    ['5', {}, 5],
    ['-3', {}, -3],
    ['100', { min: 1, max: 100 }, 100],
  ])('parseInteger(%j, %j) = %d', (value, bounds, expected) => {
    expect(parseInteger('count', value, bounds)).toBe(expected);
  });

  it('parseList splits on commas and newlines and drops blanks', () => {
    expect(parseList('a, b\nc,,\n\n d ')).toEqual(['a', 'b', 'c', 'd']);
    expect(parseList('')).toEqual([]);
  });

  it('parseLines keeps commas and drops comments', () => {
    expect(parseLines('host1,host2 ssh-ed25519 AAAA\n# note\n\nx')).toEqual(['host1,host2 ssh-ed25519 AAAA', 'x']);
  });

  it('parseMap keeps keys as written and values verbatim', () => {
    const map = parseMap('env', 'Api_Url=https://x/?a=b=c\n# comment\n\nEMPTY=\nSPACED = v w ');
    expect([...map]).toEqual([
      ['Api_Url', 'https://x/?a=b=c'],
      ['EMPTY', ''],
      ['SPACED', ' v w'],
    ]);
  });

  it('parseEnum, parseUrl, parsePort, parseJson', () => {
    expect(parseEnum('mode', 'swarm', ['compose', 'swarm'] as const)).toBe('swarm');
    expect(parseUrl('api-endpoint', 'http://127.0.0.1:8080/v2').port).toBe('8080');
    expect(parsePort('port', '65535')).toBe(65535);
    expect(parseJson('checks', '[{"kind":"tcp"}]')).toEqual([{ kind: 'tcp' }]);
  });

  it('parseSshPublicKey checks the embedded key type', () => {
    const key = parseSshPublicKey('ssh-public-key', ED25519);
    expect(key.type).toBe('ssh-ed25519');
    expect(key.comment).toBe('deploy@ci');
    expect(key.line).toBe(ED25519.split(' ').slice(0, 2).join(' '));
  });

  it('parseFingerprint accepts OpenSSH SHA256 fingerprints', () => {
    const fp = 'SHA256:uNiVztksCsDhcc0u9e8BujQXVUpKZIDTMczCvj3tD2s';
    expect(parseFingerprint('host-fingerprints', ` ${fp} `)).toBe(fp);
  });

  it('formatDuration is readable', () => {
    expect([formatDuration(500), formatDuration(1500), formatDuration(90_000), formatDuration(120_000)]).toEqual([
      '500ms',
      '1.5s',
      '1m30s',
      '2m',
    ]);
  });
});

type Case = [label: string, run: () => unknown, message: RegExp];

describe('parsers reject bad values naming the input and the value', () => {
  const cases: Case[] = [
    ['bool yes', () => parseBool('dry-run', 'yes'), /input "dry-run" has "yes": expected true or false/],
    ['bool 1', () => parseBool('dry-run', '1'), /input "dry-run" has "1"/],
    ['int text', () => parseInteger('count', 'three'), /input "count" has "three": expected a whole number/],
    ['int float', () => parseInteger('count', '1.5'), /expected a whole number/],
    ['int below', () => parseInteger('count', '0', { min: 1 }), /input "count" has "0": must be at least 1/],
    ['int above', () => parseInteger('count', '101', { max: 100 }), /must be at most 100/],
    ['int huge', () => parseInteger('count', '99999999999999999999'), /too large/],
    [
      'duration words',
      () => parseDuration('timeout', '5 minutes'),
      /input "timeout" has "5 minutes": expected a duration/,
    ],
    ['duration negative', () => parseDuration('timeout', '-5s'), /input "timeout" has "-5s"/],
    ['duration unit', () => parseDuration('timeout', '5y'), /expected a duration/],
    ['duration empty', () => parseDuration('timeout', ''), /input "timeout" has ""/],
    ['duration bound', () => parseDuration('interval', '10ms', { minMs: 100 }), /must be at least 100ms/],
    ['map no =', () => parseMap('env', 'A=1\nBROKEN'), /input "env" has "BROKEN": line 2 is not KEY=value/],
    ['map bad key', () => parseMap('env', '1A=x'), /line 1 has key "1A"/],
    ['map duplicate', () => parseMap('env', 'A=1\nA=2'), /key "A" appears twice/],
    ['map secret hidden', () => parseMap('secrets', 'hunter2secret', { secret: true }), /\(value hidden\)/],
    ['json', () => parseJson('checks', '[{'), /input "checks" has "\[\{": not valid JSON/],
    [
      'enum',
      () => parseEnum('mode', 'swam', ['compose', 'swarm']),
      /input "mode" has "swam": expected one of compose, swarm/,
    ],
    ['url', () => parseUrl('api-endpoint', 'not a url'), /input "api-endpoint" has "not a url": not a valid URL/],
    ['url scheme', () => parseUrl('api-endpoint', 'ftp://x'), /must use http or https/],
    ['port text', () => parsePort('port', 'http'), /input "port" has "http": expected a port number/],
    ['port zero', () => parsePort('port', '0'), /between 1 and 65535/],
    ['port high', () => parsePort('port', '70000'), /between 1 and 65535/],
    ['key type', () => parseSshPublicKey('ssh-public-key', 'ssh-dss AAAA'), /key type "ssh-dss"/],
    ['key base64', () => parseSshPublicKey('ssh-public-key', 'ssh-ed25519 !!!'), /not base64/],
    [
      'key mismatch',
      () => parseSshPublicKey('ssh-public-key', `ssh-rsa ${ED25519.split(' ')[1] as string}`),
      /does not hold a ssh-rsa key/,
    ],
    [
      'private key pasted',
      () => parseSshPublicKey('ssh-public-key', '-----BEGIN OPENSSH PRIVATE KEY-----\nabc'),
      /\(value hidden\): this is a private key/,
    ],
    [
      'fingerprint md5',
      () => parseFingerprint('host-fingerprints', 'aa:bb:cc'),
      /expected an OpenSSH SHA256 fingerprint/,
    ],
    ['fingerprint short', () => parseFingerprint('host-fingerprints', 'SHA256:abc'), /input "host-fingerprints"/],
  ];

  it.each(cases)('%s', (_label, run, message) => {
    let thrown: unknown;
    try {
      run();
    } catch (error) {
      thrown = error;
    }
    expect(thrown).toBeInstanceOf(ConfigurationError);
    expect((thrown as Error).message).toMatch(message);
  });

  it('never prints a hidden value', () => {
    expect(() => parseMap('secrets', 'TOKEN', { secret: true })).toThrow(/^(?!.*TOKEN)/s);
  });
});
