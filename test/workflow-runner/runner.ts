// A local runner for GitHub Actions workflows, for our example workflows and their tests.
//
// Parsing is GitHub's own (@actions/workflow-parser: parseWorkflow + convertWorkflowTemplate),
// every `${{ }}` is evaluated with GitHub's own @actions/expressions. Jobs run one at a time in
// `needs` order on this machine; `run:` steps in bash (`bash --noprofile --norc -eo pipefail`);
// our own actions (`OWNER/droplet-deploy/actions/<name>@ref`, `OWNER/droplet-deploy@ref`,
// `./path`) run from their action.yml + dist/ as the runner runs node24 actions; third-party
// actions run their local equivalents from third-party.ts, and unknown ones fail.
//
// Not supported (fail loudly): `container:`, `services:`, reusable workflow jobs, composite and
// docker actions, `${{ insert }}`. `runs-on` is ignored (everything runs here).
import { spawn } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { appendFileSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { isAbsolute, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { MappingToken, TemplateToken } from '@actions/workflow-parser/templates/tokens/index';
import {
  convertWorkflowTemplate,
  isMapping,
  isSequence,
  NoOperationTraceWriter,
  parseWorkflow,
} from '@actions/workflow-parser';
import type { Job, Step, WorkflowTemplate } from '@actions/workflow-parser/model/workflow-template';
import { parse as parseYaml } from 'yaml';
import { parseKeyValueFile, parsePathFile, parseWorkflowCommand } from './env-files.js';
import type { EvalScope, Json, StatusView } from './expressions.js';
import {
  evaluateCondition,
  evaluateExpression,
  evaluateString,
  evaluateStringMap,
  evaluateToken,
  toRunnerString,
} from './expressions.js';
import type { ThirdPartyEquivalent } from './third-party.js';
import { execFileStreaming, findThirdParty, THIRD_PARTY } from './third-party.js';

export const REPO_ROOT = resolve(fileURLToPath(new URL('.', import.meta.url)), '../..');

export type Result = 'success' | 'failure' | 'cancelled' | 'skipped';

export interface RunWorkflowOptions {
  /** Path of the workflow file (or give `content` + `name`). */
  workflowPath?: string;
  content?: string;
  name?: string;
  event?: { name: string; inputs?: Record<string, string | boolean | number>; payload?: Record<string, Json> };
  secrets?: Record<string, string>;
  vars?: Record<string, string>;
  /** GITHUB_WORKSPACE; a fresh temporary directory when absent (removed afterwards). */
  workspace?: string;
  /** The local directory that `actions/checkout` copies into the workspace. */
  repository?: string;
  /** The droplet-deploy checkout whose action.yml + dist/ run for `*\/droplet-deploy…@ref`. */
  actionRepo?: string;
  /** Values for the github context (sha, ref, repository, actor, run_id, …). */
  github?: Record<string, Json>;
  /** Extra environment for every process (e.g. PATH additions). */
  env?: Record<string, string>;
  /** Run only these jobs (their `needs` must be listed too, or they are treated as skipped). */
  jobs?: string[];
  /** Receives every log line (already masked). Default: process.stdout with a job/step prefix. */
  onLog?: (line: string) => void;
  thirdParty?: Record<string, ThirdPartyEquivalent>;
  /** Node binary for node actions (default: this process's). */
  node?: string;
}

export interface StepRecord {
  id: string;
  name: string;
  phase: 'pre' | 'main' | 'post';
  outcome: Result;
  conclusion: Result;
  outputs: Record<string, string>;
  error?: string;
  durationMs: number;
}

export interface JobRecord {
  id: string;
  result: Result;
  outputs: Record<string, string>;
  steps: StepRecord[];
  summary: string;
  environment?: string;
  concurrency?: string;
  durationMs: number;
}

export interface Annotation {
  level: 'error' | 'warning' | 'notice';
  message: string;
  job: string;
  step: string;
}

export interface WorkflowRun {
  name: string;
  conclusion: 'success' | 'failure';
  jobs: Record<string, JobRecord>;
  /** Jobs in the order they ran. */
  order: string[];
  concurrency?: string;
  log: string[];
  annotations: Annotation[];
  durationMs: number;
}

export class WorkflowParseError extends Error {}

interface ActionMeta {
  dir: string;
  name: string;
  inputs: Record<string, { default?: string; required?: boolean }>;
  runs: { using: string; main: string; pre?: string; post?: string; 'pre-if'?: string; 'post-if'?: string };
}

/** Parses a workflow with GitHub's parser; throws with every error the parser reported. */
export async function loadWorkflow(
  name: string,
  content: string,
): Promise<{ template: WorkflowTemplate; root: TemplateToken }> {
  const parsed = parseWorkflow({ name, content }, new NoOperationTraceWriter());
  const errors = parsed.context.errors.getErrors();
  if (errors.length || !parsed.value) {
    throw new WorkflowParseError(`${name}: ${errors.map((e) => e.message).join('; ') || 'empty workflow'}`);
  }
  const template = await convertWorkflowTemplate(parsed.context, parsed.value);
  if (template.errors?.length)
    throw new WorkflowParseError(`${name}: ${template.errors.map((e) => e.Message).join('; ')}`);
  return { template, root: parsed.value };
}

function find(map: TemplateToken | undefined, key: string): TemplateToken | undefined {
  return map && isMapping(map) ? map.find(key) : undefined;
}

/** Reads an action.yml (or action.yaml) of one of our node actions. */
export function loadActionMeta(dir: string): ActionMeta {
  const file = ['action.yml', 'action.yaml'].map((f) => join(dir, f)).find((f) => existsSync(f));
  if (!file) throw new Error(`no action.yml in ${dir}`);
  const doc = parseYaml(readFileSync(file, 'utf8')) as {
    name: string;
    inputs?: Record<string, { default?: unknown; required?: boolean }>;
    runs: ActionMeta['runs'];
  };
  if (!/^node\d+$/.test(doc.runs?.using ?? ''))
    throw new Error(`${file}: runs.using "${doc.runs?.using}" is not a node action`);
  if (doc.runs.pre) throw new Error(`${file}: \`pre:\` steps are not supported by the local runner`);
  const inputs: ActionMeta['inputs'] = {};
  for (const [k, v] of Object.entries(doc.inputs ?? {})) {
    inputs[k] = { required: v?.required, default: v?.default === undefined ? undefined : String(v.default) };
  }
  return { dir, name: doc.name, inputs, runs: doc.runs };
}

/**
 * Where a `uses:` of one of our actions lives locally, or undefined for third-party actions.
 * `<owner>/droplet-deploy@ref` → repo root, `<owner>/droplet-deploy/<path>@ref` → that path,
 * `./path` → relative to the workspace.
 */
export function resolveOwnAction(uses: string, actionRepo: string, workspace: string): string | undefined {
  if (uses.startsWith('./')) return resolve(workspace, uses);
  const m = /^[^/@]+\/droplet-deploy(?:\/([^@]+))?@.+$/i.exec(uses);
  if (!m) return undefined;
  return m[1] ? join(actionRepo, m[1]) : actionRepo;
}

function topoOrder(jobs: Job[]): Job[] {
  const byId = new Map(jobs.map((j) => [j.id.value, j]));
  const done = new Set<string>();
  const out: Job[] = [];
  const visit = (j: Job, stack: string[]): void => {
    if (done.has(j.id.value)) return;
    if (stack.includes(j.id.value)) throw new WorkflowParseError(`needs cycle: ${[...stack, j.id.value].join(' → ')}`);
    for (const n of j.needs ?? []) {
      const dep = byId.get(n.value);
      if (!dep) throw new WorkflowParseError(`job "${j.id.value}" needs unknown job "${n.value}"`);
      visit(dep, [...stack, j.id.value]);
    }
    done.add(j.id.value);
    out.push(j);
  };
  for (const j of jobs) visit(j, []);
  return out;
}

function matrixCombinations(strategy: Json): Array<Record<string, Json>> {
  const matrix = strategy && typeof strategy === 'object' && !Array.isArray(strategy) ? strategy['matrix'] : undefined;
  if (!matrix || typeof matrix !== 'object' || Array.isArray(matrix)) return [{}];
  let combos: Array<Record<string, Json>> = [{}];
  for (const [k, values] of Object.entries(matrix)) {
    if (k === 'include' || k === 'exclude') continue;
    if (!Array.isArray(values)) throw new Error(`matrix.${k} must be a list`);
    combos = combos.flatMap((c) => values.map((v) => ({ ...c, [k]: v })));
  }
  const exclude = Array.isArray(matrix['exclude']) ? matrix['exclude'] : [];
  combos = combos.filter(
    (c) =>
      !exclude.some(
        (e) =>
          e && typeof e === 'object' && Object.entries(e).every(([k, v]) => JSON.stringify(c[k]) === JSON.stringify(v)),
      ),
  );
  for (const inc of Array.isArray(matrix['include']) ? matrix['include'] : []) {
    if (inc && typeof inc === 'object' && !Array.isArray(inc)) combos.push(inc);
  }
  return combos.length ? combos : [{}];
}

class Masker {
  private readonly values = new Set<string>();
  add(v: string | undefined): void {
    if (!v) return;
    for (const part of [v, ...v.split(/\r?\n/)]) if (part.trim().length > 0) this.values.add(part);
  }
  apply(line: string): string {
    let out = line;
    for (const v of [...this.values].sort((a, b) => b.length - a.length)) out = out.split(v).join('***');
    return out;
  }
}

interface ProcessResult {
  code: number;
  timedOut: boolean;
}

interface Ctx {
  opts: RunWorkflowOptions;
  masker: Masker;
  log: string[];
  annotations: Annotation[];
  sink: (line: string) => void;
  actionRepo: string;
  workspace: string;
  runnerTemp: string;
  node: string;
  table: Record<string, ThirdPartyEquivalent>;
}

interface JobState {
  jobId: string;
  env: Record<string, string>; // workflow env + job env + GITHUB_ENV
  path: string[]; // GITHUB_PATH additions, newest first
  steps: Record<string, { outputs: Record<string, string>; outcome: Result; conclusion: Result }>;
  failed: boolean;
  summary: string;
  contexts: EvalScope['contexts'];
  records: StepRecord[];
}

function emit(ctx: Ctx, prefix: string, line: string): void {
  const masked = ctx.masker.apply(line);
  ctx.log.push(masked);
  ctx.sink(prefix ? `${prefix} ${masked}` : masked);
}

/** Handles one line of a step's output: workflow commands, masking, logging. */
function onOutputLine(ctx: Ctx, job: JobState, stepName: string, state: { stopToken?: string }, line: string): void {
  const prefix = `[${job.jobId}/${stepName}]`;
  if (state.stopToken) {
    if (line.trim() === `::${state.stopToken}::`) state.stopToken = undefined;
    else emit(ctx, prefix, line);
    return;
  }
  const cmd = parseWorkflowCommand(line);
  if (!cmd) return emit(ctx, prefix, line);
  switch (cmd.command) {
    case 'add-mask':
      ctx.masker.add(cmd.message);
      return;
    case 'error':
    case 'warning':
    case 'notice':
      ctx.annotations.push({
        level: cmd.command,
        message: ctx.masker.apply(cmd.message),
        job: job.jobId,
        step: stepName,
      });
      return emit(
        ctx,
        prefix,
        `${cmd.command === 'error' ? 'Error' : cmd.command === 'warning' ? 'Warning' : 'Notice'}: ${cmd.message}`,
      );
    case 'debug':
      if (ctx.opts.env?.['ACTIONS_STEP_DEBUG'] === 'true') emit(ctx, prefix, `##[debug]${cmd.message}`);
      return;
    case 'group':
      return emit(ctx, prefix, `▸ ${cmd.message}`);
    case 'endgroup':
      return;
    case 'stop-commands':
      state.stopToken = cmd.message;
      return;
    case 'set-output':
    case 'save-state':
    case 'set-env':
    case 'add-path':
      return emit(
        ctx,
        prefix,
        `Error: the \`${cmd.command}\` command is disabled; use the environment files (GITHUB_OUTPUT, …)`,
      );
    default:
      return emit(ctx, prefix, line);
  }
}

function spawnProcess(
  ctx: Ctx,
  job: JobState,
  stepName: string,
  file: string,
  args: string[],
  env: Record<string, string>,
  cwd: string,
  timeoutMs: number | undefined,
): Promise<ProcessResult> {
  return new Promise((resolveP, reject) => {
    const child = spawn(file, args, { cwd, env, stdio: ['ignore', 'pipe', 'pipe'], detached: true });
    const state: { stopToken?: string } = {};
    const buffers = { out: '', err: '' };
    let timedOut = false;
    const timer =
      timeoutMs !== undefined
        ? setTimeout(() => {
            timedOut = true;
            try {
              process.kill(-child.pid!, 'SIGKILL');
            } catch {
              /* gone already */
            }
          }, timeoutMs)
        : undefined;
    const handle = (which: 'out' | 'err') => (chunk: Buffer) => {
      buffers[which] += chunk.toString();
      const parts = buffers[which].split('\n');
      buffers[which] = parts.pop() ?? '';
      for (const p of parts) onOutputLine(ctx, job, stepName, state, p.replace(/\r$/, ''));
    };
    child.stdout.on('data', handle('out'));
    child.stderr.on('data', handle('err'));
    child.on('error', reject);
    child.on('close', (code, signal) => {
      if (timer) clearTimeout(timer);
      for (const b of [buffers.out, buffers.err]) if (b) onOutputLine(ctx, job, stepName, state, b);
      resolveP({ code: code ?? (signal ? 128 : 1), timedOut });
    });
  });
}

/** Base process environment: this machine's, minus anything that looks like runner state. */
function baseEnv(ctx: Ctx): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [k, v] of Object.entries(process.env)) {
    if (v === undefined || /^(INPUT_|STATE_|GITHUB_|RUNNER_|ACTIONS_)/.test(k)) continue;
    out[k] = v;
  }
  return { ...out, ...(ctx.opts.env ?? {}) };
}

