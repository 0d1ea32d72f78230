// Spec fidelity for the DigitalOcean API fake: every request the fake receives and every response it
// sends is validated against DigitalOcean's own OpenAPI description
// (../shared/digitalocean-openapi/DigitalOcean-public.v2.json) with ajv 8 + ajv-formats.
//
// - Operations are matched by method + path template (literal segments win over `{params}`).
// - Requests: path/query parameters (with type coercion, as they arrive as strings) and the JSON body
//   are validated against the spec as published (the real API accepts what the spec accepts).
// - Responses: the status must be documented for the operation (`default` only counts for errors),
//   headers the spec declares for that status must be present, and the body is validated against a
//   TIGHTENED copy of the schema (test-only): `allOf` of objects is merged, every object schema with
//   declared `properties` gets `additionalProperties: false`, and every declared property is required
//   unless one of the spec's own examples (response `examples`/`example`, or an `example` placed on an
//   object/array schema) omits it at that place.
// - Schemas are dereferenced per operation (internal `$ref`s; a reference cycle becomes `{}`) and
//   compiled lazily, once per operation and direction; the 2.4 MB document is parsed once.
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { dirname, resolve } from 'node:path';
import AjvImport from 'ajv';
import type { ValidateFunction, ErrorObject } from 'ajv';
import addFormatsImport from 'ajv-formats';

/* eslint-disable @typescript-eslint/no-explicit-any */
type Json = any;

const Ajv = ((AjvImport as unknown as { default?: unknown }).default ?? AjvImport) as typeof AjvImport;
const addFormats = ((addFormatsImport as unknown as { default?: unknown }).default ??
  addFormatsImport) as typeof addFormatsImport;

/** The OpenAPI document: $LAB_DO_OPENAPI, else ../shared/digitalocean-openapi/ beside the repository. */
export const SPEC_PATH =
  process.env.LAB_DO_OPENAPI ??
  resolve(
    dirname(fileURLToPath(import.meta.url)),
    '../../../../shared/digitalocean-openapi/DigitalOcean-public.v2.json',
  );

export interface Violation {
  /** operationId, or `METHOD path` when no operation matched */
  operation: string;
  /** request.path | request.query | request.body | response.status | response.headers | response.body | route */
  where: string;
  method: string;
  path: string;
  status?: number;
  message: string;
}

export interface Operation {
  id: string;
  method: string;
  template: string;
  op: Json;
  params: Record<string, string>;
}

interface Route {
  method: string;
  template: string;
  regex: RegExp;
  names: string[];
  literalCount: number;
  op: Json;
}

export interface SpecTimings {
  /** ms to read + JSON.parse the document and index its operations */
  loadMs: number;
  /** ms spent dereferencing/tightening/compiling, total and per compiled unit */
  compileMs: number;
  compiled: number;
  /** ms spent running validators (requests + responses) */
  validateMs: number;
  validations: number;
}

const METHODS = ['get', 'put', 'post', 'delete', 'patch', 'head', 'options'];

function decodePointerPart(p: string): string {
  return decodeURIComponent(p.replace(/~1/g, '/').replace(/~0/g, '~'));
}

export class SpecValidator {
  readonly doc: Json;
  private readonly routes: Route[] = [];
  private readonly ajv: InstanceType<typeof AjvImport>;
  private readonly ajvCoerce: InstanceType<typeof AjvImport>;
  private readonly cache = new Map<string, ValidateFunction | null>();
  readonly timings: SpecTimings = { loadMs: 0, compileMs: 0, compiled: 0, validateMs: 0, validations: 0 };

