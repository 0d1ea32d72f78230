// Check definitions: the `checks` input (a YAML or JSON list) and the `url`/`expect-status`
// shorthand become typed CheckDefinitions. Everything is validated here, before any
// request: a bad definition is a ConfigurationError naming the field,
// e.g. `checks[2].expect-status has "2xx,abc": "abc" is not a status code or range`.

import { parse as parseYaml } from 'yaml';

import { ConfigurationError } from '../action/errors.js';
import { formatDuration, parseDuration } from '../action/parsers.js';
import { type HttpExpectations, type JsonExpectation, parseJsonPath } from './expect.js';
import { parseStatusSpec, StatusSpecError } from './status.js';

export type CheckKind = 'http' | 'tcp' | 'container';
export const CHECK_KINDS: readonly CheckKind[] = ['http', 'tcp', 'container'];
export const HTTP_METHODS = ['GET', 'HEAD', 'POST', 'PUT', 'PATCH', 'DELETE', 'OPTIONS'] as const;
export type HttpMethod = (typeof HTTP_METHODS)[number];

/** Poll settings every check has; each falls back to the action-wide value. */
export interface PollSettings {
  intervalMs: number;
  successes: number;
  /** This check's deadline (never later than the overall one). */
  timeoutMs: number;
  startDelayMs: number;
  /** p95 of the passing attempts must be at or under this. */
  latencyBudgetMs?: number;
}

interface BaseDefinition {
  /** Where in the input it came from: `checks[2]` or `url`. */
  where: string;
  name: string;
  poll: PollSettings;
}

export interface HttpDefinition extends BaseDefinition {
  kind: 'http';
  /** `runner`: from the GitHub runner; `droplet`: curl on each droplet over SSH. */
  via: 'runner' | 'droplet';
  url: string;
  method: HttpMethod;
  headers: Record<string, string>;
  /** Lower-cased names of headers whose values are secrets. */
  secretHeaders: string[];
  body?: string;
  expect: HttpExpectations;
  followRedirects: boolean;
  maxRedirects: number;
  attemptTimeoutMs: number;
  tlsVerify: boolean;
}

export interface TcpDefinition extends BaseDefinition {
  kind: 'tcp';
  host: string;
  port: number;
  attemptTimeoutMs: number;
}

export interface ContainerDefinition extends BaseDefinition {
  kind: 'container';
  /** Compose project (the app name). */
  app: string;
  /** Services to check; empty = every service of the project. */
  services: string[];
  require: 'healthy' | 'running';
  logLines: number;
}

export type CheckDefinition = HttpDefinition | TcpDefinition | ContainerDefinition;

export interface DefinitionDefaults {
  intervalMs: number;
  successes: number;
  timeoutMs: number;
  startDelayMs: number;
  latencyBudgetMs?: number;
  /** Default for container checks (input `app`). */
  app?: string;
}

/** Header names treated as secret without being listed in `secret-headers`. */
const SECRET_HEADER = /^(authorization|proxy-authorization|cookie|x-api-key)$|token|secret|password|api-?key|auth/i;

const COMMON_FIELDS = ['name', 'kind', 'interval', 'successes', 'timeout', 'start-delay'];
const FIELDS: Record<CheckKind, string[]> = {
  http: [
    ...COMMON_FIELDS,
    'latency-budget',
    'via',
    'url',
    'method',
    'headers',
    'secret-headers',
    'body',
    'expect-status',
    'contains',
    'regex',
    'json',
    'follow-redirects',
    'max-redirects',
    'attempt-timeout',
    'tls-verify',
    'cert-min-days',
  ],
  tcp: [...COMMON_FIELDS, 'latency-budget', 'host', 'port', 'address', 'attempt-timeout'],
  container: [...COMMON_FIELDS, 'app', 'services', 'require', 'log-lines'],
};

class Fields {
  constructor(
    readonly where: string,
    private readonly obj: Record<string, unknown>,
  ) {}

