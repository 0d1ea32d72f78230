// `${{ }}` evaluation with GitHub's own @actions/expressions (lexer, parser, evaluator), and
// template tokens from @actions/workflow-parser turned into plain values.
import { createHash } from 'node:crypto';
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join, relative, sep } from 'node:path';
import { data, Evaluator, Lexer, Parser } from '@actions/expressions';
import { TokenType } from '@actions/expressions/lexer';
import type { FunctionDefinition } from '@actions/expressions/funcs/info';
import type { TemplateToken } from '@actions/workflow-parser/templates/tokens/index';
import { isBasicExpression, isBoolean, isMapping, isNumber, isSequence, isString } from '@actions/workflow-parser';

export type Json = null | boolean | number | string | Json[] | { [k: string]: Json };

export const CONTEXT_NAMES = [
  'github',
  'inputs',
  'secrets',
  'vars',
  'env',
  'steps',
  'needs',
  'matrix',
  'strategy',
  'job',
  'jobs',
  'runner',
] as const;

/**
 * What success()/failure()/cancelled() answer where the expression is evaluated: for a step,
 * the job's status so far; for a job, the results of the jobs it needs.
 */
export interface StatusView {
  success: boolean;
  failure: boolean;
  cancelled: boolean;
}

export interface EvalScope {
  contexts: Partial<Record<(typeof CONTEXT_NAMES)[number], Json>>;
  status: StatusView;
  /** root for hashFiles() */
  workspace: string;
}

export function toExpressionData(value: Json | undefined): data.ExpressionData {
  return JSON.parse(JSON.stringify(value ?? null), data.reviver) as data.ExpressionData;
}

export function fromExpressionData(value: data.ExpressionData): Json {
  return JSON.parse(JSON.stringify(value, data.replacer)) as Json;
}

/** Converts a glob with `*`, `**` and `?` (as hashFiles accepts) to a RegExp over `/` paths. */
export function globToRegExp(glob: string): RegExp {
  let re = '';
  for (let i = 0; i < glob.length; i++) {
    const c = glob[i]!;
    if (c === '*') {
      if (glob[i + 1] === '*') {
        const slash = glob[i + 2] === '/';
        re += slash ? '(?:.*/)?' : '.*';
        i += slash ? 2 : 1;
      } else re += '[^/]*';
    } else if (c === '?') re += '[^/]';
    else re += c.replace(/[.+^${}()|[\]\\]/g, '\\$&');
  }
  return new RegExp(`^${re}$`);
}

function listFiles(root: string): string[] {
  const out: string[] = [];
  const walk = (dir: string): void => {
    for (const name of readdirSync(dir)) {
      if (name === '.git' || name === 'node_modules') continue;
      const p = join(dir, name);
      const st = statSync(p);
      if (st.isDirectory()) walk(p);
      else if (st.isFile()) out.push(relative(root, p).split(sep).join('/'));
    }
  };
  walk(root);
  return out.sort();
}

/**
 * hashFiles(patterns…) as the runner computes it: the SHA-256 of the concatenated SHA-256
 * digests of every matching file under the workspace, in path order; '' when nothing matches.
 * Patterns starting with `!` exclude.
 */
export function hashFiles(workspace: string, patterns: string[]): string {
  const include = patterns.filter((p) => !p.startsWith('!')).map(globToRegExp);
  const exclude = patterns.filter((p) => p.startsWith('!')).map((p) => globToRegExp(p.slice(1)));
  const files = listFiles(workspace).filter((f) => include.some((r) => r.test(f)) && !exclude.some((r) => r.test(f)));
  if (files.length === 0) return '';
  const outer = createHash('sha256');
  for (const f of files)
    outer.update(
      createHash('sha256')
        .update(readFileSync(join(workspace, f)))
        .digest(),
    );
  return outer.digest('hex');
}

function functions(scope: EvalScope): Map<string, FunctionDefinition> {
  const fn = (
    name: string,
    minArgs: number,
    maxArgs: number,
    call: FunctionDefinition['call'],
  ): [string, FunctionDefinition] => [name, { name, minArgs, maxArgs, call }];
  return new Map([
    fn('success', 0, 0, () => new data.BooleanData(scope.status.success && !scope.status.cancelled)),
    fn('failure', 0, 0, () => new data.BooleanData(scope.status.failure && !scope.status.cancelled)),
    fn('always', 0, 0, () => new data.BooleanData(true)),
    fn('cancelled', 0, 0, () => new data.BooleanData(scope.status.cancelled)),
    fn(
      'hashfiles',
      1,
      255,
      (...args) =>
        new data.StringData(
          hashFiles(
            scope.workspace,
            args.map((a) => a.coerceString()),
          ),
        ),
    ),
  ]);
}