interface StepFiles {
  dir: string;
  output: string;
  env: string;
  path: string;
  state: string;
  summary: string;
}

function makeStepFiles(ctx: Ctx): StepFiles {
  const dir = join(ctx.runnerTemp, '_runner_file_commands', randomUUID());
  mkdirSync(dir, { recursive: true });
  const f = (n: string): string => {
    const p = join(dir, n);
    writeFileSync(p, '');
    return p;
  };
  return {
    dir,
    output: f('set_output'),
    env: f('set_env'),
    path: f('add_path'),
    state: f('save_state'),
    summary: f('step_summary'),
  };
}

function githubEnv(ctx: Ctx, job: JobState, files: StepFiles, extra: Record<string, string>): Record<string, string> {
  const gh = (job.contexts.github ?? {}) as Record<string, Json>;
  const s = (k: string): string => toRunnerString(gh[k] ?? null);
  return {
    CI: 'true',
    GITHUB_ACTIONS: 'true',
    GITHUB_WORKSPACE: ctx.workspace,
    GITHUB_EVENT_NAME: s('event_name'),
    GITHUB_EVENT_PATH: join(ctx.runnerTemp, 'event.json'),
    GITHUB_SHA: s('sha'),
    GITHUB_REF: s('ref'),
    GITHUB_REF_NAME: s('ref_name'),
    GITHUB_REPOSITORY: s('repository'),
    GITHUB_REPOSITORY_OWNER: s('repository_owner'),
    GITHUB_RUN_ID: s('run_id'),
    GITHUB_RUN_NUMBER: s('run_number'),
    GITHUB_RUN_ATTEMPT: s('run_attempt'),
    GITHUB_ACTOR: s('actor'),
    GITHUB_WORKFLOW: s('workflow'),
    GITHUB_JOB: job.jobId,
    GITHUB_SERVER_URL: s('server_url'),
    GITHUB_API_URL: s('api_url'),
    GITHUB_OUTPUT: files.output,
    GITHUB_ENV: files.env,
    GITHUB_PATH: files.path,
    GITHUB_STATE: files.state,
    GITHUB_STEP_SUMMARY: files.summary,
    RUNNER_OS: 'Linux',
    RUNNER_ARCH: 'X64',
    RUNNER_NAME: 'droplet-deploy-local-runner',
    RUNNER_TEMP: ctx.runnerTemp,
    RUNNER_TOOL_CACHE: join(ctx.runnerTemp, 'tool-cache'),
    ...extra,
  };
}

