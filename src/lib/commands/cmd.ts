import { quote } from 'shell-quote';

// Remote commands as data. Builders return Scripts; render() is the ONE place a Script
// becomes a shell string, and the only caller of the quoting library. Sensitive values
// render as themselves for execution and as [REDACTED] for logs.

export class Sensitive {
  constructor(readonly value: string) {}
  toString(): string {
    return REDACTED;
  }
  toJSON(): string {
    return REDACTED;
  }
}

export const REDACTED = '[REDACTED]';

export function sensitive(value: string): Sensitive {
  return new Sensitive(value);
}

/** A Script nested as one argument (`sh -c <script>`): rendered, then quoted; redaction kept. */
export class Nested {
  constructor(readonly script: Script) {}
}

export type Arg = string | Sensitive | Nested;

/** A single command: program and arguments, each quoted on render. */
export interface Cmd {
  readonly kind: 'cmd';
  readonly argv: readonly Arg[];
}

type Operator = '&&' | '||' | '|' | ';';

export interface Chain {
  readonly kind: 'chain';
  readonly op: Operator;
  readonly parts: readonly Script[];
}

/** Redirection of a script's stream to/from a path (path quoted) or to another fd. */
export interface Redirect {
  readonly kind: 'redirect';
  readonly script: Script;
  readonly op: '>' | '>>' | '<' | '2>' | '2>&1';
  readonly target?: Arg;
}

/** An environment assignment prefix: NAME=value cmd (names are validated, values quoted). */
export interface WithEnv {
  readonly kind: 'env';
  readonly vars: readonly (readonly [string, Arg])[];
  readonly script: Cmd;
}

export type Script = Cmd | Chain | Redirect | WithEnv;

export function cmd(...argv: (Arg | readonly Arg[] | false | undefined | null)[]): Cmd {
  const flat: Arg[] = [];
  for (const a of argv) {
    if (a === false || a === undefined || a === null) continue;
    if (isArgList(a)) flat.push(...a);
    else flat.push(a);
  }
  if (flat.length === 0) throw new Error('cmd() needs a program');
  return { kind: 'cmd', argv: flat };
}

function isArgList(a: Arg | readonly Arg[]): a is readonly Arg[] {
  return Array.isArray(a);
}

function chain(op: Operator, parts: Script[]): Script {
  if (parts.length === 0) throw new Error(`${op} needs at least one command`);
  if (parts.length === 1) return parts[0] as Script;
  return { kind: 'chain', op, parts };
}

export const and = (...parts: Script[]): Script => chain('&&', parts);
export const or = (...parts: Script[]): Script => chain('||', parts);
export const pipe = (...parts: Script[]): Script => chain('|', parts);
export const seq = (...parts: Script[]): Script => chain(';', parts);

export function redirect(script: Script, op: Redirect['op'], target?: Arg): Redirect {
  if (op !== '2>&1' && target === undefined) throw new Error(`redirect ${op} needs a target`);
  return { kind: 'redirect', script, op, ...(target === undefined ? {} : { target }) };
}

/** Discards a script's stdout and stderr. */
export function quiet(script: Script): Script {
  return redirect(redirect(script, '>', '/dev/null'), '2>&1');
}

export function withEnv(vars: Record<string, Arg>, script: Cmd): WithEnv {
  for (const name of Object.keys(vars)) {
    if (!/^[A-Za-z_][A-Za-z0-9_]*$/.test(name))
      throw new Error(`invalid environment variable name ${JSON.stringify(name)}`);
  }
  return { kind: 'env', vars: Object.entries(vars), script };
}

/** `sh -c '<script>'`: run a composed script where a single argv is expected (e.g. docker exec). */
export function sh(script: Script): Cmd {
  return cmd('sh', '-c', new Nested(script));
}

export type RenderMode = 'exec' | 'log';

function renderArg(arg: Arg, mode: RenderMode): string {
  if (arg instanceof Nested) return quoteOne(render(arg.script, mode));
  if (arg instanceof Sensitive) return mode === 'log' ? REDACTED : quoteOne(arg.value);
  return quoteOne(arg);
}

function quoteOne(value: string): string {
  if (value === '') return "''";
  return quote([value]);
}

function renderPart(script: Script, parentOp: Operator | undefined, mode: RenderMode): string {
  const text = render(script, mode);
  // Group nested chains so operator precedence is what the data says.
  if (script.kind === 'chain' && parentOp !== undefined && script.op !== parentOp) return `{ ${text}; }`;
  if (script.kind === 'redirect' && parentOp !== undefined) return `{ ${text}; }`;
  return text;
}

/**
 * Renders a Script to a shell string. mode 'exec' for running, 'log' for printing
 * (sensitive values replaced by [REDACTED]).
 */
export function render(script: Script, mode: RenderMode = 'exec'): string {
  switch (script.kind) {
    case 'cmd':
      return script.argv.map((a) => renderArg(a, mode)).join(' ');
    case 'chain':
      return script.parts.map((p) => renderPart(p, script.op, mode)).join(` ${script.op} `);
    case 'redirect': {
      const inner =
        script.script.kind === 'cmd' || script.script.kind === 'redirect' || script.script.kind === 'env'
          ? render(script.script, mode)
          : `{ ${render(script.script, mode)}; }`;
      if (script.op === '2>&1') return `${inner} 2>&1`;
      return `${inner} ${script.op} ${renderArg(script.target as Arg, mode)}`;
    }
    case 'env': {
      const assigns = script.vars.map(([name, value]) => `${name}=${renderArg(value, mode)}`).join(' ');
      return `${assigns} ${render(script.script, mode)}`;
    }
  }
}

/** True when any argument anywhere in the script is sensitive (callers may then avoid logging it). */
export function hasSensitive(script: Script): boolean {
  switch (script.kind) {
    case 'cmd':
      return script.argv.some((a) => a instanceof Sensitive || (a instanceof Nested && hasSensitive(a.script)));
    case 'chain':
      return script.parts.some(hasSensitive);
    case 'redirect':
      return hasSensitive(script.script) || script.target instanceof Sensitive;
    case 'env':
      return script.vars.some(([, v]) => v instanceof Sensitive) || hasSensitive(script.script);
  }
}
