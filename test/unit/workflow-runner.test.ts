// The local workflow runner on small synthetic workflows: no lab, no Docker.
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseKeyValueFile, parseWorkflowCommand } from '../workflow-runner/env-files.js';
import { evaluateCondition, evaluateExpression, globToRegExp, hashFiles } from '../workflow-runner/expressions.js';
import type { RunWorkflowOptions, WorkflowRun } from '../workflow-runner/runner.js';
import { resolveOwnAction, runWorkflow, shellCommand } from '../workflow-runner/runner.js';
import { findThirdParty, THIRD_PARTY } from '../workflow-runner/third-party.js';

let ws: string;

beforeAll(() => {
  ws = mkdtempSync(join(tmpdir(), 'ddwf-unit-'));
  // A node action in the workspace, used as `./probe`: echoes inputs, writes outputs, state,
  // env, path and a summary; its post step records STATE_* and its order in a file.
  mkdirSync(join(ws, 'probe'), { recursive: true });
  writeFileSync(
    join(ws, 'probe/action.yml'),
    `name: probe
description: test action
inputs:
  label: { description: l, required: true }
  with space: { description: s, default: 'dflt' }
  fail: { description: f, default: 'false' }
  token: { description: t, default: '\${{ github.repository }}' }
outputs:
  echoed: { description: e }
runs:
  using: node24
  main: main.mjs
  post: post.mjs
  post-if: success()
`,
  );
  writeFileSync(
    join(ws, 'probe/main.mjs'),
    `import { appendFileSync } from 'node:fs';
const label = process.env['INPUT_LABEL'];
appendFileSync(process.env.GITHUB_OUTPUT, 'echoed=' + label + '|' + process.env['INPUT_WITH_SPACE'] + '|' + process.env['INPUT_TOKEN'] + '\\n');
appendFileSync(process.env.GITHUB_OUTPUT, 'multi<<ZZZ\\nline one\\nline two\\nZZZ\\n');
appendFileSync(process.env.GITHUB_STATE, 'label=' + label + '\\n');
appendFileSync(process.env.GITHUB_ENV, 'FROM_ACTION_' + label + '=yes\\n');
appendFileSync(process.env.GITHUB_STEP_SUMMARY, '### probe ' + label + '\\n');
console.log('::add-mask::hunter2-' + label);
console.log('the password is hunter2-' + label);
if (process.env['INPUT_FAIL'] === 'true') { console.log('::error::probe ' + label + ' failed'); process.exit(1); }
`,
  );
  writeFileSync(
    join(ws, 'probe/post.mjs'),
    `import { appendFileSync } from 'node:fs';
appendFileSync(process.env.GITHUB_WORKSPACE + '/post-order.txt', 'post ' + process.env['STATE_label'] + '\\n');
`,
  );
});

afterAll(() => rmSync(ws, { recursive: true, force: true }));

async function run(content: string, extra: Partial<RunWorkflowOptions> = {}): Promise<WorkflowRun> {
  rmSync(join(ws, 'post-order.txt'), { force: true });
  return runWorkflow({
    content,
    name: 'test.yml',
    workspace: ws,
    onLog: process.env.WF_DEBUG ? undefined : () => undefined,
    ...extra,
  });
}

const scope = (contexts: Record<string, unknown> = {}, failed = false) =>
  ({
    contexts: contexts as never,
    status: { success: !failed, failure: failed, cancelled: false },
    workspace: '/nonexistent',
  }) as const;

