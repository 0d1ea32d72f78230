import { describe, expect, it } from 'vitest';

import { parseEndpoint } from './target.js';

describe('parseEndpoint', () => {
  it.each([
    ['203.0.113.7', { host: '203.0.113.7', port: 22, user: 'root' }],
    ['203.0.113.7:2222', { host: '203.0.113.7', port: 2222, user: 'root' }],
    ['deploy@bastion.example.com:2200', { host: 'bastion.example.com', port: 2200, user: 'deploy' }],
    ['[2001:db8::1]:22', { host: '2001:db8::1', port: 22, user: 'root' }],
    ['2001:db8::1', { host: '2001:db8::1', port: 22, user: 'root' }],
  ])('%s', (spec, expected) => {
    expect(parseEndpoint('jump-host', spec, 'root')).toEqual(expected);
  });

  it.each([
    ['203.0.113.7:0', /port must be 1-65535/],
    ['203.0.113.7:ssh', /port must be 1-65535/],
    ['bad host!', /not a host name or IP address/],
    ['999.1.1.1', /not a host name or IP address/],
    ['us er@host', /is not a user name/],
  ])('refuses %s', (spec, message) => {
    expect(() => parseEndpoint('jump-host', spec, 'root')).toThrow(message);
  });
});