  fail(field: string, value: unknown, reason: string): ConfigurationError {
    const shown = typeof value === 'string' ? JSON.stringify(value) : (JSON.stringify(value) ?? String(value));
    return new ConfigurationError(`${this.where}.${field} has ${shown}: ${reason}`);
  }

  has(field: string): boolean {
    return this.obj[field] !== undefined && this.obj[field] !== null;
  }

  raw(field: string): unknown {
    return this.obj[field];
  }

  string(field: string): string | undefined {
    const v = this.obj[field];
    if (v === undefined || v === null) return undefined;
    if (typeof v === 'string') return v;
    if (typeof v === 'number' || typeof v === 'boolean') return String(v);
    throw this.fail(field, v, 'expected a string');
  }

  required(field: string, why: string): string {
    const v = this.string(field);
    if (v === undefined || v.trim() === '') throw new ConfigurationError(`${this.where}.${field} is required ${why}`);
    return v.trim();
  }

  bool(field: string, fallback: boolean): boolean {
    const v = this.obj[field];
    if (v === undefined || v === null) return fallback;
    if (typeof v === 'boolean') return v;
    if (v === 'true') return true;
    if (v === 'false') return false;
    throw this.fail(field, v, 'expected true or false');
  }

  int(field: string, fallback: number, min: number, max = Number.MAX_SAFE_INTEGER): number {
    const v = this.obj[field];
    if (v === undefined || v === null) return fallback;
    const n = typeof v === 'number' ? v : typeof v === 'string' && /^[-+]?\d+$/.test(v.trim()) ? Number(v) : NaN;
    if (!Number.isInteger(n)) throw this.fail(field, v, 'expected a whole number');
    if (n < min) throw this.fail(field, v, `must be at least ${min}`);
    if (n > max) throw this.fail(field, v, `must be at most ${max}`);
    return n;
  }

  /** Durations as `5s`, `2m`, `250ms` or a number of seconds; negative values named as such. */
  duration(field: string, fallback: number, minMs = 0): number {
    const v = this.obj[field];
    if (v === undefined || v === null) return fallback;
    const text = typeof v === 'number' ? String(v) : typeof v === 'string' ? v.trim() : undefined;
    if (text === undefined) throw this.fail(field, v, 'expected a duration such as 5s, 2m or 250ms');
    if (text.startsWith('-')) throw this.fail(field, v, 'must not be negative');
    let ms: number;
    try {
      ms = parseDuration(field, text);
    } catch {
      throw this.fail(field, v, 'expected a duration such as 5s, 2m, 250ms or a number of seconds');
    }
    if (ms < minMs) throw this.fail(field, v, `must be at least ${formatDuration(minMs)}`);
    return ms;
  }

  stringList(field: string): string[] {
    const v = this.obj[field];
    if (v === undefined || v === null) return [];
    if (typeof v === 'string') return [v];
    if (Array.isArray(v) && v.every((x) => typeof x === 'string' || typeof x === 'number'))
      return v.map((x) => String(x));
    throw this.fail(field, v, 'expected a string or a list of strings');
  }

  enumOf<T extends string>(field: string, allowed: readonly T[], fallback: T): T {
    const v = this.string(field);
    if (v === undefined) return fallback;
    const found = allowed.find((a) => a.toLowerCase() === v.trim().toLowerCase());
    if (!found) throw this.fail(field, v, `expected one of ${allowed.join(', ')}`);
    return found;
  }
}

/**
 * Poll settings of one check. A container check has no latency budget: its "latency" is
 * an SSH round trip to `docker inspect`, not the app's response time.
 */
function pollSettings(f: Fields, defaults: DefinitionDefaults, withLatency = true): PollSettings {
  const timeoutMs = Math.min(f.duration('timeout', defaults.timeoutMs, 1), defaults.timeoutMs);
  const latency = !withLatency
    ? undefined
    : f.has('latency-budget')
      ? f.duration('latency-budget', 0, 1)
      : defaults.latencyBudgetMs;
  return {
    intervalMs: f.duration('interval', defaults.intervalMs),
    successes: f.int('successes', defaults.successes, 1, 1000),
    timeoutMs,
    startDelayMs: f.duration('start-delay', defaults.startDelayMs),
    ...(latency !== undefined ? { latencyBudgetMs: latency } : {}),
  };
}

