import { describe, expect, it } from 'vitest';

import { maskSecret, redact, secretForms } from './secrets.js';

describe('secret masking', () => {
  it('masks the value, its lines, base64 and URL-encoded forms', () => {
    const forms = secretForms('p@ss word\nline2');
    expect(forms).toContain('p@ss word\nline2');
    expect(forms).toContain('p@ss word');
    expect(forms).toContain('line2');
    expect(forms).toContain(Buffer.from('p@ss word\nline2').toString('base64'));
    expect(forms).toContain('p%40ss%20word%0Aline2');
  });

  it('masks credentials embedded in a URL, and the user:pass pair with its base64', () => {
    const seen: string[] = [];
    maskSecret((v) => seen.push(v), 'postgresql://app:s3cr%40t@db:5432/app', 'url');
    expect(seen).toContain('s3cr@t');
    expect(seen).toContain('app:s3cr@t');
    expect(seen).toContain(Buffer.from('app:s3cr@t').toString('base64'));
  });

  it('ignores empty secrets and very short fragments', () => {
    const seen: string[] = [];
    maskSecret((v) => seen.push(v), '');
    expect(seen).toEqual([]);
    expect(secretForms('ab\nxy')).toEqual(['ab\nxy', Buffer.from('ab\nxy').toString('base64'), 'ab%0Axy']);
  });

  it('redact replaces every form, longest first', () => {
    const token = 'dop_v1_abcdef';
    const text = `token=${token} b64=${Buffer.from(token).toString('base64')}`;
    expect(redact(text, [token])).toBe('token=*** b64=***');
  });
});