function applyFileCommands(
  ctx: Ctx,
  job: JobState,
  files: StepFiles,
  outputs: Record<string, string>,
  state?: Record<string, string>,
): void {
  for (const [k, v] of parseKeyValueFile(readFileSync(files.output, 'utf8'), 'GITHUB_OUTPUT')) outputs[k] = v;
  for (const [k, v] of parseKeyValueFile(readFileSync(files.env, 'utf8'), 'GITHUB_ENV')) job.env[k] = v;
  for (const p of parsePathFile(readFileSync(files.path, 'utf8'))) job.path.unshift(p);
  if (state) for (const [k, v] of parseKeyValueFile(readFileSync(files.state, 'utf8'), 'GITHUB_STATE')) state[k] = v;
  const summary = readFileSync(files.summary, 'utf8');
  if (summary) job.summary += ctx.masker.apply(summary.endsWith('\n') ? summary : `${summary}\n`);
  rmSync(files.dir, { recursive: true, force: true });
}

function scopeFor(ctx: Ctx, job: JobState, env: Record<string, string>): EvalScope {
  const status: StatusView = { success: !job.failed, failure: job.failed, cancelled: false };
  return {
    contexts: { ...job.contexts, env, steps: job.steps, job: { status: job.failed ? 'failure' : 'success' } },
    status,
    workspace: ctx.workspace,
  };
}