  constructor(specPath: string = SPEC_PATH) {
    const t0 = performance.now();
    this.doc = JSON.parse(readFileSync(specPath, 'utf8'));
    for (const [template, item] of Object.entries<Json>(this.doc.paths)) {
      const segs = template.split('/').filter(Boolean);
      const names: string[] = [];
      const rx = segs
        .map((s) => {
          const m = /^\{(.+)\}$/.exec(s);
          if (m) {
            names.push(m[1]!);
            return '([^/]+)';
          }
          return s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
        })
        .join('/');
      for (const method of METHODS) {
        if (!item[method]) continue;
        this.routes.push({
          method: method.toUpperCase(),
          template,
          regex: new RegExp(`^/${rx}/?$`),
          names,
          literalCount: segs.length - names.length,
          op: { ...item[method], parameters: [...(item.parameters ?? []), ...(item[method].parameters ?? [])] },
        });
      }
    }
    this.routes.sort((a, b) => b.literalCount - a.literalCount);
    const opts = { strict: false, unicodeRegExp: false, allErrors: true, validateSchema: false, discriminator: false };
    this.ajv = new Ajv(opts);
    addFormats(this.ajv);
    this.ajvCoerce = new Ajv({ ...opts, coerceTypes: 'array' });
    addFormats(this.ajvCoerce);
    this.timings.loadMs = performance.now() - t0;
  }

  match(method: string, path: string): Operation | undefined {
    for (const r of this.routes) {
      if (r.method !== method) continue;
      const m = r.regex.exec(path);
      if (!m) continue;
      const params: Record<string, string> = {};
      r.names.forEach((n, i) => (params[n] = decodeURIComponent(m[i + 1]!)));
      return { id: r.op.operationId ?? `${method} ${r.template}`, method, template: r.template, op: r.op, params };
    }
    return undefined;
  }

  /** Resolve an internal `#/...` JSON pointer. */
  resolvePointer(ref: string): Json {
    if (!ref.startsWith('#/')) throw new Error(`external $ref not supported: ${ref}`);
    let cur: Json = this.doc;
    for (const part of ref.slice(2).split('/')) {
      cur = cur?.[decodePointerPart(part)];
      if (cur === undefined) throw new Error(`unresolvable $ref ${ref}`);
    }
    return cur;
  }

  /** Follow `$ref`s at the top of a node (parameters, responses, headers are often refs). */
  deref1(node: Json): Json {
    let n = node;
    for (let i = 0; i < 20 && n && typeof n === 'object' && typeof n.$ref === 'string'; i++)
      n = this.resolvePointer(n.$ref);
    return n;
  }

  /** Deep copy with every internal $ref inlined; a $ref cycle becomes `{}` (accept anything). */
  deref(node: Json, stack: string[] = []): Json {
    if (Array.isArray(node)) return node.map((x) => this.deref(x, stack));
    if (!node || typeof node !== 'object') return node;
    if (typeof node.$ref === 'string') {
      if (stack.includes(node.$ref)) return {};
      const target = this.resolvePointer(node.$ref);
      const { $ref: _ignored, ...rest } = node;
      const inlined = this.deref(target, [...stack, node.$ref]);
      return Object.keys(rest).length ? { ...inlined, ...this.deref(rest, stack) } : inlined;
    }
    const out: Json = {};
    for (const [k, v] of Object.entries(node)) {
      // `example`/`examples` are data, not schemas: keep them as they are.
      out[k] = k === 'example' || k === 'examples' ? v : this.deref(v, stack);
    }
    return out;
  }

  private compile(key: string, build: () => Json | null, coerce = false): ValidateFunction | null {
    if (this.cache.has(key)) return this.cache.get(key)!;
    const t0 = performance.now();
    const schema = build();
    const fn = schema ? (coerce ? this.ajvCoerce : this.ajv).compile(schema) : null;
    this.timings.compileMs += performance.now() - t0;
    this.timings.compiled++;
    this.cache.set(key, fn);
    return fn;
  }

  private run(fn: ValidateFunction, data: unknown): ErrorObject[] {
    const t0 = performance.now();
    const ok = fn(data);
    this.timings.validateMs += performance.now() - t0;
    this.timings.validations++;
    return ok ? [] : (fn.errors ?? []);
  }