/** `{host}` in a URL or tcp host: replaced by each droplet's address (input host/hosts). */
export const HOST_PLACEHOLDER = '{host}';

/** Replaces `{host}` with an address (IPv6 addresses bracketed when `inUrl`). */
export function fillHost(text: string, address: string, inUrl = true): string {
  const a = inUrl && address.includes(':') && !address.startsWith('[') ? `[${address}]` : address;
  return text.split(HOST_PLACEHOLDER).join(a);
}

/** Whether a definition is a template run once per droplet address. */
export function usesHostPlaceholder(def: CheckDefinition): boolean {
  if (def.kind === 'http') return def.url.includes(HOST_PLACEHOLDER);
  if (def.kind === 'tcp') return def.host === HOST_PLACEHOLDER;
  return false;
}

/** A URL for display: password replaced. */
export function displayUrl(url: string): string {
  try {
    const u = new URL(url.split(HOST_PLACEHOLDER).join('placeholder.invalid'));
    if (u.password) u.password = '***';
    return u.toString().split('placeholder.invalid').join(HOST_PLACEHOLDER);
  } catch {
    return url;
  }
}

function expectStatus(f: Fields, field: string): HttpExpectations['status'] {
  const v = f.raw(field);
  if (v === undefined || v === null) return parseStatusSpec('200-299');
  if (!(typeof v === 'string' || typeof v === 'number' || Array.isArray(v)))
    throw f.fail(field, v, 'expected status codes such as 200,204,3xx');
  try {
    return parseStatusSpec(v as string | number | (string | number)[]);
  } catch (error) {
    if (error instanceof StatusSpecError) {
      const shown = Array.isArray(v) ? v.join(',') : String(v);
      throw f.fail(field, shown, error.message);
    }
    throw error;
  }
}

