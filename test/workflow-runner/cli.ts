// Command line for the local workflow runner.
//
//   node --import tsx test/workflow-runner/cli.ts validate [files…]      (default: workflows-examples/*.yml)
//   node --import tsx test/workflow-runner/cli.ts run <workflow.yml> [options]
//     --event NAME            trigger (default: the workflow's first `on:` event)
//     --input NAME=VALUE      workflow_dispatch input (repeatable)
//     --secret NAME=VALUE     secret (repeatable; prefer --secret NAME to read $NAME)
//     --var NAME=VALUE        repository variable (repeatable)
//     --repository DIR        what actions/checkout checks out (default: workflows-examples/app)
//     --sha SHA               github.sha
//     --lab                   secrets and variables for the running lab (`npm run lab -- up`)
// Exit code 0 when the run concluded success, 1 otherwise.
import { readdirSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { readState } from '../lab/lab.js';
import { EXAMPLES_DIR, labRunOptions, labWorkflowSettings, SAMPLE_APP_DIR } from './lab-options.js';
import { runWorkflow, type RunWorkflowOptions } from './runner.js';
import { formatDiagnostics, validateWorkflow } from './validate.js';

function pairs(args: string[], flag: string): Record<string, string> {
  const out: Record<string, string> = {};
  for (let i = 0; i < args.length; i++) {
    if (args[i] !== flag) continue;
    const v = args[i + 1] ?? '';
    const eq = v.indexOf('=');
    if (eq > 0) out[v.slice(0, eq)] = v.slice(eq + 1);
    else out[v] = process.env[v] ?? '';
  }
  return out;
}

function flag(args: string[], name: string): string | undefined {
  const i = args.indexOf(name);
  return i >= 0 ? args[i + 1] : undefined;
}

async function main(): Promise<number> {
  const [cmd, ...args] = process.argv.slice(2);
  if (cmd === 'validate') {
    const files = args.length
      ? args.map((f) => resolve(f))
      : readdirSync(EXAMPLES_DIR)
          .filter((f) => f.endsWith('.yml'))
          .map((f) => join(EXAMPLES_DIR, f));
    let total = 0;
    for (const f of files) {
      const ds = await validateWorkflow(f);
      total += ds.length;
      console.log(ds.length ? formatDiagnostics(ds) : `${f}: 0 diagnostics`);
    }
    return total ? 1 : 0;
  }
  if (cmd === 'run' && args[0]) {
    const workflow = resolve(args[0]);
    let opts: RunWorkflowOptions = { workflowPath: workflow, repository: SAMPLE_APP_DIR };
    if (args.includes('--lab')) {
      const state = readState();
      if (state?.status !== 'ready' || !state.env) throw new Error('no lab is running: npm run lab -- up');
      opts = { ...labRunOptions(workflow, labWorkflowSettings(state.env)), workflowPath: workflow };
    }
    const event = flag(args, '--event');
    const inputs = pairs(args, '--input');
    const sha = flag(args, '--sha');
    opts = {
      ...opts,
      ...(event || Object.keys(inputs).length ? { event: { name: event ?? 'workflow_dispatch', inputs } } : {}),
      secrets: { ...opts.secrets, ...pairs(args, '--secret') },
      vars: { ...opts.vars, ...pairs(args, '--var') },
      ...(flag(args, '--repository') ? { repository: resolve(flag(args, '--repository')!) } : {}),
      github: { ...opts.github, ...(sha ? { sha } : {}) },
    };
    const run = await runWorkflow(opts);
    console.log(`\n${run.name}: ${run.conclusion} in ${(run.durationMs / 1000).toFixed(1)} s`);
    for (const id of run.order) {
      const j = run.jobs[id]!;
      console.log(`  ${id}: ${j.result}${Object.keys(j.outputs).length ? ` ${JSON.stringify(j.outputs)}` : ''}`);
      for (const s of j.steps)
        console.log(
          `    ${s.phase === 'main' ? '' : `${s.phase} `}${s.name}: ${s.outcome}${s.error ? ` — ${s.error}` : ''}`,
        );
    }
    return run.conclusion === 'success' ? 0 : 1;
  }
  console.error(
    'usage: cli.ts validate [files…] | run <workflow.yml> [--lab] [--event E] [--input K=V] [--secret K[=V]] [--var K=V] [--sha S]',
  );
  return 2;
}

main().then(
  (code) => process.exit(code),
  (e: unknown) => {
    console.error((e as Error).message);
    process.exit(2);
  },
);
