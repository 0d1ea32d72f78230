import { execFileSync, spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, readdirSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

import { describe, expect, it } from 'vitest';
import { parse } from 'yaml';

// The committed bundles, run the way the runner runs a node24 action: `node dist/<name>/index.js`
// with INPUT_* variables and a GITHUB_OUTPUT file.

const root = join(import.meta.dirname, '..', '..');

interface ActionYml {
  inputs?: Record<string, { required?: boolean; default?: string }>;
  runs: { using: string; main: string; post?: string };
}

function actionYml(path: string): ActionYml {
  return parse(readFileSync(join(root, path), 'utf8')) as ActionYml;
}

const actions = readdirSync(join(root, 'actions')).map((name) => ({
  name,
  ymlPath: `actions/${name}/action.yml`,
  bundle: `dist/${name}/index.js`,
}));

function runBundle(bundle: string, inputs: Record<string, string>) {
  const dir = mkdtempSync(join(tmpdir(), 'dd-dist-'));
  const output = join(dir, 'output');
  writeFileSync(output, '');
  const env: Record<string, string> = { PATH: process.env['PATH'] ?? '', GITHUB_OUTPUT: output, RUNNER_TEMP: dir };
  for (const [name, value] of Object.entries(inputs)) env[`INPUT_${name.replace(/ /g, '_').toUpperCase()}`] = value;
  const result = spawnSync(process.execPath, [join(root, bundle)], { env, encoding: 'utf8', timeout: 30_000 });
  return { code: result.status, stdout: result.stdout, stderr: result.stderr };
}

describe.each(actions)('$name bundle', ({ name, ymlPath, bundle }) => {
  const yml = actionYml(ymlPath);

  it('action.yml runs the committed bundle on node24', () => {
    expect(yml.runs.using).toBe('node24');
    expect(join(`actions/${name}`, yml.runs.main)).toBe(bundle);
    expect(() => readFileSync(join(root, bundle))).not.toThrow();
  });

  it('fails with exit code 1 and an ::error:: naming a missing required input', () => {
    const declared = Object.entries(yml.inputs ?? {})
      .filter(([, spec]) => spec.required && spec.default === undefined)
      .map(([input]) => input);
    // Actions whose inputs are all optional but need one of a set (health-gate: url or checks).
    const oneOf: Record<string, string[]> = { 'health-gate': ['url', 'checks'] };
    const required = declared.length > 0 ? declared : (oneOf[name] ?? []);
    expect(required.length).toBeGreaterThan(0);
    const result = runBundle(bundle, {});
    expect(result.code).toBe(1);
    const error = result.stdout.split('\n').find((line) => line.startsWith('::error::'));
    expect(error).toBeDefined();
    expect(error).toContain(`${name} failed: `);
    expect(required.some((input) => error?.includes(`"${input}"`))).toBe(true);
  });

  it('the bundle has no native addon and nothing that needs a newer Node', () => {
    const files = readdirSync(join(root, 'dist', name), { recursive: true }).map(String);
    expect(files.filter((f) => f.endsWith('.node') || f.endsWith('.exe'))).toEqual([]);
  });
});

// A valid set of inputs per action except for one bad duration: the message names input and value.
function sshTarget(): Record<string, string> {
  const dir = mkdtempSync(join(tmpdir(), 'dd-key-'));
  execFileSync('ssh-keygen', ['-q', '-t', 'ed25519', '-N', '', '-f', join(dir, 'k')]);
  return {
    hosts: '127.0.0.1',
    'ssh-private-key': readFileSync(join(dir, 'k'), 'utf8'),
    'known-hosts': `127.0.0.1 ${readFileSync(join(dir, 'k.pub'), 'utf8').trim()}`,
    app: 'shop',
  };
}
const ssh = sshTarget();
const badDuration: Record<string, { inputs: Record<string, string>; input: string }> = {
  'health-gate': { inputs: { url: 'http://127.0.0.1:9/', timeout: '5 minutes' }, input: 'timeout' },
  'provision-droplet': { inputs: { token: 'dop_v1_x', 'wait-timeout': '5 minutes' }, input: 'wait-timeout' },
  'deploy-compose': { inputs: { ...ssh, timeout: '5 minutes' }, input: 'timeout' },
  'rolling-update': { inputs: { ...ssh, timeout: '5 minutes' }, input: 'timeout' },
  'db-migrate': { inputs: { ...ssh, service: 'web', command: 'migrate', timeout: '5 minutes' }, input: 'timeout' },
  deploy: { inputs: { ...ssh, 'gate-timeout': '5 minutes' }, input: 'gate-timeout' },
  'snapshot-and-backup': {
    inputs: {
      ...ssh,
      dumps: '- kind: volume\n  name: data\n  volume: data\n',
      'spaces-endpoint': 'http://127.0.0.1:9',
      'spaces-bucket': 'backups',
      'spaces-access-key-id': 'AKIAEXAMPLE',
      'spaces-secret-access-key': 'secret-example',
      'dump-timeout': '5 minutes',
    },
    input: 'dump-timeout',
  },
};

describe.each(Object.entries(badDuration))('%s bundle with a bad duration', (name, { inputs, input }) => {
  it('names the input and the value', () => {
    const result = runBundle(`dist/${name}/index.js`, inputs);
    expect(result.code).toBe(1);
    expect(result.stdout).toContain(`::error::${name} failed: input "${input}" has "5 minutes"`);
  });
});

describe('root action', () => {
  it('is the one-step deploy bundle', () => {
    const yml = actionYml('action.yml');
    expect(yml.runs.using).toBe('node24');
    expect(yml.runs.main).toBe('dist/deploy/index.js');
  });
});