function withPath(env: Record<string, string>, path: string[]): Record<string, string> {
  return path.length ? { ...env, PATH: [...path, env['PATH'] ?? ''].join(':') } : env;
}

interface RawStep {
  with?: TemplateToken;
  shell?: TemplateToken;
  'working-directory'?: TemplateToken;
  'timeout-minutes'?: TemplateToken;
}

interface PendingPost {
  meta: ActionMeta;
  stepId: string;
  stepName: string;
  inputsEnv: Record<string, string>;
  stepEnv: Record<string, string>;
  state: Record<string, string>;
}

function stepDisplayName(step: Step, index: number, scope: EvalScope): string {
  if (step.name) return evaluateString(step.name, scope);
  if ('uses' in step) return step.uses.value;
  if ('run' in step) {
    const first = String(step.run).split('\n')[0] ?? '';
    return `Run ${first.slice(0, 60)}`;
  }
  return `step ${index + 1}`;
}

async function runNodeEntry(
  ctx: Ctx,
  job: JobState,
  stepName: string,
  entry: string,
  env: Record<string, string>,
  timeoutMs: number | undefined,
): Promise<ProcessResult> {
  return spawnProcess(ctx, job, stepName, ctx.node, [entry], env, ctx.workspace, timeoutMs);
}

function inputEnv(
  meta: ActionMeta,
  withValues: Record<string, string>,
  scope: EvalScope,
  warn: (m: string) => void,
): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [name, def] of Object.entries(meta.inputs)) {
    if (def.default !== undefined) {
      // defaults may hold expressions (e.g. ${{ github.token }})
      const m = /^\$\{\{(.*)\}\}$/s.exec(def.default.trim());
      out[name] = m ? toRunnerString(evaluateExpression(m[1]!, scope)) : def.default;
    }
  }
  for (const [name, value] of Object.entries(withValues)) {
    if (!(name in meta.inputs))
      warn(`Unexpected input(s) '${name}', valid inputs are [${Object.keys(meta.inputs).join(', ')}]`);
    out[name] = value;
  }
  const env: Record<string, string> = {};
  for (const [name, value] of Object.entries(out)) env[`INPUT_${name.replace(/ /g, '_').toUpperCase()}`] = value;
  return env;
}

