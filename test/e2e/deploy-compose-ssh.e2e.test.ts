// The SSH layer through the BUNDLED deploy-compose action on lab droplets: host key
// verification (known-hosts, fingerprints, mismatch message, explicit skip), key
// normalisation, a jump host. A `rollback-to: previous` on an app with no releases connects,
// takes the lock, reads the release model and then fails with a known message: proof the
// connection worked without deploying anything.
import { createHash } from 'node:crypto';

import { beforeAll, describe, expect, it } from 'vitest';

import { generateKeyPair, type FixtureDroplet, useLab } from '../lab/fixture.js';
import { buildBundle, deploy, FIXTURE_DIR } from '../support/deploy-compose-lab.js';

const lab = useLab();
let a: FixtureDroplet;
let b: FixtureDroplet;

function fingerprint(publicKey: string): string {
  const blob = Buffer.from(publicKey.trim().split(/\s+/)[1] ?? '', 'base64');
  return `SHA256:${createHash('sha256').update(blob).digest('base64').replace(/=+$/, '')}`;
}

const CONNECTED = /step "find release": there is no previous release to roll back to/;

function probe(d: FixtureDroplet, extra: Record<string, string>): Record<string, string> {
  return {
    hosts: d.publicIpv4,
    'ssh-private-key': lab.identity.privateKey,
    app: 'sshprobe',
    'rollback-to': 'previous',
    'working-directory': FIXTURE_DIR,
    'connect-attempts': '2',
    ...extra,
  };
}

beforeAll(async () => {
  buildBundle();
  [a, b] = await Promise.all([lab.createDroplet({ variant: 'trixie' }), lab.createDroplet({ variant: 'bookworm' })]);
}, 600_000);

describe('ssh layer', () => {
  it('connects with a known-hosts line and with a SHA256 fingerprint (one of several)', async () => {
    const viaLine = await deploy(probe(a, { 'known-hosts': `${a.publicIpv4} ${a.hostKey}` }));
    expect(viaLine.errors.join('\n')).toMatch(CONNECTED);
    const other = fingerprint(generateKeyPair().publicKey);
    const viaFp = await deploy(probe(a, { 'host-fingerprints': `${other}\n${fingerprint(a.hostKey)}` }));
    expect(viaFp.errors.join('\n')).toMatch(CONNECTED);
  });

  it('a host key mismatch fails at once and prints the fingerprint actually seen', async () => {
    const wrong = generateKeyPair().publicKey;
    const r = await deploy(probe(a, { 'known-hosts': `${a.publicIpv4} ${wrong}` }));
    expect(r.exitCode).toBe(1);
    const error = r.errors.join('\n');
    expect(error).toContain(
      `host key verification failed for ${a.publicIpv4}: it presented ssh-ed25519 ${fingerprint(a.hostKey)}`,
    );
    expect(error).toContain(`the trusted keys are ssh-ed25519 ${fingerprint(wrong)}`);
    expect(r.log).not.toMatch(/connection attempt \d+ failed/); // never retried
  });

  it('no host key input is a configuration error; insecure-skip-host-key-check connects and warns', async () => {
    const none = await deploy(probe(a, {}));
    expect(none.errors.join('\n')).toMatch(/host keys are verified: give "known-hosts"/);
    const skip = await deploy(probe(a, { 'insecure-skip-host-key-check': 'true' }));
    expect(skip.errors.join('\n')).toMatch(CONNECTED);
    expect(skip.log).toMatch(/::warning::host keys are NOT verified/);
  });

  it('normalises a key pasted with CRLF or literal \\n, and names the mistake for a public key', async () => {
    const known = `${a.publicIpv4} ${a.hostKey}`;
    const crlf = await deploy(
      probe(a, { 'known-hosts': known, 'ssh-private-key': lab.identity.privateKey.replace(/\n/g, '\r\n') }),
    );
    expect(crlf.errors.join('\n')).toMatch(CONNECTED);
    const oneLine = await deploy(
      probe(a, { 'known-hosts': known, 'ssh-private-key': lab.identity.privateKey.trim().replace(/\n/g, '\\n') }),
    );
    expect(oneLine.errors.join('\n')).toMatch(CONNECTED);
    const pub = await deploy(probe(a, { 'known-hosts': known, 'ssh-private-key': lab.identity.publicKey }));
    expect(pub.errors.join('\n')).toContain('input "ssh-private-key" holds a public key; paste the private key');
  });

  it('reaches a droplet through a jump host (user@host:port), verifying both host keys', async () => {
    const r = await deploy({
      ...probe(b, {}),
      hosts: b.privateIpv4,
      'jump-host': `root@${a.publicIpv4}:22`,
      'known-hosts': `${a.publicIpv4} ${a.hostKey}\n${b.privateIpv4} ${b.hostKey}`,
    });
    expect(r.errors.join('\n')).toMatch(CONNECTED);
    expect(r.errors.join('\n')).toContain(`host ${b.privateIpv4}`);
    const wrongJump = await deploy({
      ...probe(b, {}),
      hosts: b.privateIpv4,
      'jump-host': `root@${a.publicIpv4}`,
      'known-hosts': `${a.publicIpv4} ${b.hostKey}\n${b.privateIpv4} ${b.hostKey}`,
    });
    expect(wrongJump.errors.join('\n')).toContain(`host key verification failed for ${a.publicIpv4}`);
  });

  it('a droplet that does not answer fails after the connection retries with a clear message', async () => {
    const r = await deploy({
      ...probe(a, { 'known-hosts': `127.0.0.1 ${a.hostKey}`, 'connect-timeout': '2s' }),
      hosts: '127.0.0.1:1',
    });
    expect(r.exitCode).toBe(1);
    expect(r.errors.join('\n')).toMatch(
      /host 127\.0\.0\.1:1, step "connect": could not connect to root@127\.0\.0\.1:1: .*ECONNREFUSED/,
    );
    expect(r.log).toMatch(/connection attempt 1 failed/);
  });
});
