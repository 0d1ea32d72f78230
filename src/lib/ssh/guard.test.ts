import { describe, expect, it } from 'vitest';

import { guardSshInputs } from './inputs.js';

describe('guardSshInputs', () => {
  function io() {
    const secrets: string[] = [];
    const warnings: string[] = [];
    return {
      secrets,
      warnings,
      setSecret: (v: string) => void secrets.push(v),
      logger: { warn: (m: string) => void warnings.push(m) },
    };
  }

  it('masks the key (each line too) and the passphrase; no warning while host keys are verified', () => {
    const key = '-----BEGIN OPENSSH PRIVATE KEY-----\nb3BlbnNzaC1rZXktdjEAAAAA\n-----END OPENSSH PRIVATE KEY-----\n';
    const sink = io();
    guardSshInputs({ privateKey: key, passphrase: 'correct horse', insecure: false }, sink);
    expect(sink.secrets).toEqual(expect.arrayContaining([key, 'b3BlbnNzaC1rZXktdjEAAAAA', 'correct horse']));
    expect(sink.warnings).toEqual([]);
  });

  it('warns once when host keys are not verified', () => {
    const sink = io();
    guardSshInputs({ privateKey: 'k', insecure: true }, sink);
    expect(sink.warnings).toEqual([
      'host keys are NOT verified (insecure-skip-host-key-check: true): anyone on the path can impersonate the droplet',
    ]);
  });
});
