import { describe, expect, it } from 'vitest';

import { readInputs } from './inputs.js';

const KEY = `-----BEGIN OPENSSH PRIVATE KEY-----
b3BlbnNzaC1rZXktdjEAAAAABG5vbmUAAAAEbm9uZQAAAAAAAAABAAAAMwAAAAtzc2gtZW
QyNTUxOQAAACBXq2N2m8pQmZ2m1yq0wdSJ7o0gWnQ0J7Xrj3S1m0l3GQAAAJgqv1S+Kr9U
vgAAAAtzc2gtZWQyNTUxOQAAACBXq2N2m8pQmZ2m1yq0wdSJ7o0gWnQ0J7Xrj3S1m0l3GQ
AAAEDb3m6vXjzVQp7lHQK3bq9Q1yJc4Vq0o2mX9v8d0x6nJVerY3abylCZnabXKrTB1Invq
SBadDQntemPdLWbSXcZAAAAEHRlc3RAZXhhbXBsZS5jb20BAgMEBQ==
-----END OPENSSH PRIVATE KEY-----`;

const base: Record<string, string> = { app: 'shop', token: 'dop_v1_x', 'droplet-name': 'web-1' };
const get = (inputs: Record<string, string>) => ({ getInput: (name: string) => inputs[name] ?? '' });
const spaces = {
  'spaces-endpoint': 'https://fra1.digitaloceanspaces.com',
  'spaces-bucket': 'b',
  'spaces-access-key-id': 'AK',
  'spaces-secret-access-key': 'SK',
};
const dumps = '- {name: db, kind: postgres, service: db}';

describe('snapshot-and-backup inputs', () => {
  it('snapshots only: defaults', () => {
    const i = readInputs(get(base));
    expect(i).toMatchObject({
      mode: 'backup',
      snapshot: true,
      snapshotTemplate: '{app}-{droplet}-{timestamp}',
      snapshotTag: 'droplet-deploy-shop',
      powerOff: false,
      snapshotRetention: {},
      dumps: [],
      targets: { kind: 'names', names: ['web-1'] },
      gzipLevel: 1,
      uploadPartSize: 5 * 1024 * 1024,
      uploadConcurrency: 2,
    });
    expect(i.ssh).toBeUndefined();
  });

  it('retention inputs become a policy', () => {
    const i = readInputs(get({ ...base, 'snapshot-keep-last': '3', 'snapshot-max-age': '14d' }));
    expect(i.snapshotRetention).toEqual({ keepLast: 3, maxAgeMs: 14 * 86_400_000 });
  });

  it.each([
    [
      'nothing targeted',
      { app: 'shop' },
      /one of the inputs "droplet-name", "droplet-ids", "droplet-tag" or "hosts" is required/,
    ],
    ['two target kinds', { ...base, 'droplet-tag': 'x' }, /cannot be used together/],
    ['API targets without a token', { app: 'shop', 'droplet-tag': 'x' }, /input "token" is required/],
    ['keep-last 0', { ...base, 'snapshot-keep-last': '0' }, /must be at least 1/],
    ['bad template', { ...base, 'snapshot-name': '{app}' }, /must contain \{timestamp\}/],
    ['bad tag', { ...base, 'snapshot-tag': 'a b' }, /a tag is letters/],
    [
      'snapshot with hosts',
      {
        app: 'shop',
        hosts: '10.0.0.1',
        snapshot: 'true',
        dumps,
        'insecure-skip-host-key-check': 'true',
        'ssh-private-key': KEY,
        ...spaces,
      },
      /needs droplets from the DigitalOcean API/,
    ],
    ['nothing to do', { ...base, snapshot: 'false' }, /nothing to do/],
    [
      'dumps without Spaces',
      { ...base, dumps, 'insecure-skip-host-key-check': 'true', 'ssh-private-key': KEY },
      /input "spaces-endpoint" is required/,
    ],
    [
      'restore without confirmation',
      { ...base, mode: 'restore', dumps, 'insecure-skip-host-key-check': 'true', 'ssh-private-key': KEY, ...spaces },
      /set input "confirm-restore" to the app name \("shop"\) to confirm\. Nothing was changed\./,
    ],
    [
      'restore of one of several without "dump"',
      {
        ...base,
        mode: 'restore',
        'confirm-restore': 'shop',
        dumps: `${dumps}\n- {name: c, kind: redis, service: cache}`,
        'insecure-skip-host-key-check': 'true',
        'ssh-private-key': KEY,
        ...spaces,
      },
      /name the one to restore with input "dump"/,
    ],
  ])('refuses %s', (_n, inputs, message) => {
    expect(() => readInputs(get(inputs))).toThrow(message);
  });

  it('restore with confirmation and mode verify read through', () => {
    const common = { ...base, dumps, 'insecure-skip-host-key-check': 'true', 'ssh-private-key': KEY, ...spaces };
    expect(readInputs(get({ ...common, mode: 'restore', 'confirm-restore': 'shop' }))).toMatchObject({
      mode: 'restore',
      snapshot: false,
      backupKey: 'latest',
    });
    expect(
      readInputs(get({ ...common, mode: 'verify', 'backup-key': 'droplet-deploy/shop/db/x.pgdump' })),
    ).toMatchObject({
      mode: 'verify',
      verify: true,
      backupKey: 'droplet-deploy/shop/db/x.pgdump',
      spaces: { prefix: 'droplet-deploy/shop', endpoint: 'https://fra1.digitaloceanspaces.com' },
    });
  });
});