function httpDefinition(f: Fields, defaults: DefinitionDefaults): HttpDefinition {
  const url = f.required('url', 'for an http check');
  let parsed: URL;
  try {
    parsed = new URL(fillHost(url, '127.0.0.1'));
  } catch {
    throw f.fail('url', displayUrl(url), 'not a valid URL');
  }
  if (parsed.protocol !== 'http:' && parsed.protocol !== 'https:')
    throw f.fail('url', displayUrl(url), 'URL must use http or https');

  const headersRaw = f.raw('headers');
  const headers: Record<string, string> = {};
  if (headersRaw !== undefined && headersRaw !== null) {
    if (typeof headersRaw !== 'object' || Array.isArray(headersRaw))
      throw new ConfigurationError(`${f.where}.headers must be a map of header name to value`);
    for (const [name, value] of Object.entries(headersRaw as Record<string, unknown>)) {
      if (!/^[!#$%&'*+.^_`|~0-9A-Za-z-]+$/.test(name))
        throw new ConfigurationError(`${f.where}.headers has ${JSON.stringify(name)}: not a valid header name`);
      if (typeof value !== 'string' && typeof value !== 'number')
        throw new ConfigurationError(`${f.where}.headers.${name} must be a string`);
      const text = String(value);
      if (/[\r\n]/.test(text))
        throw new ConfigurationError(`${f.where}.headers.${name} must be a single line (value hidden)`);
      headers[name] = text;
    }
  }
  const listed = f.stringList('secret-headers').map((h) => h.toLowerCase());
  const secretHeaders = Object.keys(headers)
    .map((h) => h.toLowerCase())
    .filter((h) => listed.includes(h) || SECRET_HEADER.test(h));

  let body: string | undefined;
  const bodyRaw = f.raw('body');
  if (bodyRaw !== undefined && bodyRaw !== null) body = typeof bodyRaw === 'string' ? bodyRaw : JSON.stringify(bodyRaw);

  let regex: RegExp | undefined;
  const regexText = f.string('regex');
  if (regexText !== undefined) {
    try {
      regex = new RegExp(regexText);
    } catch (error) {
      throw f.fail('regex', regexText, `not a valid regular expression (${(error as Error).message})`);
    }
  }

  const json: JsonExpectation[] = [];
  const jsonRaw = f.raw('json');
  if (jsonRaw !== undefined && jsonRaw !== null) {
    if (typeof jsonRaw !== 'object' || Array.isArray(jsonRaw))
      throw new ConfigurationError(
        `${f.where}.json must be a map of JSON path to expected value, e.g. {"$.status": "ok"}`,
      );
    for (const [path, equals] of Object.entries(jsonRaw as Record<string, unknown>)) {
      try {
        json.push({ path, segments: parseJsonPath(path), equals });
      } catch (error) {
        throw new ConfigurationError(`${f.where}.json has path ${JSON.stringify(path)}: ${(error as Error).message}`);
      }
    }
  }

  const certMinDays = f.has('cert-min-days') ? f.int('cert-min-days', 0, 0, 3650) : undefined;
  if (certMinDays !== undefined && parsed.protocol !== 'https:')
    throw f.fail('cert-min-days', certMinDays, 'only applies to https URLs');

  const method = f.enumOf('method', HTTP_METHODS, 'GET');
  if (body !== undefined && (method === 'GET' || method === 'HEAD'))
    throw new ConfigurationError(
      `${f.where}.body cannot be sent with method ${method}; set method: POST (or PUT, PATCH)`,
    );

  return {
    kind: 'http',
    where: f.where,
    name: f.string('name')?.trim() || `http ${displayUrl(url)}`,
    poll: pollSettings(f, defaults),
    via: f.enumOf('via', ['runner', 'droplet'] as const, 'runner'),
    url,
    method,
    headers,
    secretHeaders,
    ...(body !== undefined ? { body } : {}),
    expect: {
      status: expectStatus(f, 'expect-status'),
      contains: f.stringList('contains'),
      ...(regex ? { regex } : {}),
      json,
      ...(certMinDays !== undefined ? { certMinDays } : {}),
    },
    followRedirects: f.bool('follow-redirects', false),
    maxRedirects: f.int('max-redirects', 5, 0, 50),
    attemptTimeoutMs: f.duration('attempt-timeout', 10_000, 1),
    tlsVerify: f.bool('tls-verify', true),
  };
}

function tcpDefinition(f: Fields, defaults: DefinitionDefaults): TcpDefinition {
  let host = f.string('host')?.trim();
  let port: number | undefined = f.has('port') ? f.int('port', 0, 1, 65535) : undefined;
  const address = f.string('address')?.trim();
  if (address !== undefined) {
    if (host !== undefined || port !== undefined)
      throw new ConfigurationError(`${f.where}: give either address or host and port, not both`);
    const m = /^(\[[^\]]+\]|[^:]+):(\d+)$/.exec(address);
    if (!m) throw f.fail('address', address, 'expected host:port');
    host = (m[1] as string).replace(/^\[|\]$/g, '');
    port = Number(m[2]);
    if (port < 1 || port > 65535) throw f.fail('address', address, 'port must be between 1 and 65535');
  }
  if (!host) throw new ConfigurationError(`${f.where}.host is required for a tcp check (or address: host:port)`);
  if (port === undefined) throw new ConfigurationError(`${f.where}.port is required for a tcp check`);
  return {
    kind: 'tcp',
    where: f.where,
    name: f.string('name')?.trim() || `tcp ${host}:${port}`,
    poll: pollSettings(f, defaults),
    host,
    port,
    attemptTimeoutMs: f.duration('attempt-timeout', 5_000, 1),
  };
}

function containerDefinition(f: Fields, defaults: DefinitionDefaults): ContainerDefinition {
  const app = f.string('app')?.trim() || defaults.app;
  if (!app) throw new ConfigurationError(`${f.where}.app is required for a container check (or set the input "app")`);
  if (!/^[A-Za-z0-9][A-Za-z0-9_.-]*$/.test(app)) throw f.fail('app', app, 'not a Compose project name');
  const services = f.stringList('services').map((s) => s.trim());
  for (const s of services) {
    if (!/^[A-Za-z0-9][A-Za-z0-9_.-]*$/.test(s)) throw f.fail('services', s, 'not a Compose service name');
  }
  return {
    kind: 'container',
    where: f.where,
    name: f.string('name')?.trim() || `containers of ${app}${services.length ? ` (${services.join(', ')})` : ''}`,
    poll: pollSettings(f, defaults, false),
    app,
    services,
    require: f.enumOf('require', ['healthy', 'running'] as const, 'healthy'),
    logLines: f.int('log-lines', 30, 0, 1000),
  };
}

/** One check object from the list (already parsed YAML/JSON). */
export function parseDefinition(raw: unknown, where: string, defaults: DefinitionDefaults): CheckDefinition {
  if (raw === null || typeof raw !== 'object' || Array.isArray(raw))
    throw new ConfigurationError(`${where} must be a map such as {kind: http, url: https://…}`);
  const obj = raw as Record<string, unknown>;
  const f = new Fields(where, obj);
  const kindText = f.string('kind') ?? (f.has('url') ? 'http' : undefined);
  if (kindText === undefined)
    throw new ConfigurationError(`${where}.kind is required (one of ${CHECK_KINDS.join(', ')})`);
  const kind = CHECK_KINDS.find((k) => k === kindText.trim().toLowerCase());
  if (!kind) throw f.fail('kind', kindText, `unknown check kind; expected one of ${CHECK_KINDS.join(', ')}`);
  for (const key of Object.keys(obj)) {
    if (!FIELDS[kind].includes(key)) {
      const near = FIELDS[kind].find((k) => k.replace(/-/g, '') === key.toLowerCase().replace(/[-_]/g, ''));
      throw new ConfigurationError(
        `${where} has unknown field ${JSON.stringify(key)} for a ${kind} check${near ? ` (did you mean "${near}"?)` : ''}`,
      );
    }
  }
  switch (kind) {
    case 'http':
      return httpDefinition(f, defaults);
    case 'tcp':
      return tcpDefinition(f, defaults);
    case 'container':
      return containerDefinition(f, defaults);
  }
}

/** The `checks` input: a YAML (or JSON) list of check maps. */
export function parseCheckList(text: string, defaults: DefinitionDefaults, inputName = 'checks'): CheckDefinition[] {
  if (!text.trim()) return [];
  let raw: unknown;
  try {
    raw = parseYaml(text);
  } catch (error) {
    const first = ((error as Error).message.split('\n')[0] ?? '').trim();
    throw new ConfigurationError(`input "${inputName}" is not valid YAML or JSON: ${first}`);
  }
  if (!Array.isArray(raw))
    throw new ConfigurationError(
      `input "${inputName}" must be a list of checks (YAML "- kind: http" items or a JSON array)`,
    );
  const defs = raw.map((item, i) => parseDefinition(item, `${inputName}[${i}]`, defaults));
  const names = new Set<string>();
  for (const d of defs) {
    if (names.has(d.name))
      throw new ConfigurationError(
        `${d.where}.name ${JSON.stringify(d.name)} is used by two checks; names must be unique`,
      );
    names.add(d.name);
  }
  return defs;
}

/** The shorthand inputs `url` + `expect-status` as one runner-side http check. */
export function shorthandDefinition(
  url: string,
  expectStatusText: string,
  defaults: DefinitionDefaults,
): HttpDefinition {
  const obj: Record<string, unknown> = { kind: 'http', url, name: `http ${displayUrl(url)}` };
  if (expectStatusText.trim()) obj['expect-status'] = expectStatusText;
  try {
    return parseDefinition(obj, 'url', defaults) as HttpDefinition;
  } catch (error) {
    if (!(error instanceof ConfigurationError)) throw error;
    // Name the shorthand inputs the way the user wrote them.
    throw new ConfigurationError(
      error.message
        .replace(/^url\.expect-status has/, 'input "expect-status" has')
        .replace(/^url\.url has/, 'input "url" has'),
    );
  }
}
