import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

import { afterAll, describe, expect, it } from 'vitest';

import { ConfigurationError } from '../../lib/action/errors.js';
import { readInputs as readRootInputs } from '../deploy/inputs.js';
import { readInputs } from './inputs.js';

const dir = mkdtempSync(join(tmpdir(), 'mig-inputs-'));
execFileSync('ssh-keygen', ['-q', '-t', 'ed25519', '-N', '', '-C', 't', '-f', join(dir, 'k')]);
const key = readFileSync(join(dir, 'k'), 'utf8');
const hostKey = readFileSync(join(dir, 'k.pub'), 'utf8').trim().split(' ').slice(0, 2).join(' ');
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const target: Record<string, string> = {
  hosts: '203.0.113.7',
  'ssh-private-key': key,
  'known-hosts': `203.0.113.7 ${hostKey}`,
  app: 'shop',
};
const spaces: Record<string, string> = {
  'spaces-endpoint': 'https://fra1.digitaloceanspaces.com',
  'spaces-bucket': 'backups',
  'spaces-access-key-id': 'AKID',
  'spaces-secret-access-key': 'SECRET',
};
const env = { GITHUB_SHA: '3f2a1c9e00', GITHUB_REPOSITORY: 'acme/shop' };
const getter = (inputs: Record<string, string>) => ({ getInput: (name: string) => inputs[name] ?? '' });
const migrate = { ...target, service: 'web', command: '/app/migrate.sh' };
const URL = 'postgres://app:pw@10.0.0.5:5432/app';

function configError(fn: () => unknown): string {
  try {
    fn();
  } catch (error) {
    expect(error).toBeInstanceOf(ConfigurationError);
    return (error as Error).message;
  }
  throw new Error('no error was thrown');
}

describe('db-migrate inputs: backup-before', () => {
  it('off by default', () => {
    expect(readInputs(getter(migrate), env).backup).toBeUndefined();
  });

  it('on with database-url: the migration database, deploy-root and app from the release inputs', () => {
    const i = readInputs(
      getter({ ...migrate, ...spaces, 'database-url': URL, 'backup-before': 'true', 'deploy-root': '/srv' }),
      env,
    );
    expect(i.backup).toMatchObject({
      app: 'shop',
      deployRoot: '/srv',
      source: { kind: 'database-url', name: 'pre-migrate' },
      spaces: { bucket: 'backups', prefix: 'droplet-deploy/shop' },
    });
  });

  it('on with database-cluster-id (needs token anyway)', () => {
    const i = readInputs(
      getter({ ...migrate, ...spaces, 'database-cluster-id': 'abc', token: 'dop_v1_x', 'backup-before': 'true' }),
      env,
    );
    expect(i.backup?.source.kind).toBe('database-url');
  });

  it('without the bucket: a ConfigurationError naming spaces-bucket, before anything connects', () => {
    const inputs: Record<string, string> = { ...migrate, ...spaces, 'database-url': URL, 'backup-before': 'true' };
    delete inputs['spaces-bucket'];
    expect(configError(() => readInputs(getter(inputs), env))).toBe(
      'input "spaces-bucket" is required when "backup-before" is true',
    );
  });

  it('without credentials: a ConfigurationError naming spaces-secret-access-key', () => {
    const inputs: Record<string, string> = { ...migrate, ...spaces, 'database-url': URL, 'backup-before': 'true' };
    delete inputs['spaces-secret-access-key'];
    expect(configError(() => readInputs(getter(inputs), env))).toContain('"spaces-secret-access-key"');
  });

  it('with PostgreSQL in the stack and no database-url: backup-dumps says what to dump', () => {
    const inputs = { ...migrate, ...spaces, 'backup-before': 'true' };
    expect(configError(() => readInputs(getter(inputs), env))).toContain('nothing to dump');
    const i = readInputs(getter({ ...inputs, 'backup-dumps': '- {name: db, kind: postgres, service: db}' }), env);
    expect(i.backup?.source).toMatchObject({ kind: 'dumps', dumps: [{ name: 'db', service: 'db' }] });
  });
});

describe('one-step deploy inputs: backup-before', () => {
  it('needs migrate-command', () => {
    expect(
      configError(() =>
        readRootInputs(getter({ ...target, ...spaces, 'database-url': URL, 'backup-before': 'true' }), env),
      ),
    ).toContain('"backup-before" takes its dump just before the migration: it needs "migrate-command"');
  });

  const rootMigrate: Record<string, string> = {
    ...target,
    ...spaces,
    'migrate-command': '/app/migrate.sh',
    'migrate-service': 'web',
    'database-url': URL,
    'backup-before': 'true',
  };

  it('is read with the migration inputs', () => {
    const i = readRootInputs(getter({ ...rootMigrate, 'encryption-passphrase': 'p p' }), env);
    expect(i.backup).toMatchObject({ source: { kind: 'database-url' }, passphrase: 'p p', deployRoot: '/opt' });
  });

  it('without the bucket: a ConfigurationError naming spaces-bucket', () => {
    const inputs = { ...rootMigrate };
    delete inputs['spaces-bucket'];
    expect(configError(() => readRootInputs(getter(inputs), env))).toContain('"spaces-bucket"');
  });
});
