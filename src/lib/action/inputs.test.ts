import { describe, expect, it } from 'vitest';

import { InputReader, requireOneOf } from './inputs.js';

function reader(values: Record<string, string>): InputReader {
  return new InputReader((name) => values[name] ?? '');
}

describe('InputReader', () => {
  it('reads typed values and falls back only when the input is absent', () => {
    const r = reader({ count: '3', enabled: 'false', timeout: '2m', hosts: 'a,b', env: 'A=1' });
    expect(r.int('count', 1)).toBe(3);
    expect(r.int('missing', 7)).toBe(7);
    expect(r.bool('enabled', true)).toBe(false);
    expect(r.duration('timeout', '10m')).toBe(120_000);
    expect(r.duration('other', '10m')).toBe(600_000);
    expect(r.list('hosts')).toEqual(['a', 'b']);
    expect(r.map('env').get('A')).toBe('1');
    expect(r.optional('nope')).toBeUndefined();
  });

  it('names a missing required input', () => {
    expect(() => reader({}).required('ssh-private-key')).toThrow(
      'input "ssh-private-key" is required and was not supplied',
    );
  });

  it('an empty-looking value is not silently replaced by the default', () => {
    expect(() => reader({ count: 'abc' }).int('count', 5)).toThrow(/input "count" has "abc"/);
  });

  it('requireOneOf demands exactly one of alternative inputs', () => {
    expect(requireOneOf(reader({ hosts: 'h' }), ['hosts', 'droplet-tag'])).toBe('hosts');
    expect(() => requireOneOf(reader({}), ['hosts', 'droplet-tag'])).toThrow(
      'one of the inputs "hosts", "droplet-tag" is required',
    );
    expect(() => requireOneOf(reader({ hosts: 'h', 'droplet-tag': 't' }), ['hosts', 'droplet-tag'])).toThrow(
      'inputs "hosts" and "droplet-tag" cannot be used together',
    );
  });
});