  /** Validate path params, query params and JSON body of a request. Returns violations (empty if fine). */
  validateRequest(
    op: Operation,
    path: string,
    query: Record<string, string | string[]>,
    body: unknown,
    hasBody: boolean,
    warnings?: Violation[],
  ): Violation[] {
    const out: Violation[] = [];
    const base = { operation: op.id, method: op.method, path };
    for (const where of ['path', 'query'] as const) {
      const fn = this.compile(
        `${op.id}:req:${where}`,
        () => {
          const params = (op.op.parameters as Json[]).map((p) => this.deref1(p)).filter((p) => p.in === where);
          if (!params.length) return null;
          const properties: Json = {};
          const required: string[] = [];
          for (const p of params) {
            properties[p.name] = this.deref(p.schema ?? {});
            if (p.required) required.push(p.name);
          }
          return { type: 'object', properties, required };
        },
        true,
      );
      if (!fn) continue;
      const data = where === 'path' ? { ...op.params } : { ...query };
      for (const e of this.run(fn, data)) out.push({ ...base, where: `request.${where}`, message: fmt(e) });
    }
    const rb = op.op.requestBody ? this.deref1(op.op.requestBody) : undefined;
    const media = rb?.content?.['application/json'];
    if (media?.schema) {
      if (!hasBody) {
        if (rb.required) out.push({ ...base, where: 'request.body', message: 'request body is required' });
      } else {
        const fn = this.compile(`${op.id}:req:body`, () => this.deref(media.schema));
        const errors = fn ? this.run(fn, body) : [];
        for (const e of errors) out.push({ ...base, where: 'request.body', message: fmt(e) });
        if (!errors.length && warnings) {
          // valid as published; properties the spec does not declare are ignored by the real API:
          // reported as warnings (a misspelt field is a silent bug against DigitalOcean)
          const closed = this.compile(`${op.id}:req:body:closed`, () => closeObjects(this.deref(media.schema)));
          const extra = closed ? this.run(closed, body) : [];
          if (extra.length)
            warnings.push({
              ...base,
              where: 'request.body',
              message: `undeclared properties (ignored by DigitalOcean): ${extra.map(fmt).join('; ')}`,
            });
        }
      }
    } else if (hasBody && body !== undefined && op.method !== 'DELETE') {
      out.push({ ...base, where: 'request.body', message: 'operation takes no JSON request body' });
    }
    return out;
  }

  /** The response object the spec documents for a status (`default` only for >= 400). */
  responseFor(op: Operation, status: number): Json | undefined {
    const r = op.op.responses?.[String(status)] ?? (status >= 400 ? op.op.responses?.default : undefined);
    return r ? this.deref1(r) : undefined;
  }

  validateResponse(
    op: Operation,
    path: string,
    status: number,
    headers: Record<string, unknown>,
    body: unknown,
  ): Violation[] {
    const base = { operation: op.id, method: op.method, path, status };
    const resp = this.responseFor(op, status);
    if (!resp) {
      const documented = Object.keys(op.op.responses ?? {}).join(', ');
      return [
        {
          ...base,
          where: 'response.status',
          message: `status ${status} is not documented (documented: ${documented})`,
        },
      ];
    }
    const out: Violation[] = [];
    for (const [h, def] of Object.entries<Json>(resp.headers ?? {})) {
      const value = headers[h.toLowerCase()];
      const type = this.deref1(def)?.schema?.type;
      if (value === undefined) out.push({ ...base, where: 'response.headers', message: `missing header ${h}` });
      else if (type === 'integer' && !/^-?\d+$/.test(String(value)))
        out.push({
          ...base,
          where: 'response.headers',
          message: `header ${h} must be an integer, got ${String(value)}`,
        });
    }
    const media = resp.content?.['application/json'];
    if (!media) {
      if (body !== undefined && body !== '')
        out.push({ ...base, where: 'response.body', message: 'the spec documents no JSON body for this status' });
      return out;
    }
    const key = `${op.id}:res:${op.op.responses?.[String(status)] ? status : 'default'}`;
    const fn = this.compile(key, () => tighten(this.deref(media.schema ?? {}), examplesOf(media)));
    if (fn) for (const e of this.run(fn, body)) out.push({ ...base, where: 'response.body', message: fmt(e) });
    return out;
  }