describe('expressions (GitHub @actions/expressions)', () => {
  it.each([
    ["format('{0}-{1}', 'a', 1)", 'a-1'],
    ["github.ref == 'refs/heads/main' && 'prod' || 'staging'", 'prod'],
    ['fromJSON(\'{"a":[1,2]}\').a[1]', 2],
    ['contains(fromJSON(\'["x","y"]\'), \'y\')', true],
    ['inputs.release', 'previous'],
    ['toJSON(needs.build.outputs)', '{\n  "image": "app:1"\n}'],
    ['steps.s.outputs.missing', null],
    ["startsWith(github.ref, 'refs/tags/')", false],
  ])('%s', (expr, expected) => {
    const s = scope({
      github: { ref: 'refs/heads/main' },
      inputs: { release: 'previous' },
      needs: { build: { outputs: { image: 'app:1' } } },
      steps: { s: { outputs: {} } },
    });
    expect(evaluateExpression(expr, s)).toEqual(expected);
  });

  it('status functions follow the job status', () => {
    expect(evaluateCondition('success()', scope())).toBe(true);
    expect(evaluateCondition('failure()', scope())).toBe(false);
    expect(evaluateCondition('success()', scope({}, true))).toBe(false);
    expect(evaluateCondition('failure()', scope({}, true))).toBe(true);
    expect(evaluateCondition('always()', scope({}, true))).toBe(true);
    expect(evaluateCondition('cancelled()', scope())).toBe(false);
  });

  it("every '' in a string literal is unescaped (works around the package's lexer)", () => {
    expect(evaluateExpression("format('a ''b'' ''c'' {0}', 'd')", scope())).toBe("a 'b' 'c' d");
  });

  it('unknown functions and contexts are errors, not silent falsy', () => {
    expect(() => evaluateExpression('nope()', scope())).toThrow(/nope/);
    expect(() => evaluateExpression('foo.bar', scope())).toThrow(/foo/);
  });

  it('hashFiles hashes matching files in path order; empty when nothing matches', () => {
    const dir = mkdtempSync(join(tmpdir(), 'ddwf-hash-'));
    mkdirSync(join(dir, 'a/b'), { recursive: true });
    writeFileSync(join(dir, 'a/b/x.lock'), 'one');
    writeFileSync(join(dir, 'y.lock'), 'two');
    const s = { ...scope(), workspace: dir };
    const all = evaluateExpression("hashFiles('**/*.lock')", s);
    expect(all).toMatch(/^[0-9a-f]{64}$/);
    expect(evaluateExpression("hashFiles('**/*.lock', '!y.lock')", s)).not.toEqual(all);
    expect(hashFiles(dir, ['*.none'])).toBe('');
    writeFileSync(join(dir, 'y.lock'), 'changed');
    expect(evaluateExpression("hashFiles('**/*.lock')", s)).not.toEqual(all);
    rmSync(dir, { recursive: true, force: true });
  });

  it.each([
    ['**/*.lock', 'a/b/c.lock', true],
    ['**/*.lock', 'c.lock', true],
    ['*.lock', 'a/c.lock', false],
    ['src/?.ts', 'src/a.ts', true],
  ])('glob %s vs %s', (g, p, m) => expect(globToRegExp(g).test(p)).toBe(m));
});

describe('file commands and workflow commands', () => {
  it('parses name=value and name<<DELIM blocks, the first of = and << deciding', () => {
    expect(parseKeyValueFile('a=1\n\nb<<EOF\nx\ny=z\nEOF\nc=d<<e\n')).toEqual([
      ['a', '1'],
      ['b', 'x\ny=z'],
      ['c', 'd<<e'],
    ]);
  });
  it('a missing delimiter is an error', () => {
    expect(() => parseKeyValueFile('b<<EOF\nx\n', 'GITHUB_OUTPUT')).toThrow(/delimiter "EOF"/);
  });
  it('parses ::command k=v::message with escapes', () => {
    expect(parseWorkflowCommand('::error file=a.ts,line=3::bad%0Athing')).toEqual({
      command: 'error',
      properties: { file: 'a.ts', line: '3' },
      message: 'bad\nthing',
    });
    expect(parseWorkflowCommand('plain line')).toBeUndefined();
  });
  it('bash steps run with -eo pipefail', () => {
    expect(shellCommand('bash', '/t/s.sh')).toEqual(['bash', '--noprofile', '--norc', '-eo', 'pipefail', '/t/s.sh']);
    expect(shellCommand('python {0}', '/t/s')).toEqual(['python', '/t/s']);
  });
});