async function runSteps(
  ctx: Ctx,
  job: JobState,
  jobDef: Job,
  rawSteps: MappingToken[],
  defaults: { shell?: string; workingDirectory?: string },
): Promise<void> {
  const posts: PendingPost[] = [];
  const prefixLog = (stepName: string, line: string): void => emit(ctx, `[${job.jobId}/${stepName}]`, line);

  for (let i = 0; i < jobDef.steps.length; i++) {
    const step = jobDef.steps[i]!;
    const raw = rawSteps[i];
    const rawOf = (k: keyof RawStep): TemplateToken | undefined => (raw ? raw.find(k) : undefined);
    const started = Date.now();
    const scope0 = scopeFor(ctx, job, { ...job.env });
    const stepName = stepDisplayName(step, i, scope0);
    const explicitId = !step.id.startsWith('__');
    const record: StepRecord = {
      id: step.id,
      name: stepName,
      phase: 'main',
      outcome: 'success',
      conclusion: 'success',
      outputs: {},
      durationMs: 0,
    };
    job.records.push(record);
    if (!('run' in step) && !('uses' in step))
      throw new WorkflowParseError(`step "${stepName}": only run: and uses: steps are supported`);

    let run = false;
    try {
      run = evaluateCondition(step.if.expression, scope0);
    } catch (e) {
      record.error = (e as Error).message;
      prefixLog(stepName, `Error: ${record.error}`);
      record.outcome = record.conclusion = 'failure';
      job.failed = true;
    }
    if (record.error) continue;
    if (!run) {
      record.outcome = record.conclusion = 'skipped';
      job.steps[step.id] = { outputs: {}, outcome: 'skipped', conclusion: 'skipped' };
      prefixLog(stepName, `skipped (if: ${step.if.expression})`);
      continue;
    }
    prefixLog(stepName, `▶ ${stepName}`);

    let ok = true;
    const outputs: Record<string, string> = {};
    try {
      const stepEnvOnly = evaluateStringMap(step.env, scope0);
      const env = { ...job.env, ...stepEnvOnly };
      const scope = scopeFor(ctx, job, env);
      const timeoutToken = rawOf('timeout-minutes');
      const timeoutMs = timeoutToken ? Number(evaluateToken(timeoutToken, scope)) * 60_000 : undefined;
      const files = makeStepFiles(ctx);
      const procEnv = withPath({ ...baseEnv(ctx), ...env }, job.path);

      if ('run' in step) {
        const script = evaluateString(step.run, scope);
        const shell = (rawOf('shell') ? evaluateString(rawOf('shell'), scope) : defaults.shell) || 'bash';
        const wdRaw = rawOf('working-directory')
          ? evaluateString(rawOf('working-directory'), scope)
          : defaults.workingDirectory;
        const cwd = wdRaw ? (isAbsolute(wdRaw) ? wdRaw : resolve(ctx.workspace, wdRaw)) : ctx.workspace;
        const scriptFile = join(ctx.runnerTemp, `${randomUUID()}.sh`);
        writeFileSync(scriptFile, script);
        const [file, ...args] = shellCommand(shell, scriptFile);
        const r = await spawnProcess(
          ctx,
          job,
          stepName,
          file!,
          args,
          githubEnv(ctx, job, files, procEnv),
          cwd,
          timeoutMs,
        );
        rmSync(scriptFile, { force: true });
        if (r.code !== 0) {
          ok = false;
          record.error = r.timedOut
            ? `timed out after ${timeoutToken ? String(evaluateToken(timeoutToken, scope)) : '?'} minutes`
            : `Process completed with exit code ${r.code}.`;
          prefixLog(stepName, `Error: ${record.error}`);
        }
        applyFileCommands(ctx, job, files, outputs);
      } else {
        const uses = step.uses.value;
        const withValues = evaluateStringMap(rawOf('with'), scope);
        const own = resolveOwnAction(uses, ctx.actionRepo, ctx.workspace);
        if (own) {
          const meta = loadActionMeta(own);
          const inputs = inputEnv(meta, withValues, scope, (m) => prefixLog(stepName, `Warning: ${m}`));
          for (const [name, def] of Object.entries(meta.inputs)) {
            if (def.required && !(inputs[`INPUT_${name.replace(/ /g, '_').toUpperCase()}`] ?? '')) {
              prefixLog(stepName, `Warning: input "${name}" is required by ${meta.name} and has no value`);
            }
          }
          const actionEnv = {
            GITHUB_ACTION: step.id,
            GITHUB_ACTION_PATH: own,
            GITHUB_ACTION_REPOSITORY: uses.startsWith('./')
              ? ''
              : uses.replace(/@.*$/, '').split('/').slice(0, 2).join('/'),
            GITHUB_ACTION_REF: uses.includes('@') ? uses.replace(/^.*@/, '') : '',
          };
          const state: Record<string, string> = {};
          const r = await runNodeEntry(
            ctx,
            job,
            stepName,
            resolve(own, meta.runs.main),
            githubEnv(ctx, job, files, { ...procEnv, ...inputs, ...actionEnv }),
            timeoutMs,
          );
          applyFileCommands(ctx, job, files, outputs, state);
          if (r.code !== 0) {
            ok = false;
            record.error = r.timedOut ? 'timed out' : `${meta.name} exited with code ${r.code}`;
          }
          if (meta.runs.post)
            posts.push({
              meta,
              stepId: step.id,
              stepName,
              inputsEnv: { ...inputs, ...actionEnv },
              stepEnv: env,
              state,
            });
        } else {
          const eq = findThirdParty(uses, ctx.table);
          const allowed = new Set(eq.inputs);
          const unknown = Object.keys(withValues).filter((k) => !allowed.has(k));
          if (unknown.length)
            throw new Error(
              `${uses}: input(s) ${unknown.join(', ')} have no local equivalent (supported: ${eq.inputs.join(', ') || 'none'})`,
            );
          prefixLog(stepName, `(local equivalent) ${eq.local}`);
          const childEnv = githubEnv(ctx, job, files, procEnv);
          await eq.run({
            inputs: withValues,
            env: childEnv,
            workspace: ctx.workspace,
            repository: ctx.opts.repository,
            runnerTemp: ctx.runnerTemp,
            log: (l) => prefixLog(stepName, l),
            setOutput: (k, v) => appendFileSync(files.output, `${k}<<__EOF__\n${v}\n__EOF__\n`),
            addMask: (v) => ctx.masker.add(v),
            addPath: (d) => appendFileSync(files.path, `${d}\n`),
            exec: (file, args, o) =>
              execFileStreaming(file, args, {
                cwd: o?.cwd ?? ctx.workspace,
                env: { ...childEnv, ...(o?.env ?? {}) },
                stdin: o?.stdin,
                log: (l) => onOutputLine(ctx, job, stepName, {}, l),
              }),
          });
          applyFileCommands(ctx, job, files, outputs);
        }
      }
    } catch (e) {
      ok = false;
      record.error = (e as Error).message;
      prefixLog(stepName, `Error: ${record.error}`);
    }

    const coeToken = step['continue-on-error'];
    let continueOnError = false;
    if (typeof coeToken === 'boolean') continueOnError = coeToken;
    else if (coeToken)
      continueOnError = evaluateCondition(
        coeToken.isExpression ? (coeToken as unknown as { expression: string }).expression : String(coeToken),
        scope0,
      );
    record.outputs = outputs;
    record.outcome = ok ? 'success' : 'failure';
    record.conclusion = ok || continueOnError ? 'success' : 'failure';
    record.durationMs = Date.now() - started;
    if (!ok && !continueOnError) job.failed = true;
    job.steps[step.id] = { outputs, outcome: record.outcome, conclusion: record.conclusion };
    if (!explicitId) delete job.steps[step.id];
    prefixLog(
      stepName,
      `${ok ? '✓' : continueOnError ? '✗ (continue-on-error)' : '✗'} ${stepName} (${(record.durationMs / 1000).toFixed(1)} s)`,
    );
  }

  // post: steps in reverse order, each under its post-if (default always()).
  for (const p of posts.reverse()) {
    const started = Date.now();
    const name = `Post ${p.stepName}`;
    const record: StepRecord = {
      id: p.stepId,
      name,
      phase: 'post',
      outcome: 'success',
      conclusion: 'success',
      outputs: {},
      durationMs: 0,
    };
    job.records.push(record);
    const scope = scopeFor(ctx, job, p.stepEnv);
    const cond = p.meta.runs['post-if'] ?? 'always()';
    if (!evaluateCondition(cond.replace(/^\$\{\{(.*)\}\}$/s, '$1'), scope)) {
      record.outcome = record.conclusion = 'skipped';
      prefixLog(name, `skipped (post-if: ${cond})`);
      continue;
    }
    prefixLog(name, `▶ ${name}`);
    const files = makeStepFiles(ctx);
    const stateEnv: Record<string, string> = {};
    for (const [k, v] of Object.entries(p.state)) stateEnv[`STATE_${k}`] = v;
    const procEnv = withPath({ ...baseEnv(ctx), ...p.stepEnv }, job.path);
    const r = await runNodeEntry(
      ctx,
      job,
      name,
      resolve(p.meta.dir, p.meta.runs.post!),
      githubEnv(ctx, job, files, { ...procEnv, ...p.inputsEnv, ...stateEnv }),
      undefined,
    );
    applyFileCommands(ctx, job, files, {});
    record.durationMs = Date.now() - started;
    if (r.code !== 0) {
      record.outcome = record.conclusion = 'failure';
      record.error = `post exited with code ${r.code}`;
      job.failed = true;
    }
    prefixLog(name, `${r.code === 0 ? '✓' : '✗'} ${name}`);
  }
}