  /** The tightened response schema (for inspection/debugging). */
  tightenedResponseSchema(method: string, template: string, status: number): Json {
    const item = this.doc.paths[template];
    const op = { id: '', method, template, op: item[method.toLowerCase()], params: {} };
    const media = this.responseFor(op, status)?.content?.['application/json'];
    return tighten(this.deref(media.schema), examplesOf(media));
  }

  /** Compile an arbitrary schema the way responses are compiled (used by tests to prove failure paths). */
  compileTightened(schema: Json, examples: unknown[] = []): ValidateFunction {
    return this.ajv.compile(tighten(this.deref(schema), examples));
  }
}

function fmt(e: ErrorObject): string {
  const extra =
    e.keyword === 'additionalProperties'
      ? ` (${(e.params as { additionalProperty: string }).additionalProperty})`
      : e.keyword === 'enum'
        ? ` (${JSON.stringify((e.params as { allowedValues: unknown }).allowedValues)})`
        : '';
  return `${e.instancePath || '/'} ${e.message ?? e.keyword}${extra}`;
}

function examplesOf(media: Json): unknown[] {
  const out: unknown[] = [];
  if (media.example !== undefined) out.push(media.example);
  for (const ex of Object.values<Json>(media.examples ?? {})) if (ex && ex.value !== undefined) out.push(ex.value);
  return out;
}

// ---------------------------------------------------------------------------------------------
// Tightening (test-only)

const COMBINATORS = ['oneOf', 'anyOf'] as const;

/** Merge `allOf` members into their parent where they are plain object/annotation schemas. */
function normalize(node: Json): Json {
  if (Array.isArray(node)) return node.map(normalize);
  if (!node || typeof node !== 'object') return node;
  const out: Json = {};
  for (const [k, v] of Object.entries(node)) {
    if (k === 'example' || k === 'examples' || k === 'enum' || k === 'default') out[k] = v;
    else if (k === 'properties') {
      out.properties = {};
      for (const [pk, pv] of Object.entries(v as Json)) out.properties[pk] = normalize(pv);
    } else out[k] = normalize(v);
  }
  if (Array.isArray(out.allOf)) {
    const members: Json[] = out.allOf;
    delete out.allOf;
    const residual: Json[] = [];
    for (const m of members) {
      if (COMBINATORS.some((c) => m[c]) || m.not) {
        residual.push(m);
        continue;
      }
      mergeInto(out, m);
    }
    if (residual.length) out.allOf = residual;
  }
  return out;
}

function mergeInto(target: Json, m: Json): void {
  for (const [k, v] of Object.entries<Json>(m)) {
    if (k === 'properties') {
      target.properties ??= {};
      for (const [pk, pv] of Object.entries<Json>(v)) {
        target.properties[pk] = target.properties[pk] ? normalize({ allOf: [target.properties[pk], pv] }) : pv;
      }
    } else if (k === 'required') {
      target.required = [...new Set([...(target.required ?? []), ...v])];
    } else if (k === 'nullable') {
      target.nullable = Boolean(target.nullable) || Boolean(v);
    } else if (target[k] === undefined) {
      target[k] = v;
    }
  }
}

interface Presence {
  seen: number;
  present: Map<string, number>;
}

function isObjectSchema(n: Json): boolean {
  return n && typeof n === 'object' && n.properties && typeof n.properties === 'object';
}

/** Walk an example through the schema, counting which declared properties each object node saw. */
function walkExample(node: Json, value: unknown, presence: Map<Json, Presence>): void {
  if (!node || typeof node !== 'object' || value === null || value === undefined) return;
  for (const c of COMBINATORS) {
    if (Array.isArray(node[c])) {
      const fits = (node[c] as Json[]).filter((b) => fitsBranch(b, value));
      for (const b of fits.length ? fits : []) walkExample(b, value, presence);
    }
  }
  if (Array.isArray(node.allOf)) for (const b of node.allOf) walkExample(b, value, presence);
  if (Array.isArray(value)) {
    if (node.items) for (const v of value) walkExample(node.items, v, presence);
    return;
  }
  if (typeof value !== 'object') return;
  const obj = value as Record<string, unknown>;
  if (isObjectSchema(node)) {
    let p = presence.get(node);
    if (!p) presence.set(node, (p = { seen: 0, present: new Map() }));
    p.seen++;
    for (const k of Object.keys(node.properties)) {
      if (k in obj) {
        p.present.set(k, (p.present.get(k) ?? 0) + 1);
        walkExample(node.properties[k], obj[k], presence);
      }
    }
  }
  if (node.additionalProperties && typeof node.additionalProperties === 'object') {
    for (const [k, v] of Object.entries(obj))
      if (!node.properties?.[k]) walkExample(node.additionalProperties, v, presence);
  }
}