describe('runWorkflow', () => {
  it('passes outputs between steps and jobs, env through GITHUB_ENV, and runs jobs in needs order', async () => {
    const r = await run(`
name: outputs
on: push
env:
  WF: wf
jobs:
  second:
    needs: first
    runs-on: ubuntu-latest
    steps:
      - run: |
          test "\${{ needs.first.outputs.greeting }}" = "hello wf"
          test "\${{ needs.first.result }}" = success
          echo "joined=\${{ needs.first.outputs.greeting }}!" >> "$GITHUB_OUTPUT"
        id: j
    outputs:
      joined: \${{ steps.j.outputs.joined }}
  first:
    runs-on: ubuntu-latest
    env:
      JOB: job
    outputs:
      greeting: \${{ steps.g.outputs.greeting }}
    steps:
      - id: g
        run: |
          echo "greeting=hello $WF" >> "$GITHUB_OUTPUT"
          echo "LATER=set-by-step" >> "$GITHUB_ENV"
          { echo 'MULTI<<EOF'; echo 'l1'; echo 'l2'; echo EOF; } >> "$GITHUB_ENV"
          mkdir -p "$RUNNER_TEMP/bin"; printf '#!/bin/sh\\necho tool-ran\\n' > "$RUNNER_TEMP/bin/mytool"; chmod +x "$RUNNER_TEMP/bin/mytool"
          echo "$RUNNER_TEMP/bin" >> "$GITHUB_PATH"
      - run: |
          test "$LATER" = set-by-step
          test "$(printf '%s' "$MULTI" | wc -l)" = 1
          test "\${{ env.LATER }}" = set-by-step
          test "$JOB" = job
          test "$(mytool)" = tool-ran
      - run: test "$STEP" = "step-\${{ steps.g.outputs.greeting }}"
        env:
          STEP: step-\${{ steps.g.outputs.greeting }}
`);
    expect(r.order).toEqual(['first', 'second']);
    expect(r.conclusion).toBe('success');
    expect(r.jobs['first']!.outputs).toEqual({ greeting: 'hello wf' });
    expect(r.jobs['second']!.outputs).toEqual({ joined: 'hello wf!' });
  });

  it('if:, failure(), always() and continue-on-error decide which steps and jobs run', async () => {
    const r = await run(`
on: push
jobs:
  a:
    runs-on: ubuntu-latest
    steps:
      - id: soft
        run: exit 3
        continue-on-error: true
      - id: after-soft
        run: echo "soft=\${{ steps.soft.outcome }}/\${{ steps.soft.conclusion }}" >> "$GITHUB_OUTPUT"
      - id: boom
        run: |
          true | cat
          echo pipefail-not-triggered-by-success
          false | true
          echo never
      - id: skipped
        run: echo should-not-run
      - id: on-failure
        if: failure()
        run: echo "ran=yes" >> "$GITHUB_OUTPUT"
      - id: always
        if: always() && steps.boom.outcome == 'failure'
        run: echo "ran=yes" >> "$GITHUB_OUTPUT"
  b:
    needs: a
    runs-on: ubuntu-latest
    steps:
      - run: echo never
  c:
    needs: a
    if: failure()
    runs-on: ubuntu-latest
    steps:
      - run: test "\${{ needs.a.result }}" = failure
  d:
    needs: [a, c]
    if: always()
    runs-on: ubuntu-latest
    steps:
      - run: echo ok
`);
    const a = r.jobs['a']!;
    const step = (id: string) => a.steps.find((s) => s.id === id)!;
    expect(step('soft')).toMatchObject({ outcome: 'failure', conclusion: 'success' });
    expect(step('after-soft').outputs).toEqual({ soft: 'failure/success' });
    expect(step('boom')).toMatchObject({ outcome: 'failure', conclusion: 'failure' });
    expect(r.log).toContain('pipefail-not-triggered-by-success');
    expect(r.log).not.toContain('never');
    expect(step('skipped').outcome).toBe('skipped');
    expect(step('on-failure').outputs).toEqual({ ran: 'yes' });
    expect(step('always').outputs).toEqual({ ran: 'yes' });
    expect(a.result).toBe('failure');
    expect(r.jobs['b']!.result).toBe('skipped');
    expect(r.jobs['c']!.result).toBe('success');
    expect(r.jobs['d']!.result).toBe('success');
    expect(r.conclusion).toBe('failure');
  });

  it('runs node actions as the runner does: INPUT_* with defaults, outputs, state, post in reverse order, masking, annotations', async () => {
    const r = await run(
      `
on: workflow_dispatch
jobs:
  j:
    runs-on: ubuntu-latest
    steps:
      - id: one
        uses: ./probe
        with:
          label: first
      - id: two
        uses: ./probe
        with:
          label: second
          with space: given
      - run: |
          test "$FROM_ACTION_first" = yes
          test "\${{ steps.one.outputs.multi }}" = "$(printf 'line one\\nline two')"
          echo "secret: \${{ secrets.API_TOKEN }}"
`,
      { secrets: { API_TOKEN: 's3cr3t-value' }, github: { repository: 'acme/shop' } },
    );
    expect(r.conclusion).toBe('success');
    const j = r.jobs['j']!;
    expect(j.steps.find((s) => s.id === 'one')!.outputs['echoed']).toBe('first|dflt|acme/shop');
    expect(j.steps.find((s) => s.id === 'two')!.outputs['echoed']).toBe('second|given|acme/shop');
    expect(readFileSync(join(ws, 'post-order.txt'), 'utf8')).toBe('post second\npost first\n');
    expect(j.steps.filter((s) => s.phase === 'post').map((s) => s.name)).toEqual(['Post ./probe', 'Post ./probe']);
    expect(j.summary).toBe('### probe first\n### probe second\n');
    const log = r.log.join('\n');
    expect(log).not.toMatch(/hunter2/);
    expect(log).toContain('the password is ***');
    expect(log).not.toContain('s3cr3t-value');
    expect(log).toContain('secret: ***');
  });

  it('a failing node action fails the job, records ::error::, and post-if: success() skips its post', async () => {
    const r = await run(`
on: push
jobs:
  j:
    runs-on: ubuntu-latest
    steps:
      - uses: ./probe
        with: { label: ok }
      - uses: ./probe
        with: { label: bad, fail: 'true' }
`);
    expect(r.conclusion).toBe('failure');
    expect(r.annotations).toEqual([{ level: 'error', message: 'probe bad failed', job: 'j', step: './probe' }]);
    const posts = r.jobs['j']!.steps.filter((s) => s.phase === 'post');
    expect(posts.map((p) => p.outcome)).toEqual(['skipped', 'skipped']);
  });

  it('workflow_dispatch inputs get types and defaults; unknown and invalid inputs are refused', async () => {
    const wf = `
on:
  workflow_dispatch:
    inputs:
      environment: { type: choice, options: [staging, production], default: staging }
      dry-run: { type: boolean, default: false }
jobs:
  j:
    runs-on: ubuntu-latest
    environment: \${{ inputs.environment }}
    concurrency: deploy-\${{ inputs.environment }}
    steps:
      - run: test "\${{ inputs.dry-run && 'dry' || 'real' }}" = dry
`;
    const r = await run(wf, {
      event: { name: 'workflow_dispatch', inputs: { 'dry-run': true, environment: 'production' } },
    });
    expect(r.conclusion).toBe('success');
    expect(r.jobs['j']!.environment).toBe('production');
    expect(r.jobs['j']!.concurrency).toBe('deploy-production');
    await expect(run(wf, { event: { name: 'workflow_dispatch', inputs: { environment: 'moon' } } })).rejects.toThrow(
      /moon/,
    );
    await expect(run(wf, { event: { name: 'workflow_dispatch', inputs: { nope: 'x' } } })).rejects.toThrow(
      /no input "nope"/,
    );
    await expect(run(wf, { event: { name: 'push' } })).rejects.toThrow(/not triggered by "push"/);
  });

  it('matrix jobs run every combination', async () => {
    const r = await run(`
on: push
jobs:
  m:
    runs-on: ubuntu-latest
    strategy:
      matrix:
        n: [1, 2]
        s: [a]
        include:
          - n: 9
            s: z
    steps:
      - run: echo "combo \${{ matrix.n }}\${{ matrix.s }}"
`);
    expect(r.log.filter((l) => l.startsWith('combo '))).toEqual(['combo 1a', 'combo 2a', 'combo 9z']);
  });

  it('unknown third-party actions fail loudly; known ones refuse inputs they cannot honour', async () => {
    const r = await run(`
on: push
jobs:
  j:
    runs-on: ubuntu-latest
    steps:
      - uses: someone/unknown-action@v1
`);
    expect(r.conclusion).toBe('failure');
    expect(r.jobs['j']!.steps[0]!.error).toMatch(/no local equivalent for "someone\/unknown-action@v1"/);
    const r2 = await run(`
on: push
jobs:
  j:
    runs-on: ubuntu-latest
    steps:
      - uses: actions/checkout@v4
        with: { submodules: true }
`);
    expect(r2.jobs['j']!.steps[0]!.error).toMatch(/submodules have no local equivalent/);
    expect(findThirdParty('Docker/Build-Push-Action@v6')).toBe(THIRD_PARTY['docker/build-push-action']);
  });

  it('actions/checkout copies the local repository into the workspace', async () => {
    const repo = mkdtempSync(join(tmpdir(), 'ddwf-repo-'));
    writeFileSync(join(repo, 'hello.txt'), 'from repo\n');
    const r = await runWorkflow({
      name: 'c.yml',
      repository: repo,
      onLog: () => undefined,
      content: `
on: push
jobs:
  j:
    runs-on: ubuntu-latest
    defaults:
      run:
        working-directory: sub
    steps:
      - uses: actions/checkout@v4
        with: { path: sub }
      - run: test "$(cat hello.txt)" = "from repo"
`,
    });
    expect(r.conclusion).toBe('success');
    rmSync(repo, { recursive: true, force: true });
  });

  it('step timeout-minutes kills the step', async () => {
    const r = await run(`
on: push
jobs:
  j:
    runs-on: ubuntu-latest
    steps:
      - run: sleep 30
        timeout-minutes: 0.005
`);
    expect(r.jobs['j']!.steps[0]!.error).toMatch(/timed out/);
  });

  it("parse errors from GitHub's parser are reported", async () => {
    await expect(
      run('on: push\njobs:\n  j:\n    runs-on: x\n    steps:\n      - run: a\n        uses: b@c\n'),
    ).rejects.toThrow();
  });

  it('resolves our action references to the repo and ./paths to the workspace', () => {
    expect(resolveOwnAction('OWNER/droplet-deploy/actions/health-gate@v1', '/repo', '/ws')).toBe(
      '/repo/actions/health-gate',
    );
    expect(resolveOwnAction('acme/droplet-deploy@0123456789abcdef0123456789abcdef01234567', '/repo', '/ws')).toBe(
      '/repo',
    );
    expect(resolveOwnAction('./actions/deploy-compose', '/repo', '/ws')).toBe('/ws/actions/deploy-compose');
    expect(resolveOwnAction('actions/checkout@v4', '/repo', '/ws')).toBeUndefined();
  });
});
