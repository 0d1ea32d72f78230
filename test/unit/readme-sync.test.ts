// README.md's input/output tables must be exactly what scripts/readme-sync.ts generates from
// the action.yml files (fix: `node --import tsx scripts/readme-sync.ts`).
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { actionFiles, renderActionDocs, ROOT, syncReadme } from '../../scripts/readme-sync.js';
import { formatDiagnostics, validateWorkflow } from '../workflow-runner/validate.js';

const actions = Object.fromEntries(Object.entries(actionFiles()).map(([n, f]) => [n, readFileSync(f, 'utf8')]));
const readme = readFileSync(join(ROOT, 'README.md'), 'utf8');

describe('README.md and the action.yml files', () => {
  it('documents every action, and only actions that exist', () => {
    const r = syncReadme(readme, actions);
    expect(r.missing).toEqual([]);
    expect(r.unknown).toEqual([]);
    expect(Object.keys(actions)).toEqual(
      expect.arrayContaining([
        'deploy',
        'provision-droplet',
        'deploy-compose',
        'db-migrate',
        'rolling-update',
        'health-gate',
        'snapshot-and-backup',
      ]),
    );
  });

  it.each(Object.keys(actions))(
    '%s: the tables match action.yml (run scripts/readme-sync.ts when this fails)',
    (name) => {
      const r = syncReadme(readme, { [name]: actions[name]! });
      expect(r.changed).toEqual([]);
    },
  );

  it('every input and output of every action appears in its table', () => {
    for (const yml of Object.values(actions)) {
      const doc = renderActionDocs(yml);
      for (const m of yml.matchAll(/^ {2}([a-z][a-z0-9-]*):\s*$/gm)) expect(doc).toContain(`\`${m[1]}\``);
    }
  });

  it('a changed description, default or a new input makes the check fail', () => {
    const yml = actions['health-gate']!;
    const synced = syncReadme(readme, actions).text;
    const variants = [
      yml.replace(/default: '2m'/, "default: '3m'"),
      yml.replace(/^inputs:\n/m, "inputs:\n  brand-new:\n    description: 'new'\n    required: false\n"),
      yml.replace(/description: '"true" when/, 'description: \'"yes" when'),
    ];
    for (const v of variants) {
      expect(v).not.toBe(yml);
      expect(syncReadme(synced, { 'health-gate': v }).changed).toEqual(['health-gate']);
    }
  });

  it('renders pipes, newlines and defaults safely inside table cells', () => {
    const doc = renderActionDocs(`name: x
description: d
inputs:
  a:
    description: |
      first | line
      same paragraph

      second paragraph
    required: true
    default: 'x\`y'
outputs:
  o:
    description: out
`);
    expect(doc).toContain('| `a` | yes | `` x`y `` | first \\| line same paragraph<br><br>second paragraph |');
    expect(doc).toContain('| `o` | out |');
  });
});

describe("README.md's workflow snippets", () => {
  const blocks = [...readme.matchAll(/```yaml\n([\s\S]*?)```/g)].map((m) => m[1]!).filter((b) => /^on:/m.test(b));

  it('there is a complete workflow in the quick start', () => {
    expect(blocks.length).toBeGreaterThan(0);
  });

  it.each(blocks.map((b, i) => [i, b] as const))(
    'workflow snippet %i has 0 diagnostics with our action.yml files',
    async (_i, block) => {
      const diagnostics = await validateWorkflow(join(ROOT, 'README.md.workflow.yml'), block);
      expect(formatDiagnostics(diagnostics)).toBe('');
    },
  );
});