export function shellCommand(shell: string, scriptFile: string): string[] {
  switch (shell) {
    case 'bash':
      return ['bash', '--noprofile', '--norc', '-eo', 'pipefail', scriptFile];
    case 'sh':
      return ['sh', '-e', scriptFile];
    default: {
      if (!shell.includes('{0}'))
        throw new Error(`shell "${shell}" is not supported locally (bash, sh, or a command with {0})`);
      return shell.split(/\s+/).map((a) => (a === '{0}' ? scriptFile : a));
    }
  }
}

function workflowInputs(template: WorkflowTemplate, event: RunWorkflowOptions['event']): Record<string, Json> {
  const defs = template.events.workflow_dispatch?.inputs ?? template.events.workflow_call?.inputs ?? {};
  const given = event?.inputs ?? {};
  const out: Record<string, Json> = {};
  for (const [name, def] of Object.entries(defs)) {
    const v = given[name] ?? (def.default as string | boolean | number | undefined);
    if (v === undefined) {
      if (def.required) throw new Error(`workflow input "${name}" is required`);
      out[name] = def.type === 'boolean' ? false : '';
      continue;
    }
    if (def.type === 'boolean') out[name] = v === true || v === 'true';
    else if (def.type === 'choice') {
      if (def.options && !def.options.includes(String(v)))
        throw new Error(`workflow input "${name}": "${String(v)}" is not one of ${def.options.join(', ')}`);
      out[name] = String(v);
    } else out[name] = typeof v === 'number' ? v : String(v);
  }
  for (const k of Object.keys(given)) if (!(k in defs)) throw new Error(`workflow has no input "${k}"`);
  return out;
}