export class ExpressionEvaluationFailed extends Error {}

/** Evaluates one expression (without the `${{ }}`), returning GitHub's expression data. */
export function evaluateExpressionData(expression: string, scope: EvalScope): data.ExpressionData {
  const fns = functions(scope);
  try {
    const lexed = new Lexer(expression).lex();
    // @actions/expressions 0.3.61's lexer unescapes only the FIRST '' in a string literal
    // (`value.replace("''", "'")`); the runner unescapes all of them. The parser turns every `'`
    // of a `run:` script with `${{ }}` into `''` inside format('…'), so this matters: re-derive
    // string values from their lexemes.
    for (const t of lexed.tokens) {
      if (t.type === TokenType.STRING && t.lexeme.length >= 2) t.value = t.lexeme.slice(1, -1).replaceAll("''", "'");
    }
    const ast = new Parser(
      lexed.tokens,
      [...CONTEXT_NAMES],
      [...fns.values()].map(({ name, minArgs, maxArgs }) => ({ name, minArgs, maxArgs })),
    ).parse();
    const context = new data.Dictionary(
      ...CONTEXT_NAMES.map((key) => ({ key, value: toExpressionData(scope.contexts[key] ?? {}) })),
    );
    return new Evaluator(ast, context, fns).evaluate();
  } catch (e) {
    throw new ExpressionEvaluationFailed(`expression "${expression}": ${(e as Error).message}`);
  }
}

export function evaluateExpression(expression: string, scope: EvalScope): Json {
  return fromExpressionData(evaluateExpressionData(expression, scope));
}

/** Truthiness as the runner decides `if:` (false, 0, -0, '', null are falsy). */
export function evaluateCondition(expression: string, scope: EvalScope): boolean {
  const v = evaluateExpressionData(expression, scope);
  switch (v.kind) {
    case data.Kind.Null:
      return false;
    case data.Kind.Boolean:
      return (v as data.BooleanData).value;
    case data.Kind.Number:
      return v.number() !== 0 && !Number.isNaN(v.number());
    case data.Kind.String:
      return v.coerceString() !== '';
    default:
      return true;
  }
}

/** Evaluates a template token into a plain value (mappings → objects, sequences → arrays). */
export function evaluateToken(token: TemplateToken | undefined, scope: EvalScope): Json {
  if (!token) return null;
  if (isBasicExpression(token)) return evaluateExpression(token.expression, scope);
  if (isString(token)) return token.value;
  if (isNumber(token)) return token.value;
  if (isBoolean(token)) return token.value;
  if (isSequence(token)) return [...token].map((t) => evaluateToken(t, scope));
  if (isMapping(token)) {
    const o: Record<string, Json> = {};
    for (const { key, value } of token) o[String(evaluateToken(key, scope))] = evaluateToken(value, scope);
    return o;
  }
  if (token.isExpression)
    throw new ExpressionEvaluationFailed(`unsupported expression token at line ${token.line}: ${String(token)}`);
  return null;
}

/** A scalar token as the string the runner would hand to a step (inputs, env, run script). */
export function evaluateString(token: TemplateToken | undefined, scope: EvalScope): string {
  if (!token) return '';
  if (isBasicExpression(token)) return evaluateExpressionData(token.expression, scope).coerceString();
  return toRunnerString(evaluateToken(token, scope));
}

export function toRunnerString(v: Json): string {
  if (v === null) return '';
  if (typeof v === 'string') return v;
  if (typeof v === 'boolean' || typeof v === 'number') return String(v);
  return JSON.stringify(v, null, 2);
}

/** Evaluates a mapping of strings (env:, with:, outputs:) into a record of strings. */
export function evaluateStringMap(token: TemplateToken | undefined, scope: EvalScope): Record<string, string> {
  const out: Record<string, string> = {};
  if (!token) return out;
  if (!isMapping(token)) {
    const v = evaluateToken(token, scope);
    if (v && typeof v === 'object' && !Array.isArray(v)) {
      for (const [k, val] of Object.entries(v)) out[k] = toRunnerString(val);
      return out;
    }
    throw new ExpressionEvaluationFailed(`expected a mapping at line ${token.line}`);
  }
  for (const { key, value } of token) out[String(evaluateToken(key, scope))] = evaluateString(value, scope);
  return out;
}
