// The runner passes every input's action.yml default as INPUT_<NAME> when the workflow does not
// set it. An action must accept its own defaults: a default that trips a validation ("input x is
// set but y is not") would fail every run. Each action's readInputs gets exactly what the runner
// would give it: the defaults, plus the few inputs a workflow must set.
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

import { afterAll, describe, expect, it } from 'vitest';

import { readInputs as readDbMigrate } from '../../src/actions/db-migrate/inputs.js';
import { readInputs as readDeploy } from '../../src/actions/deploy/inputs.js';
import { readInputs as readDeployCompose } from '../../src/actions/deploy-compose/inputs.js';
import { readInputs as readHealthGate } from '../../src/actions/health-gate/inputs.js';
import { readInputs as readProvision } from '../../src/actions/provision-droplet/inputs.js';
import { readInputs as readRollingUpdate } from '../../src/actions/rolling-update/inputs.js';
import { readInputs as readSnapshotAndBackup } from '../../src/actions/snapshot-and-backup/inputs.js';
import { withActionDefaults } from '../support/run-action.js';

const dir = mkdtempSync(join(tmpdir(), 'dd-defaults-'));
execFileSync('ssh-keygen', ['-q', '-t', 'ed25519', '-N', '', '-C', 't', '-f', join(dir, 'k')]);
const key = readFileSync(join(dir, 'k'), 'utf8');
const hostKey = readFileSync(join(dir, 'k.pub'), 'utf8').trim().split(' ').slice(0, 2).join(' ');
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const env = { GITHUB_SHA: '3f2a1c9e00', GITHUB_REPOSITORY: 'acme/shop' };
const target = {
  hosts: '203.0.113.7',
  'ssh-private-key': key,
  'known-hosts': `203.0.113.7 ${hostKey}`,
  app: 'shop',
};

/** What the runner hands the action: every action.yml default, overridden by the workflow's `with:` (trimmed, as getInput does). */
function runnerInputs(action: string, given: Record<string, string>): { getInput: (name: string) => string } {
  const values = withActionDefaults(action, given);
  return { getInput: (name) => (values[name] ?? '').trim() };
}

const ACTIONS = [
  'deploy-compose',
  'rolling-update',
  'db-migrate',
  'deploy',
  'health-gate',
  'provision-droplet',
  'snapshot-and-backup',
];

describe('every action accepts its own action.yml defaults (as the runner passes them)', () => {
  it("the inputs below do carry each action.yml's defaults, and `with:` overrides them", () => {
    for (const action of ACTIONS) expect(Object.keys(withActionDefaults(action, {})).length).toBeGreaterThan(5);
    expect(runnerInputs('db-migrate', {}).getInput('backup-before')).toBe('false');
    expect(runnerInputs('deploy', {}).getInput('deploy-root')).toBe('/opt');
    expect(runnerInputs('deploy', { 'deploy-root': ' /srv ' }).getInput('deploy-root')).toBe('/srv');
  });
  it('deploy-compose', () => {
    expect(readDeployCompose(runnerInputs('deploy-compose', target), env).app).toBe('shop');
  });
  it('rolling-update', () => {
    expect(() => readRollingUpdate(runnerInputs('rolling-update', target), env)).not.toThrow();
  });
  it('db-migrate', () => {
    const inputs = runnerInputs('db-migrate', { ...target, service: 'web', command: 'migrate' });
    expect(readDbMigrate(inputs, env).backup).toBeUndefined();
  });
  it('the one-step root action', () => {
    expect(() => readDeploy(runnerInputs('deploy', target), env)).not.toThrow();
  });
  it('health-gate', () => {
    const given = { url: 'https://203.0.113.7/healthz' };
    expect(readHealthGate(runnerInputs('health-gate', given)).checks).toHaveLength(1);
  });
  it('provision-droplet', () => {
    const given = { token: 'dop_v1_x', name: 'web', 'ssh-private-key': key };
    expect(() => readProvision(runnerInputs('provision-droplet', given))).not.toThrow();
  });
  it('snapshot-and-backup', () => {
    const given = { app: 'shop', token: 'dop_v1_x', 'droplet-tag': 'web' };
    expect(readSnapshotAndBackup(runnerInputs('snapshot-and-backup', given)).snapshot).toBe(true);
  });
});