function fitsBranch(b: Json, value: unknown): boolean {
  if (value === null) return Boolean(b.nullable);
  if (Array.isArray(value)) return b.type === 'array' || Boolean(b.items);
  if (typeof value !== 'object') return !isObjectSchema(b) && b.type !== 'array';
  if (!isObjectSchema(b)) return b.type === 'object' || b.type === undefined;
  const keys = Object.keys(value as object);
  return keys.every((k) => k in b.properties) && (b.required ?? []).every((r: string) => keys.includes(r));
}

function collectNodeExamples(node: Json, presence: Map<Json, Presence>, seen = new Set<Json>()): void {
  if (!node || typeof node !== 'object' || seen.has(node)) return;
  seen.add(node);
  if (Array.isArray(node)) {
    for (const x of node) collectNodeExamples(x, presence, seen);
    return;
  }
  if (node.example !== undefined && node.example !== null && typeof node.example === 'object') {
    walkExample(node, node.example, presence);
  }
  for (const [k, v] of Object.entries<Json>(node)) {
    if (k === 'example' || k === 'examples' || k === 'enum' || k === 'default') continue;
    if (k === 'properties') for (const pv of Object.values(v)) collectNodeExamples(pv, presence, seen);
    else collectNodeExamples(v, presence, seen);
  }
}

function applyTightening(node: Json, presence: Map<Json, Presence> | undefined, seen = new Set<Json>()): void {
  if (!node || typeof node !== 'object' || seen.has(node)) return;
  seen.add(node);
  if (Array.isArray(node)) {
    for (const x of node) applyTightening(x, presence, seen);
    return;
  }
  if (isObjectSchema(node)) {
    // presence undefined = close objects only (request bodies), no new required properties
    const req = new Set<string>(node.required ?? []);
    if (presence) {
      const p = presence.get(node);
      for (const k of Object.keys(node.properties)) {
        if (!p || p.seen === 0 || p.present.get(k) === p.seen) req.add(k);
      }
    }
    node.required = [...req];
    const hasResidual = COMBINATORS.some((c) => node[c]) || node.allOf;
    // An object whose declared property names are all host names (docker-credentials `auths`) is a
    // map keyed by registry host in reality: leave it open and do not require the documented host.
    const propNames = Object.keys(node.properties);
    const hostKeyed = propNames.length > 0 && propNames.every((k) => /^[a-z0-9-]+(\.[a-z0-9-]+)+$/.test(k));
    if (hostKeyed) node.required = (node.required as string[]).filter((k) => !(k in node.properties));
    if (node.additionalProperties === undefined && !hasResidual && !hostKeyed) node.additionalProperties = false;
  }
  for (const [k, v] of Object.entries<Json>(node)) {
    if (k === 'example' || k === 'examples' || k === 'enum' || k === 'default') continue;
    if (k === 'properties') for (const pv of Object.values(v)) applyTightening(pv, presence, seen);
    else applyTightening(v, presence, seen);
  }
}

/** Test-only: forbid undeclared properties and require declared ones the spec's examples never omit. */
/** Test-only, for request bodies: forbid undeclared properties (nothing more becomes required). */
export function closeObjects(schema: Json): Json {
  const s = normalize(schema);
  applyTightening(s, undefined);
  return s;
}

export function tighten(schema: Json, examples: unknown[]): Json {
  const s = normalize(schema);
  const presence = new Map<Json, Presence>();
  for (const ex of examples) walkExample(s, ex, presence);
  collectNodeExamples(s, presence);
  applyTightening(s, presence);
  return s;
}
