// Every example workflow: 0 diagnostics from GitHub's language service with OUR action.yml
// files as the actions' metadata, parses with GitHub's workflow parser, and keeps the habits
// the examples are meant to teach (concurrency, environments, secrets by name, pinned refs).
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { loadWorkflow, REPO_ROOT } from '../workflow-runner/runner.js';
import { formatDiagnostics, validateWorkflow } from '../workflow-runner/validate.js';

const DIR = join(REPO_ROOT, 'workflows-examples');
const files = readdirSync(DIR)
  .filter((f) => f.endsWith('.yml'))
  .sort();

describe('example workflows', () => {
  it('are all there', () => {
    expect(files).toEqual(
      expect.arrayContaining(['deploy-on-push.yml', 'destroy.yml', 'rollback.yml', 'scheduled-backup.yml']),
    );
  });

  describe.each(files)('%s', (file) => {
    const path = join(DIR, file);
    const content = readFileSync(path, 'utf8');

    it('has 0 diagnostics from @actions/languageservice (our action.yml files as metadata)', async () => {
      const diagnostics = await validateWorkflow(path, content);
      expect(formatDiagnostics(diagnostics)).toBe('');
    });

    it('parses with @actions/workflow-parser, with a concurrency group and an environment on every job', async () => {
      const { template } = await loadWorkflow(file, content);
      expect(template.concurrency).toBeDefined();
      for (const job of template.jobs)
        expect(job.type === 'job' && job.environment, `job ${job.id.value}`).toBeTruthy();
    });

    it('uses our actions as OWNER/droplet-deploy/actions/<name>@v1, each one existing', () => {
      const uses = [...content.matchAll(/^\s*(?:-\s+)?uses:\s*(\S+)/gm)].map((m) => m[1]!);
      const ours = uses.filter((u) => u.includes('droplet-deploy'));
      if (file !== 'destroy.yml') expect(ours.length).toBeGreaterThan(0);
      for (const u of ours) {
        const m = /^OWNER\/droplet-deploy(?:\/actions\/([a-z-]+))?@v1$/.exec(u);
        expect(m, u).toBeTruthy();
        expect(existsSync(join(REPO_ROOT, m![1] ? `actions/${m![1]}` : '', 'action.yml')), u).toBe(true);
      }
      for (const u of uses.filter((x) => !x.includes('droplet-deploy')))
        expect(u, 'third-party actions are pinned to a major tag').toMatch(/@v\d+$/);
    });

    it('takes secrets only by name from the secrets context', () => {
      for (const line of content.split('\n')) {
        if (
          /(token|password|private-key|secret-access-key|passphrase):\s*\S/i.test(line) &&
          !line.trim().startsWith('#')
        ) {
          expect(line, 'secret-looking input must come from ${{ secrets.NAME }}').toMatch(
            /\$\{\{\s*secrets\.[A-Z_]+\s*\}\}/,
          );
        }
      }
    });
  });

  it('rollback.yml asks for the environment and the release; destroy.yml for a confirmation', async () => {
    const rollback = await loadWorkflow('rollback.yml', readFileSync(join(DIR, 'rollback.yml'), 'utf8'));
    expect(Object.keys(rollback.template.events.workflow_dispatch?.inputs ?? {})).toEqual(['environment', 'release']);
    expect(rollback.template.events.workflow_dispatch?.inputs?.['release']?.default).toBe('previous');
    const destroy = await loadWorkflow('destroy.yml', readFileSync(join(DIR, 'destroy.yml'), 'utf8'));
    expect(Object.keys(destroy.template.events)).toEqual(['workflow_dispatch']);
    expect(destroy.template.events.workflow_dispatch?.inputs?.['confirm']?.required).toBe(true);
  });

  it('a wrong input name in one of our steps is a diagnostic (the check has teeth)', async () => {
    const path = join(DIR, 'rollback.yml');
    const broken = readFileSync(path, 'utf8').replace('rollback-to:', 'roll-back-to:');
    const diagnostics = await validateWorkflow(path, broken);
    expect(formatDiagnostics(diagnostics)).toMatch(/Invalid action input 'roll-back-to'/);
  });
});