/** Runs a workflow locally. Resolves with the run record; rejects only on parse/config errors. */
export async function runWorkflow(opts: RunWorkflowOptions): Promise<WorkflowRun> {
  const started = Date.now();
  const content = opts.content ?? readFileSync(opts.workflowPath!, 'utf8');
  const fileName = opts.name ?? opts.workflowPath ?? 'workflow.yml';
  const { template, root } = await loadWorkflow(fileName, content);
  const workflowName =
    toRunnerString(
      evaluateToken(find(root, 'name'), {
        contexts: {},
        status: { success: true, failure: false, cancelled: false },
        workspace: '.',
      }),
    ) || fileName;
  const eventName = opts.event?.name ?? Object.keys(template.events)[0] ?? 'workflow_dispatch';
  if (!(eventName in template.events))
    throw new Error(`${fileName} is not triggered by "${eventName}" (on: ${Object.keys(template.events).join(', ')})`);

  const ownWorkspace = !opts.workspace;
  const workspace = opts.workspace ?? mkdtempSync(join(tmpdir(), 'ddwf-ws-'));
  mkdirSync(workspace, { recursive: true });
  const runnerTemp = mkdtempSync(join(tmpdir(), 'ddwf-tmp-'));
  const masker = new Masker();
  for (const v of Object.values(opts.secrets ?? {})) masker.add(v);
  const ctx: Ctx = {
    opts,
    masker,
    log: [],
    annotations: [],
    sink: opts.onLog ?? ((l) => process.stdout.write(`${l}\n`)),
    actionRepo: opts.actionRepo ?? REPO_ROOT,
    workspace,
    runnerTemp,
    node: opts.node ?? process.execPath,
    table: opts.thirdParty ?? THIRD_PARTY,
  };

  const inputs = workflowInputs(template, opts.event);
  const runId = String(opts.github?.['run_id'] ?? Math.floor(Date.now() / 1000));
  const repository = String(opts.github?.['repository'] ?? 'OWNER/app');
  const ref = String(opts.github?.['ref'] ?? 'refs/heads/main');
  const eventPayload: Record<string, Json> = {
    ...(opts.event?.payload ?? {}),
    ...(eventName === 'workflow_dispatch' ? { inputs } : {}),
  };
  writeFileSync(join(runnerTemp, 'event.json'), JSON.stringify(eventPayload));
  const github: Record<string, Json> = {
    event_name: eventName,
    event: eventPayload,
    sha: '0000000000000000000000000000000000000000',
    ref,
    ref_name: ref.replace(/^refs\/(heads|tags)\//, ''),
    ref_type: ref.startsWith('refs/tags/') ? 'tag' : 'branch',
    repository,
    repository_owner: repository.split('/')[0]!,
    run_id: runId,
    run_number: '1',
    run_attempt: '1',
    actor: 'local-runner',
    triggering_actor: 'local-runner',
    workflow: workflowName,
    server_url: 'https://github.com',
    api_url: 'https://api.github.com',
    graphql_url: 'https://api.github.com/graphql',
    token: '',
    workspace,
    action: '',
    head_ref: '',
    base_ref: '',
    ...(opts.github ?? {}),
  };
  const baseContexts: EvalScope['contexts'] = {
    github,
    inputs,
    secrets: { GITHUB_TOKEN: String(github['token'] ?? ''), ...(opts.secrets ?? {}) },
    vars: opts.vars ?? {},
    runner: {
      os: 'Linux',
      arch: 'X64',
      name: 'droplet-deploy-local-runner',
      temp: runnerTemp,
      tool_cache: join(runnerTemp, 'tool-cache'),
    },
  };
  const topScope: EvalScope = {
    contexts: { ...baseContexts, env: {} },
    status: { success: true, failure: false, cancelled: false },
    workspace,
  };
  const workflowEnv = evaluateStringMap(template.env, topScope);
  const concurrency = template.concurrency
    ? concurrencyGroup(
        evaluateToken(template.concurrency, { ...topScope, contexts: { ...topScope.contexts, env: workflowEnv } }),
      )
    : undefined;

  const rawJobs = find(root, 'jobs');
  const wfDefaults = find(find(root, 'defaults'), 'run');
  const jobs: Record<string, JobRecord> = {};
  const order: string[] = [];
  try {
    for (const wj of topoOrder(template.jobs.filter((j): j is Job => j.type === 'job' || fail(j.id.value)))) {
      const id = wj.id.value;
      const rawJob = find(rawJobs, id);
      if (opts.jobs && !opts.jobs.includes(id)) continue;
      for (const unsupported of ['container', 'services']) {
        if (find(rawJob, unsupported))
          throw new Error(`job "${id}": \`${unsupported}:\` is not supported by the local runner`);
      }
      order.push(id);
      const jobStarted = Date.now();
      const needs: Record<string, Json> = {};
      for (const n of wj.needs ?? [])
        needs[n.value] = { result: jobs[n.value]?.result ?? 'skipped', outputs: jobs[n.value]?.outputs ?? {} };
      const needResults = (wj.needs ?? []).map((n) => jobs[n.value]?.result ?? 'skipped');
      const jobStatus: StatusView = {
        success: needResults.every((r) => r === 'success'),
        failure: needResults.some((r) => r === 'failure'),
        cancelled: false,
      };
      const jobScopeBase: EvalScope = {
        contexts: { ...baseContexts, needs, env: workflowEnv },
        status: jobStatus,
        workspace,
      };
      const record: JobRecord = { id, result: 'success', outputs: {}, steps: [], summary: '', durationMs: 0 };
      jobs[id] = record;
      if (!evaluateCondition(wj.if.expression, jobScopeBase)) {
        record.result = 'skipped';
        emit(ctx, `[${id}]`, `job skipped (if: ${wj.if.expression})`);
        continue;
      }
      const combos = matrixCombinations(wj.strategy ? evaluateToken(wj.strategy, jobScopeBase) : null);
      if (combos.length > 1) emit(ctx, `[${id}]`, `matrix: ${combos.length} combinations, run one after another`);
      let anyFailed = false;
      for (const matrix of combos) {
        const scopeM: EvalScope = {
          ...jobScopeBase,
          contexts: { ...jobScopeBase.contexts, matrix, strategy: { 'job-total': combos.length } },
        };
        const jobEnv = { ...workflowEnv, ...evaluateStringMap(wj.env, scopeM) };
        const envName = wj.environment
          ? evaluateToken(wj.environment, { ...scopeM, contexts: { ...scopeM.contexts, env: jobEnv } })
          : undefined;
        record.environment =
          envName === undefined || envName === null
            ? undefined
            : typeof envName === 'object' && !Array.isArray(envName)
              ? toRunnerString(envName['name'] ?? null)
              : toRunnerString(envName);
        if (wj.concurrency) record.concurrency = concurrencyGroup(evaluateToken(wj.concurrency, scopeM));
        const state: JobState = {
          jobId: id,
          env: jobEnv,
          path: [],
          steps: {},
          failed: false,
          summary: '',
          contexts: scopeM.contexts,
          records: record.steps,
        };
        emit(
          ctx,
          `[${id}]`,
          `job ${id}${Object.keys(matrix).length ? ` ${JSON.stringify(matrix)}` : ''}${record.environment ? ` (environment: ${record.environment})` : ''}`,
        );
        const rawStepsToken = find(rawJob, 'steps');
        const rawSteps = rawStepsToken && isSequence(rawStepsToken) ? ([...rawStepsToken] as MappingToken[]) : [];
        const jobDefaults = find(find(rawJob, 'defaults'), 'run');
        const defScope = { ...scopeM, contexts: { ...scopeM.contexts, env: jobEnv } };
        const defaults = {
          shell: evaluateString(find(jobDefaults, 'shell') ?? find(wfDefaults, 'shell'), defScope) || undefined,
          workingDirectory:
            evaluateString(find(jobDefaults, 'working-directory') ?? find(wfDefaults, 'working-directory'), defScope) ||
            undefined,
        };
        await runSteps(ctx, state, wj, rawSteps, defaults);
        record.summary += state.summary;
        const outScope = scopeFor(ctx, state, state.env);
        try {
          for (const [k, v] of Object.entries(evaluateStringMap(wj.outputs, outScope))) record.outputs[k] = v;
        } catch (e) {
          emit(ctx, `[${id}]`, `Error: job outputs: ${(e as Error).message}`);
          state.failed = true;
        }
        if (state.failed) anyFailed = true;
      }
      const coe = find(rawJob, 'continue-on-error');
      const jobContinue = coe
        ? evaluateCondition(
            coe.isExpression
              ? (coe as unknown as { expression: string }).expression
              : String(evaluateToken(coe, jobScopeBase)),
            jobScopeBase,
          )
        : false;
      record.result = anyFailed && !jobContinue ? 'failure' : 'success';
      record.durationMs = Date.now() - jobStarted;
      emit(ctx, `[${id}]`, `job ${id}: ${record.result} (${(record.durationMs / 1000).toFixed(1)} s)`);
    }
  } finally {
    rmSync(runnerTemp, { recursive: true, force: true });
    if (ownWorkspace) rmSync(workspace, { recursive: true, force: true });
  }
  const conclusion = Object.values(jobs).some((j) => j.result === 'failure') ? 'failure' : 'success';
  return {
    name: workflowName,
    conclusion,
    jobs,
    order,
    concurrency,
    log: ctx.log,
    annotations: ctx.annotations,
    durationMs: Date.now() - started,
  };
}

function concurrencyGroup(v: Json): string | undefined {
  if (v === null) return undefined;
  if (typeof v === 'object' && !Array.isArray(v)) return toRunnerString(v['group'] ?? null);
  return toRunnerString(v);
}

function fail(jobId: string): never {
  throw new Error(`job "${jobId}": reusable workflow jobs are not supported by the local runner`);
}
