// The DigitalOcean API fake: state, routes and the HTTP server (node:http, no framework).
// See index.ts for the options and README-style notes.
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { createHash, randomUUID } from 'node:crypto';
import type { AddressInfo } from 'node:net';
import type { DropletVariant } from '../contract.js';
import type { DropletBackend, DropletCreateSpec } from './backend.js';
import { PUBLIC_IMAGES, REGIONS, REGION_FEATURES, SIZES, type SizeDef } from './catalog.js';
import { Faults, validateFault, type Fault } from './faults.js';
import { ApiError, errorBody, notFound, now, paginate, q1, unprocessable, type Query, type Reply } from './http.js';
import {
  LoadBalancerRuntime,
  ReservedIpRuntime,
  type ForwardingRule,
  type HealthCheck,
  type MemberHealth,
} from './proxy.js';
import { SpecValidator, type Operation, type Violation } from './spec.js';

/* eslint-disable @typescript-eslint/no-explicit-any */
type Json = any;

export interface DatabaseOption {
  /** Cluster uuid (random if absent). */
  id?: string;
  name: string;
  engine?: 'pg';
  version?: string;
  region?: string;
  user: string;
  password: string;
  database: string;
  /** Address as seen from the host (connection). */
  host: string;
  port: number;
  /** Address as droplets reach it (private_connection); defaults to host/port. */
  privateHost?: string;
  privatePort?: number;
  sslmode?: 'disable' | 'require';
}

export interface RegistryOption {
  /** Registry name (what `GET /v2/registry` shows). */
  name: string;
  /** host:port of the lab registry (as droplets reach it). */
  host: string;
  username?: string;
  password?: string;
  region?: string;
}

export interface ApiFakeOptions {
  backend: DropletBackend;
  /** Bearer token accepted (random if absent). */
  token?: string;
  /** Load balancer forwarding options (address prefix, health check time scale for unit tests). */
  lbProxy?: { prefix?: string; timeScale?: number; enabled?: boolean };
  /** Reserved IP forwarding: address prefix and ports (default 127.0.21, [22, 80, 443]). */
  reservedIpProxy?: { prefix?: string; ports?: number[]; enabled?: boolean };
  databases?: DatabaseOption[];
  registry?: RegistryOption;
  /** Validate every request/response against the OpenAPI document (default true). */
  validate?: boolean;
  /** Share one SpecValidator between fakes (compiled validators are cached on it). */
  spec?: SpecValidator;
  /** How often the fake polls the backend while droplets boot (ms, default 200). */
  pollMs?: number;
  /**
   * Ports besides 22/80/443 every droplet publishes on its public address (DigitalOcean droplets
   * expose every port; the lab publishes a list). Load balancer / reserved IP targets must be in it.
   */
  dropletExtraPorts?: number[];
  /** Account email shown by GET /v2/account. */
  email?: string;
  /**
   * Test-only hook: rewrite a reply before it is validated and sent (unit tests use it to prove that
   * an invalid response is caught by the validator).
   */
  responseHook?: (operationId: string | undefined, reply: Reply) => Reply;
}

export interface Tally {
  requests: number;
  responses: number;
  violations: Violation[];
  /** Not failures: request body properties the spec does not declare (DigitalOcean ignores them). */
  warnings: Violation[];
}

interface ImageRec {
  id: number;
  name: string;
  type: string;
  distribution: string;
  slug: string | null;
  public: boolean;
  regions: string[];
  created_at: string;
  min_disk_size: number;
  size_gigabytes: number;
  description: string;
  tags: string[];
  status: string;
  error_message: string;
  variant: DropletVariant;
  /** Backend snapshot ref (snapshots only). */
  ref?: string;
  sourceDropletId?: number;
}

interface DropletRec {
  id: number;
  name: string;
  region: string;
  size: SizeDef;
  image: ImageRec;
  status: 'new' | 'active' | 'off' | 'archive';
  created_at: string;
  tags: string[];
  variant: DropletVariant;
  userData?: string;
  authorizedKeys: string[];
  container?: string;
  publicIpv4?: string;
  privateIpv4?: string;
  snapshot_ids: number[];
  vpc_uuid: string;
  features: string[];
  deleted: boolean;
  pendingAction?: number;
}

interface ActionRec {
  id: number;
  status: 'in-progress' | 'completed' | 'errored';
  type: string;
  started_at: string;
  completed_at: string | null;
  resource_id: number | null;
  resource_type: string;
  region_slug: string;
  /** reserved IP actions refer to the IP */
  reservedIp?: string;
}

interface SshKeyRec {
  id: number;
  name: string;
  public_key: string;
  fingerprint: string;
}

interface FirewallRec {
  id: string;
  name: string;
  created_at: string;
  droplet_ids: number[];
  tags: string[];
  inbound_rules: Json[];
  outbound_rules: Json[];
}

interface LbRec {
  id: string;
  name: string;
  region: string;
  created_at: string;
  status: 'new' | 'active' | 'errored';
  spec: Json;
  droplet_ids: number[];
  tag: string;
  runtime?: LoadBalancerRuntime;
  ip: string;
}

interface ReservedIpRec {
  ip: string;
  region: string;
  dropletId: number | null;
  project_id: string;
  runtime?: ReservedIpRuntime;
}

const TAG_RE = /^[a-zA-Z0-9_\-:]+$/;
const HOST_RE = /^[a-zA-Z0-9]?[a-z0-9A-Z.-]*[a-z0-9A-Z]$/;

/** MD5 fingerprint of an OpenSSH public key, as DigitalOcean shows it (aa:bb:...). */
export function md5Fingerprint(publicKey: string): string {
  const parts = publicKey.trim().split(/\s+/);
  const blob = Buffer.from(parts[1] ?? '', 'base64');
  if (!/^(ssh-(rsa|ed25519|dss)|ecdsa-sha2-nistp(256|384|521))$/.test(parts[0] ?? '') || blob.length < 16)
    throw unprocessable('Key invalid, type not supported');
  const typeLen = blob.readUInt32BE(0);
  if (blob.subarray(4, 4 + typeLen).toString() !== parts[0]) throw unprocessable('Key invalid, type not supported');
  return (createHash('md5').update(blob).digest('hex').match(/../g) ?? []).join(':');
}

export class ApiFake {
  readonly token: string;
  readonly faults: Faults;
  readonly spec: SpecValidator;
  private readonly validating: boolean;
  private readonly compileMsAtStart: number;
  private server: Server | undefined;
  baseUrl = '';
  private readonly tallyState: Tally = { requests: 0, responses: 0, violations: [], warnings: [] };
  /** Time spent in validation per validated request (incl. first-use compiles), ms. */
  private readonly overhead = { requests: 0, ms: 0, compileMs: 0 };

  private readonly droplets = new Map<number, DropletRec>();
  private readonly actions = new Map<number, ActionRec>();
  private readonly images = new Map<number, ImageRec>();
  private readonly sshKeys = new Map<number, SshKeyRec>();
  private readonly tags = new Set<string>();
  private readonly firewalls = new Map<string, FirewallRec>();
  private readonly lbs = new Map<string, LbRec>();
  private readonly reservedIps = new Map<string, ReservedIpRec>();
  private readonly databases: Json[] = [];
  private dropletSeq = 514000000;
  private actionSeq = 2020000000;
  private imageSeq = 170000000;
  private keySeq = 41000000;
  private rate = { limit: 5000, remaining: 5000, windowStart: Date.now() };
  private readonly projectId = randomUUID();
  private readonly vpcUuid = randomUUID();
  private readonly accountUuid = randomUUID();
  private readonly pending = new Set<Promise<unknown>>();
  private closed = false;

  constructor(private readonly opts: ApiFakeOptions) {
    this.token = opts.token ?? `dop_v1_lab_${randomUUID().replace(/-/g, '')}`;
    this.faults = new Faults((f) => this.passthrough(f));
    // The spec also routes requests (operation match), so it is loaded even without validation.
    this.spec = opts.spec ?? new SpecValidator();
    this.validating = opts.validate !== false;
    this.compileMsAtStart = this.spec.timings.compileMs;
    for (const img of PUBLIC_IMAGES) {
      this.images.set(img.id, {
        id: img.id,
        name: img.name,
        type: img.type,
        distribution: img.distribution,
        slug: img.slug,
        public: true,
        regions: REGIONS.map((r) => r.slug),
        created_at: img.created_at,
        min_disk_size: img.min_disk_size,
        size_gigabytes: img.size_gigabytes,
        description: img.description,
        tags: [],
        status: 'available',
        error_message: '',
        variant: img.variant,
      });
    }
    for (const db of opts.databases ?? []) this.databases.push(this.makeDatabase(db));
  }

  // ------------------------------------------------------------------------------------------
  // lifecycle

  async listen(): Promise<void> {
    this.server = createServer((req, res) => {
      this.handle(req, res).catch((e: unknown) => {
        // never let one broken request take the lab process down
        console.error('[api-fake] request failed:', e);
        if (res.writableEnded || res.destroyed) return;
        if (!res.headersSent) res.writeHead(500, { 'content-type': 'application/json; charset=utf-8' });
        res.end(JSON.stringify(errorBody('server_error', 'internal error in the lab API fake')));
      });
    });
    await new Promise<void>((resolve) => this.server!.listen(0, '127.0.0.1', () => resolve()));
    const port = (this.server.address() as AddressInfo).port;
    this.baseUrl = `http://127.0.0.1:${port}`;
  }

  async close(opts: { destroyDroplets?: boolean } = {}): Promise<void> {
    this.closed = true;
    await Promise.allSettled([...this.pending]);
    for (const lb of this.lbs.values()) await lb.runtime?.close();
    for (const r of this.reservedIps.values()) await r.runtime?.close();
    if (opts.destroyDroplets !== false) {
      for (const d of this.droplets.values())
        if (d.container) await this.opts.backend.destroy(d.container).catch(() => undefined);
      for (const img of this.images.values())
        if (img.ref) await this.opts.backend.deleteSnapshot(img.ref).catch(() => undefined);
    }
    const s = this.server;
    if (s) {
      s.closeAllConnections();
      await new Promise<void>((r) => s.close(() => r()));
    }
  }

  tally(): Tally {
    return {
      requests: this.tallyState.requests,
      responses: this.tallyState.responses,
      violations: [...this.tallyState.violations],
      warnings: [...this.tallyState.warnings],
    };
  }

  resetTally(): void {
    this.tallyState.requests = 0;
    this.tallyState.responses = 0;
    this.tallyState.violations = [];
    this.tallyState.warnings = [];
  }

  /** Validation overhead figures. */
  stats(): Json {
    const t = this.spec.timings;
    return {
      specLoadMs: round(t.loadMs),
      compiled: t.compiled,
      compileMs: round(t.compileMs),
      validations: t.validations,
      validateMs: round(t.validateMs),
      validateMsPerCall: t.validations ? round(t.validateMs / t.validations, 3) : 0,
      // whole validation path per request (match, params, body, status, headers; request + response),
      // first-use compiles excluded
      overheadMsPerRequest: this.overhead.requests
        ? round((this.overhead.ms - (t.compileMs - this.compileMsAtStart)) / this.overhead.requests, 3)
        : 0,
    };
  }

  loadBalancerHealth(id: string): MemberHealth[] {
    const lb = this.lbs.get(id);
    if (!lb) throw notFound();
    return lb.runtime?.memberHealth() ?? [];
  }

  /** Test/back-door view of a droplet's backend handle. */
  dropletInfo(id: number): {
    container?: string;
    publicIpv4?: string;
    privateIpv4?: string;
    status: string;
    variant: DropletVariant;
  } {
    const d = this.droplets.get(id);
    if (!d) throw notFound();
    return {
      container: d.container,
      publicIpv4: d.publicIpv4,
      privateIpv4: d.privateIpv4,
      status: d.status,
      variant: d.variant,
    };
  }

  private track<T>(p: Promise<T>): void {
    const q = p.catch((e: unknown) => console.error('[api-fake] background task failed:', e));
    this.pending.add(q);
    void q.finally(() => this.pending.delete(q));
  }

  private async passthrough(f: Extract<Fault, { kind: 'sshd_down' | 'disk_full' }>): Promise<void> {
    const d = this.droplets.get(f.dropletId);
    if (!d?.container) throw new Error(`droplet ${f.dropletId} has no container`);
    const b = this.opts.backend;
    if (f.kind === 'sshd_down') {
      if (!b.sshdDown) throw new Error('backend has no sshdDown hook');
      await b.sshdDown(d.container, f.seconds);
    } else {
      if (!b.diskFull) throw new Error('backend has no diskFull hook');
      await b.diskFull(d.container, f.on);
    }
  }

  // ------------------------------------------------------------------------------------------
  // HTTP plumbing

  private rateHeaders(): Record<string, string> {
    const t = Date.now();
    if (t - this.rate.windowStart > 3600_000) this.rate = { ...this.rate, remaining: this.rate.limit, windowStart: t };
    this.rate.remaining = Math.max(0, this.rate.remaining - 1);
    return {
      'ratelimit-limit': String(this.rate.limit),
      'ratelimit-remaining': String(this.rate.remaining),
      'ratelimit-reset': String(Math.floor((this.rate.windowStart + 3600_000) / 1000)),
    };
  }

  private send(res: ServerResponse, status: number, body: unknown, headers: Record<string, string>): void {
    const payload = body === undefined ? '' : JSON.stringify(body);
    res.writeHead(status, {
      ...headers,
      'content-type': 'application/json; charset=utf-8',
      'content-length': String(Buffer.byteLength(payload)),
    });
    res.end(payload);
  }

  private async readBody(req: IncomingMessage): Promise<string> {
    const chunks: Buffer[] = [];
    for await (const c of req) chunks.push(c as Buffer);
    return Buffer.concat(chunks).toString('utf8');
  }

  private async handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const requestId = randomUUID();
    const url = new URL(req.url ?? '/', this.baseUrl);
    const method = (req.method ?? 'GET').toUpperCase();
    const path = url.pathname;
    const query: Query = {};
    for (const [k, v] of url.searchParams) {
      const prev = query[k];
      query[k] = prev === undefined ? v : Array.isArray(prev) ? [...prev, v] : [prev, v];
    }
    const rawBody = await this.readBody(req);
    const headers = {
      ...this.rateHeaders(),
      'content-type': 'application/json; charset=utf-8',
      'x-request-id': requestId,
    };
    const fail = (status: number, id: string, message: string, extra: Record<string, string> = {}) =>
      this.send(res, status, errorBody(id, message, requestId), { ...headers, ...extra });

    const auth = req.headers.authorization ?? '';
    const authed = auth === `Bearer ${this.token}`;

    if (path.startsWith('/_lab/')) {
      if (!authed) return fail(401, 'unauthorized', 'Unable to authenticate you');
      try {
        const r = await this.control(method, path, rawBody);
        return this.send(res, r.status, r.body, headers);
      } catch (e) {
        return fail(
          e instanceof ApiError ? e.status : 400,
          e instanceof ApiError ? e.id : 'bad_request',
          (e as Error).message,
        );
      }
    }

    const op = this.spec.match(method, path);
    const violations: Violation[] = [];
    let body: unknown;
    let reply: Reply;
    try {
      if (rawBody.length) {
        try {
          body = JSON.parse(rawBody);
        } catch {
          throw new ApiError(400, 'bad_request', 'unexpected end of JSON input');
        }
      }
      if (this.validating) {
        this.tallyState.requests++;
        if (!op) {
          violations.push({
            operation: `${method} ${path}`,
            where: 'route',
            method,
            path,
            message: 'no operation in the spec matches this method and path',
          });
        } else {
          const v0 = performance.now();
          violations.push(
            ...this.spec.validateRequest(op, path, query, body, rawBody.length > 0, this.tallyState.warnings),
          );
          this.overhead.ms += performance.now() - v0;
        }
      }
      if (!authed) throw new ApiError(401, 'unauthorized', 'Unable to authenticate you');
      if (violations.length) {
        this.tallyState.violations.push(...violations);
        return fail(
          422,
          'lab_spec_violation',
          `request does not match the DigitalOcean OpenAPI spec: ${violations.map((v) => `${v.where} ${v.message}`).join('; ')}`,
        );
      }
      const fault = this.faults.forRequest(method, path);
      if (fault.latencyMs) await new Promise((r) => setTimeout(r, fault.latencyMs));
      if (fault.error?.kind === 'rate_limit') {
        throw new ApiError(429, 'too_many_requests', 'API Rate limit exceeded.', {
          'retry-after': String(fault.error.retryAfterSeconds ?? 1),
        });
      }
      if (fault.error?.kind === 'server_error') {
        throw new ApiError(fault.error.status ?? 500, 'server_error', 'Server was unable to give you a response.');
      }
      if (!op) throw notFound();
      reply = await this.route(method, path, query, body, op);
    } catch (e) {
      if (e instanceof ApiError) {
        reply = { status: e.status, body: errorBody(e.id, e.message, requestId), headers: e.headers };
      } else {
        console.error('[api-fake] handler error:', e);
        reply = { status: 500, body: errorBody('server_error', (e as Error).message, requestId) };
      }
    }
    if (this.opts.responseHook) reply = this.opts.responseHook(op?.id, reply);
    const outHeaders = { ...headers, ...(reply.headers ?? {}) };
    if (this.validating && op) {
      this.tallyState.responses++;
      const v0 = performance.now();
      const rv = this.spec.validateResponse(op, path, reply.status, outHeaders, reply.body);
      this.overhead.ms += performance.now() - v0;
      this.overhead.requests++;
      if (rv.length) {
        this.tallyState.violations.push(...rv);
        console.error(
          `[api-fake] RESPONSE SPEC VIOLATION ${method} ${path}:`,
          rv.map((v) => `${v.where} ${v.message}`).join('; '),
        );
        return fail(
          500,
          'lab_spec_violation',
          `the fake's response does not match the spec: ${rv.map((v) => `${v.where} ${v.message}`).join('; ')}`,
        );
      }
    }
    this.send(res, reply.status, reply.body, outHeaders);
  }

  /** Control endpoints (not part of the DigitalOcean API). */
  private async control(method: string, path: string, rawBody: string): Promise<Reply> {
    const body = rawBody ? JSON.parse(rawBody) : undefined;
    if (path === '/_lab/faults' && method === 'POST') {
      validateFault(body);
      return { status: 201, body: { id: await this.faults.add(body) } };
    }
    if (path === '/_lab/faults' && method === 'GET') return { status: 200, body: { faults: this.faults.list() } };
    if (path === '/_lab/faults' && method === 'DELETE') {
      this.faults.clear();
      return { status: 204 };
    }
    const fm = /^\/_lab\/faults\/(\d+)$/.exec(path);
    if (fm && method === 'DELETE') {
      this.faults.remove(Number(fm[1]));
      return { status: 204 };
    }
    if (path === '/_lab/tally' && method === 'GET')
      return { status: 200, body: { ...this.tally(), stats: this.stats() } };
    if (path === '/_lab/tally/reset' && method === 'POST') {
      this.resetTally();
      return { status: 204 };
    }
    const lm = /^\/_lab\/load_balancers\/([^/]+)\/health$/.exec(path);
    if (lm && method === 'GET') return { status: 200, body: { droplets: this.loadBalancerHealth(lm[1]!) } };
    const dm = /^\/_lab\/droplets\/(\d+)$/.exec(path);
    if (dm && method === 'GET') return { status: 200, body: this.dropletInfo(Number(dm[1])) };
    throw notFound();
  }

  // ------------------------------------------------------------------------------------------
  // routing

  private async route(
    method: string,
    path: string,
    query: Query,
    body: Json,
    op: Operation | undefined,
  ): Promise<Reply> {
    const m = `${method} ${op?.template ?? path}`;
    const p = op?.params ?? {};
    switch (m) {
      case 'GET /v2/account':
        return ok({ account: this.account() });
      case 'GET /v2/account/keys':
        return this.list('ssh_keys', [...this.sshKeys.values()], query, path, (k) => ({ ...k }));
      case 'POST /v2/account/keys':
        return { status: 201, body: { ssh_key: this.createKey(body) } };
      case 'GET /v2/account/keys/{ssh_key_identifier}':
        return ok({ ssh_key: { ...this.findKey(p.ssh_key_identifier!) } });
      case 'PUT /v2/account/keys/{ssh_key_identifier}': {
        const k = this.findKey(p.ssh_key_identifier!);
        if (typeof body?.name === 'string') k.name = body.name;
        return ok({ ssh_key: { ...k } });
      }
      case 'DELETE /v2/account/keys/{ssh_key_identifier}':
        this.sshKeys.delete(this.findKey(p.ssh_key_identifier!).id);
        return { status: 204 };

      case 'GET /v2/actions':
        return this.list('actions', [...this.actions.values()].reverse(), query, path, (a) => this.actionJson(a));
      case 'GET /v2/actions/{action_id}':
        return ok({ action: this.actionJson(this.findAction(p.action_id!)) });

      case 'GET /v2/regions':
        return this.list('regions', REGIONS, query, path, (r) => this.regionJson(r.slug));
      case 'GET /v2/sizes':
        return this.list('sizes', SIZES, query, path, (s) => this.sizeJson(s));

      case 'GET /v2/droplets':
        return this.listDroplets(query, path);
      case 'POST /v2/droplets':
        return this.createDroplets(body);
      case 'DELETE /v2/droplets':
        return this.deleteDropletsByTag(query);
      case 'GET /v2/droplets/{droplet_id}':
        return ok({ droplet: this.dropletJson(this.findDroplet(p.droplet_id!)) });
      case 'DELETE /v2/droplets/{droplet_id}':
        this.deleteDroplet(this.findDroplet(p.droplet_id!));
        return { status: 204 };
      case 'GET /v2/droplets/{droplet_id}/actions': {
        const d = this.findDroplet(p.droplet_id!);
        const acts = [...this.actions.values()]
          .filter((a) => a.resource_type === 'droplet' && a.resource_id === d.id)
          .reverse();
        return this.list('actions', acts, query, path, (a) => this.actionJson(a));
      }
      case 'POST /v2/droplets/{droplet_id}/actions':
        return {
          status: 201,
          body: { action: this.actionJson(this.dropletAction(this.findDroplet(p.droplet_id!), body)) },
        };
      case 'GET /v2/droplets/{droplet_id}/actions/{action_id}': {
        const d = this.findDroplet(p.droplet_id!);
        const a = this.findAction(p.action_id!);
        if (a.resource_id !== d.id) throw notFound();
        return ok({ action: this.actionJson(a) });
      }
      case 'GET /v2/droplets/{droplet_id}/snapshots': {
        const d = this.findDroplet(p.droplet_id!);
        const snaps = [...this.images.values()].filter((i) => i.sourceDropletId === d.id);
        return this.list('snapshots', snaps, query, path, (i) => ({
          id: i.id,
          name: i.name,
          created_at: i.created_at,
          regions: i.regions,
          min_disk_size: i.min_disk_size,
          size_gigabytes: i.size_gigabytes,
          type: 'snapshot',
        }));
      }
      case 'GET /v2/droplets/{droplet_id}/firewalls': {
        const d = this.findDroplet(p.droplet_id!);
        const fws = [...this.firewalls.values()].filter(
          (f) => f.droplet_ids.includes(d.id) || f.tags.some((t) => d.tags.includes(t)),
        );
        return this.list('firewalls', fws, query, path, (f) => this.firewallJson(f));
      }

      case 'GET /v2/snapshots': {
        const rt = q1(query, 'resource_type');
        const snaps = rt && rt !== 'droplet' ? [] : [...this.images.values()].filter((i) => i.ref);
        return this.list('snapshots', snaps, query, path, (i) => this.snapshotJson(i));
      }
      case 'GET /v2/snapshots/{snapshot_id}':
        return ok({ snapshot: this.snapshotJson(this.findSnapshot(p.snapshot_id!)) });
      case 'DELETE /v2/snapshots/{snapshot_id}':
        await this.deleteImage(this.findSnapshot(p.snapshot_id!));
        return { status: 204 };

      case 'GET /v2/images': {
        const type = q1(query, 'type');
        const priv = q1(query, 'private');
        const tag = q1(query, 'tag_name');
        let imgs = [...this.images.values()];
        if (type === 'distribution') imgs = imgs.filter((i) => i.public && i.type === 'base');
        if (type === 'application') imgs = imgs.filter((i) => i.public && i.type !== 'base');
        if (priv === 'true') imgs = imgs.filter((i) => !i.public);
        if (tag) imgs = imgs.filter((i) => i.tags.includes(tag));
        return this.list('images', imgs, query, path, (i) => this.imageJson(i));
      }
      case 'GET /v2/images/{image_id}':
        return ok({ image: this.imageJson(this.findImage(p.image_id!)) });
      case 'DELETE /v2/images/{image_id}': {
        const img = this.findImage(p.image_id!);
        if (img.public) throw unprocessable('You cannot delete a public image.');
        await this.deleteImage(img);
        return { status: 204 };
      }

      case 'GET /v2/tags':
        return this.list('tags', [...this.tags].sort(), query, path, (t) => this.tagJson(t));
      case 'POST /v2/tags': {
        const name = String(body?.name ?? '');
        this.checkTagName(name);
        this.tags.add(name);
        return { status: 201, body: { tag: this.tagJson(name) } };
      }
      case 'GET /v2/tags/{tag_id}':
        return ok({ tag: this.tagJson(this.findTag(p.tag_id!)) });
      case 'DELETE /v2/tags/{tag_id}': {
        const t = this.findTag(p.tag_id!);
        this.tags.delete(t);
        for (const d of this.droplets.values()) d.tags = d.tags.filter((x) => x !== t);
        for (const f of this.firewalls.values()) f.tags = f.tags.filter((x) => x !== t);
        for (const i of this.images.values()) i.tags = i.tags.filter((x) => x !== t);
        return { status: 204 };
      }
      case 'POST /v2/tags/{tag_id}/resources':
      case 'DELETE /v2/tags/{tag_id}/resources': {
        const t = this.findTag(p.tag_id!);
        const resources: Json[] = body?.resources ?? [];
        for (const r of resources) {
          if (r.resource_type === 'image') {
            // droplet snapshots are images (snapshot-and-backup tags the snapshots it makes)
            const img = this.findImage(String(r.resource_id));
            if (method === 'POST' && !img.tags.includes(t)) img.tags.push(t);
            if (method === 'DELETE') img.tags = img.tags.filter((x) => x !== t);
            continue;
          }
          if (r.resource_type !== 'droplet')
            throw unprocessable(`resource type ${r.resource_type} is not supported by the lab`);
          const d = this.findDroplet(String(r.resource_id));
          if (method === 'POST' && !d.tags.includes(t)) d.tags.push(t);
          if (method === 'DELETE') d.tags = d.tags.filter((x) => x !== t);
        }
        return { status: 204 };
      }

      case 'GET /v2/firewalls':
        return this.list('firewalls', [...this.firewalls.values()], query, path, (f) => this.firewallJson(f));
      case 'POST /v2/firewalls':
        return { status: 202, body: { firewall: this.firewallJson(this.saveFirewall(undefined, body)) } };
      case 'GET /v2/firewalls/{firewall_id}':
        return ok({ firewall: this.firewallJson(this.findFirewall(p.firewall_id!)) });
      case 'PUT /v2/firewalls/{firewall_id}':
        return ok({ firewall: this.firewallJson(this.saveFirewall(this.findFirewall(p.firewall_id!), body)) });
      case 'DELETE /v2/firewalls/{firewall_id}':
        this.firewalls.delete(this.findFirewall(p.firewall_id!).id);
        return { status: 204 };
      case 'POST /v2/firewalls/{firewall_id}/droplets':
      case 'DELETE /v2/firewalls/{firewall_id}/droplets': {
        const f = this.findFirewall(p.firewall_id!);
        const ids: number[] = body?.droplet_ids ?? [];
        for (const id of ids) this.findDroplet(String(id));
        f.droplet_ids =
          method === 'POST' ? [...new Set([...f.droplet_ids, ...ids])] : f.droplet_ids.filter((x) => !ids.includes(x));
        return { status: 204 };
      }
      case 'POST /v2/firewalls/{firewall_id}/tags':
      case 'DELETE /v2/firewalls/{firewall_id}/tags': {
        const f = this.findFirewall(p.firewall_id!);
        const tags: string[] = body?.tags ?? [];
        for (const t of tags) if (method === 'POST') this.findTag(t);
        f.tags = method === 'POST' ? [...new Set([...f.tags, ...tags])] : f.tags.filter((x) => !tags.includes(x));
        return { status: 204 };
      }
      case 'POST /v2/firewalls/{firewall_id}/rules':
      case 'DELETE /v2/firewalls/{firewall_id}/rules': {
        const f = this.findFirewall(p.firewall_id!);
        const key = (r: Json) => JSON.stringify(r);
        for (const k of ['inbound_rules', 'outbound_rules'] as const) {
          const given: Json[] = body?.[k] ?? [];
          if (method === 'POST') f[k] = [...f[k], ...given];
          else f[k] = f[k].filter((r) => !given.some((g) => key(g) === key(r)));
        }
        return { status: 204 };
      }

      case 'GET /v2/load_balancers':
        return this.list('load_balancers', [...this.lbs.values()], query, path, (l) => this.lbJson(l));
      case 'POST /v2/load_balancers':
        return { status: 202, body: { load_balancer: this.lbJson(this.saveLb(undefined, body)) } };
      case 'GET /v2/load_balancers/{lb_id}':
        return ok({ load_balancer: this.lbJson(this.findLb(p.lb_id!)) });
      case 'PUT /v2/load_balancers/{lb_id}':
        return ok({ load_balancer: this.lbJson(this.saveLb(this.findLb(p.lb_id!), body)) });
      case 'DELETE /v2/load_balancers/{lb_id}': {
        const lb = this.findLb(p.lb_id!);
        this.lbs.delete(lb.id);
        await lb.runtime?.close();
        return { status: 204 };
      }
      case 'POST /v2/load_balancers/{lb_id}/droplets':
      case 'DELETE /v2/load_balancers/{lb_id}/droplets': {
        const lb = this.findLb(p.lb_id!);
        if (lb.tag)
          throw unprocessable('This load balancer uses a tag to select its Droplets; droplet_ids cannot be changed.');
        const ids: number[] = body?.droplet_ids ?? [];
        for (const id of ids) this.findDroplet(String(id));
        lb.droplet_ids =
          method === 'POST'
            ? [...new Set([...lb.droplet_ids, ...ids])]
            : lb.droplet_ids.filter((x) => !ids.includes(x));
        return { status: 204 };
      }
      case 'POST /v2/load_balancers/{lb_id}/forwarding_rules':
      case 'DELETE /v2/load_balancers/{lb_id}/forwarding_rules': {
        const lb = this.findLb(p.lb_id!);
        const given: Json[] = body?.forwarding_rules ?? [];
        const same = (a: Json, b: Json) => a.entry_port === b.entry_port && a.entry_protocol === b.entry_protocol;
        const rules: Json[] = lb.spec.forwarding_rules ?? [];
        lb.spec.forwarding_rules =
          method === 'POST' ? [...rules, ...given] : rules.filter((r) => !given.some((g) => same(g, r)));
        this.startLb(lb);
        return { status: 204 };
      }

      case 'GET /v2/reserved_ips':
        return this.list('reserved_ips', [...this.reservedIps.values()], query, path, (r) => this.reservedIpJson(r));
      case 'POST /v2/reserved_ips':
        return this.createReservedIp(body);
      case 'GET /v2/reserved_ips/{reserved_ip}':
        return ok({ reserved_ip: this.reservedIpJson(this.findReservedIp(p.reserved_ip!)) });
      case 'DELETE /v2/reserved_ips/{reserved_ip}': {
        const r = this.findReservedIp(p.reserved_ip!);
        this.reservedIps.delete(r.ip);
        await r.runtime?.close();
        return { status: 204 };
      }
      case 'GET /v2/reserved_ips/{reserved_ip}/actions': {
        const r = this.findReservedIp(p.reserved_ip!);
        const acts = [...this.actions.values()].filter((a) => a.reservedIp === r.ip).reverse();
        // the spec's list schema is the plain action (no project_id); single GET/POST include it
        return this.list('actions', acts, query, path, (a) => this.actionJson(a));
      }
      case 'POST /v2/reserved_ips/{reserved_ip}/actions':
        return {
          status: 201,
          body: { action: this.actionJson(this.reservedIpAction(this.findReservedIp(p.reserved_ip!), body), true) },
        };
      case 'GET /v2/reserved_ips/{reserved_ip}/actions/{action_id}': {
        const r = this.findReservedIp(p.reserved_ip!);
        const a = this.findAction(p.action_id!);
        if (a.reservedIp !== r.ip) throw notFound();
        return ok({ action: this.actionJson(a, true) });
      }

      case 'GET /v2/registry':
        return ok({ registry: this.registryJson() });
      case 'GET /v2/registry/docker-credentials':
        return ok(this.dockerCredentials(query));

      case 'GET /v2/databases': {
        const tag = q1(query, 'tag_name');
        return ok({ databases: this.databases.filter((d) => !tag || d.tags.includes(tag)) });
      }
      case 'GET /v2/databases/{database_cluster_uuid}': {
        const db = this.databases.find((d) => d.id === p.database_cluster_uuid);
        if (!db) throw notFound();
        return ok({ database: db });
      }
      default:
        throw new ApiError(
          404,
          'not_found',
          `The lab's API fake does not implement ${method} ${op?.template ?? path}.`,
        );
    }
  }

  private list<T>(key: string, items: T[], query: Query, path: string, map: (t: T) => unknown): Reply {
    const pg = paginate(items, query, this.baseUrl, path);
    return ok({ [key]: pg.page.map(map), links: pg.links, meta: pg.meta });
  }

  // ------------------------------------------------------------------------------------------
  // finders

  private findDroplet(id: string): DropletRec {
    const d = /^\d+$/.test(id) ? this.droplets.get(Number(id)) : undefined;
    if (!d || d.deleted) throw notFound();
    return d;
  }
  private findAction(id: string): ActionRec {
    const a = /^\d+$/.test(id) ? this.actions.get(Number(id)) : undefined;
    if (!a) throw notFound();
    return a;
  }
  private findImage(id: string): ImageRec {
    const img = /^\d+$/.test(id) ? this.images.get(Number(id)) : [...this.images.values()].find((i) => i.slug === id);
    if (!img) throw notFound();
    return img;
  }
  private findSnapshot(id: string): ImageRec {
    const img = /^\d+$/.test(id) ? this.images.get(Number(id)) : undefined;
    if (!img?.ref) throw notFound();
    return img;
  }
  private findKey(idOrFp: string): SshKeyRec {
    const k = /^\d+$/.test(idOrFp)
      ? this.sshKeys.get(Number(idOrFp))
      : [...this.sshKeys.values()].find((x) => x.fingerprint === idOrFp);
    if (!k) throw notFound();
    return k;
  }
  private findTag(name: string): string {
    if (!this.tags.has(name)) throw notFound();
    return name;
  }
  private findFirewall(id: string): FirewallRec {
    const f = this.firewalls.get(id);
    if (!f) throw notFound();
    return f;
  }
  private findLb(id: string): LbRec {
    const l = this.lbs.get(id);
    if (!l) throw notFound();
    return l;
  }
  private findReservedIp(ip: string): ReservedIpRec {
    const r = this.reservedIps.get(ip);
    if (!r) throw notFound();
    return r;
  }

  // ------------------------------------------------------------------------------------------
  // serializers

  private account(): Json {
    return {
      droplet_limit: 25,
      floating_ip_limit: 3,
      email: this.opts.email ?? 'lab@droplet-deploy.test',
      name: 'Lab',
      uuid: this.accountUuid,
      email_verified: true,
      status: 'active',
      status_message: '',
      team: { uuid: this.accountUuid, name: 'Lab team' },
    };
  }

  private regionJson(slug: string): Json {
    const r = REGIONS.find((x) => x.slug === slug)!;
    return { name: r.name, slug: r.slug, features: REGION_FEATURES, available: true, sizes: SIZES.map((s) => s.slug) };
  }

  private sizeJson(s: SizeDef): Json {
    return {
      slug: s.slug,
      memory: s.memory,
      vcpus: s.vcpus,
      disk: s.disk,
      transfer: s.transfer,
      price_monthly: s.price_monthly,
      price_hourly: s.price_hourly,
      regions: REGIONS.map((r) => r.slug),
      available: true,
      description: s.description,
      disk_info: [{ type: 'local', size: { amount: s.disk, unit: 'gib' } }],
    };
  }

  private imageJson(i: ImageRec): Json {
    return {
      id: i.id,
      name: i.name,
      type: i.type,
      distribution: i.distribution,
      slug: i.slug,
      public: i.public,
      regions: i.regions,
      created_at: i.created_at,
      min_disk_size: i.min_disk_size,
      size_gigabytes: i.size_gigabytes,
      description: i.description,
      tags: i.tags,
      status: i.status,
      error_message: i.error_message,
    };
  }

  private snapshotJson(i: ImageRec): Json {
    return {
      id: String(i.id),
      name: i.name,
      created_at: i.created_at,
      regions: i.regions,
      min_disk_size: i.min_disk_size,
      size_gigabytes: i.size_gigabytes,
      resource_id: String(i.sourceDropletId ?? ''),
      resource_type: 'droplet',
      tags: i.tags,
    };
  }

  private dropletJson(d: DropletRec): Json {
    const pn = this.opts.backend.privateNetwork;
    const v4: Json[] = [];
    if (d.publicIpv4) v4.push({ ip_address: d.publicIpv4, netmask: '255.0.0.0', gateway: '127.0.0.1', type: 'public' });
    if (d.privateIpv4) {
      v4.push({
        ip_address: d.privateIpv4,
        netmask: pn?.netmask ?? '255.255.255.0',
        gateway: pn?.gateway ?? d.privateIpv4.replace(/\.\d+$/, '.1'),
        type: 'private',
      });
    }
    return {
      id: d.id,
      name: d.name,
      memory: d.size.memory,
      vcpus: d.size.vcpus,
      disk: d.size.disk,
      disk_info: [{ type: 'local', size: { amount: d.size.disk, unit: 'gib' } }],
      locked: false,
      status: d.status,
      kernel: null,
      created_at: d.created_at,
      features: d.features,
      backup_ids: [],
      next_backup_window: null,
      snapshot_ids: d.snapshot_ids.filter((id) => this.images.has(id)),
      image: this.imageJson(d.image),
      volume_ids: [],
      size: this.sizeJson(d.size),
      size_slug: d.size.slug,
      networks: { v4, v6: [] },
      region: this.regionJson(d.region),
      tags: d.tags,
      vpc_uuid: d.vpc_uuid,
    };
  }

  private actionJson(a: ActionRec, withProject = false): Json {
    return {
      id: a.id,
      status: a.status,
      type: a.type,
      started_at: a.started_at,
      completed_at: a.completed_at,
      resource_id: a.resource_id,
      resource_type: a.resource_type,
      region: this.regionJson(a.region_slug),
      region_slug: a.region_slug,
      ...(withProject ? { project_id: this.projectId } : {}),
    };
  }

  private tagJson(name: string): Json {
    const ds = [...this.droplets.values()].filter((d) => !d.deleted && d.tags.includes(name));
    const imgs = [...this.images.values()].filter((i) => i.tags.includes(name));
    const lastDroplet = ds.length ? `/v2/droplets/${ds[ds.length - 1]!.id}` : '';
    const lastImage = imgs.length ? `/v2/images/${imgs[imgs.length - 1]!.id}` : '';
    const none = { count: 0, last_tagged_uri: '' };
    // (the spec names the per-type image counter `imgages`; the fake leaves that typo out and counts
    // tagged images in the total only)
    return {
      name,
      resources: {
        count: ds.length + imgs.length,
        last_tagged_uri: lastDroplet || lastImage,
        droplets: { count: ds.length, last_tagged_uri: lastDroplet },
        volumes: none,
        volume_snapshots: none,
        databases: none,
      },
    };
  }

  private firewallJson(f: FirewallRec): Json {
    return {
      id: f.id,
      status: 'succeeded',
      created_at: f.created_at,
      pending_changes: [],
      name: f.name,
      droplet_ids: f.droplet_ids.filter((id) => this.droplets.get(id) && !this.droplets.get(id)!.deleted),
      tags: f.tags,
      inbound_rules: f.inbound_rules,
      outbound_rules: f.outbound_rules,
    };
  }

  private lbMembers(lb: LbRec): DropletRec[] {
    const all = [...this.droplets.values()].filter((d) => !d.deleted);
    return lb.tag ? all.filter((d) => d.tags.includes(lb.tag)) : all.filter((d) => lb.droplet_ids.includes(d.id));
  }

  private lbJson(lb: LbRec): Json {
    const s = lb.spec;
    const hc = this.healthCheck(s.health_check);
    return {
      id: lb.id,
      name: lb.name,
      project_id: this.projectId,
      ip: lb.ip,
      ipv6: '',
      size_unit: s.size_unit ?? 1,
      size: s.size ?? 'lb-small',
      algorithm: s.algorithm ?? 'round_robin',
      status: lb.status,
      created_at: lb.created_at,
      forwarding_rules: (s.forwarding_rules ?? []).map((r: Json) => ({
        entry_protocol: r.entry_protocol,
        entry_port: r.entry_port,
        target_protocol: r.target_protocol,
        target_port: r.target_port,
        certificate_id: r.certificate_id ?? '',
        tls_passthrough: r.tls_passthrough ?? false,
      })),
      health_check: hc,
      sticky_sessions: {
        type: s.sticky_sessions?.type ?? 'none',
        cookie_name: s.sticky_sessions?.cookie_name ?? '',
        cookie_ttl_seconds: s.sticky_sessions?.cookie_ttl_seconds ?? 0,
      },
      redirect_http_to_https: s.redirect_http_to_https ?? false,
      enable_proxy_protocol: s.enable_proxy_protocol ?? false,
      enable_backend_keepalive: s.enable_backend_keepalive ?? false,
      http_idle_timeout_seconds: s.http_idle_timeout_seconds ?? 60,
      vpc_uuid: s.vpc_uuid ?? this.vpcUuid,
      disable_lets_encrypt_dns_records: s.disable_lets_encrypt_dns_records ?? false,
      firewall: { deny: s.firewall?.deny ?? [], allow: s.firewall?.allow ?? [] },
      network: s.network ?? 'EXTERNAL',
      network_stack: s.network_stack ?? 'IPV4',
      type: s.type ?? 'REGIONAL',
      domains: [],
      glb_settings: {
        target_protocol: 'http',
        target_port: 80,
        cdn: { is_enabled: false },
        region_priorities: {},
        failover_threshold: 50,
      },
      target_load_balancer_ids: [],
      tls_cipher_policy: s.tls_cipher_policy ?? 'DEFAULT',
      region: this.regionJson(lb.region),
      droplet_ids: this.lbMembers(lb).map((d) => d.id),
      tag: lb.tag,
    };
  }

  private healthCheck(h: Json): HealthCheck {
    return {
      protocol: h?.protocol ?? 'http',
      port: h?.port ?? 80,
      path: h?.path ?? '/',
      check_interval_seconds: h?.check_interval_seconds ?? 10,
      response_timeout_seconds: h?.response_timeout_seconds ?? 5,
      unhealthy_threshold: h?.unhealthy_threshold ?? 5,
      healthy_threshold: h?.healthy_threshold ?? 3,
    };
  }

  private reservedIpJson(r: ReservedIpRec): Json {
    const d = r.dropletId !== null ? this.droplets.get(r.dropletId) : undefined;
    return {
      ip: r.ip,
      region: this.regionJson(r.region),
      droplet: d && !d.deleted ? this.dropletJson(d) : null,
      locked: false,
      project_id: r.project_id,
    };
  }

  private registryJson(): Json {
    const reg = this.opts.registry;
    if (!reg) throw notFound();
    const t = '2026-01-01T00:00:00Z';
    return {
      name: reg.name,
      created_at: t,
      region: reg.region ?? 'fra1',
      storage_usage_bytes: 0,
      storage_usage_bytes_updated_at: now(),
      subscription: {
        tier: {
          name: 'Basic',
          slug: 'basic',
          included_repositories: 5,
          included_storage_bytes: 5368709120,
          allow_storage_overage: true,
          included_bandwidth_bytes: 5368709120,
          monthly_price_in_cents: 500,
          storage_overage_price_in_cents: 2,
        },
        created_at: t,
        updated_at: t,
      },
    };
  }

  /**
   * Docker credentials for the lab registry. The spec documents `auths` with the single key
   * `registry.digitalocean.com`; the fake sends that key AND the lab registry's host:port, both with
   * the same auth, so a client that writes the object as ~/.docker/config.json can log into the lab
   * registry (tightening treats `auths` as the host-keyed map it is; see spec.ts).
   */
  private dockerCredentials(query: Query): Json {
    const reg = this.opts.registry;
    if (!reg) throw notFound();
    const auth = Buffer.from(`${reg.username ?? 'lab'}:${reg.password ?? 'lab'}`).toString('base64');
    void query;
    return { auths: { 'registry.digitalocean.com': { auth }, [reg.host]: { auth } } };
  }

  private makeDatabase(o: DatabaseOption): Json {
    const ssl = o.sslmode === 'require';
    const conn = (host: string, port: number) => ({
      uri: `postgresql://${encodeURIComponent(o.user)}:${encodeURIComponent(o.password)}@${host}:${port}/${o.database}?sslmode=${o.sslmode ?? 'disable'}`,
      database: o.database,
      host,
      port,
      user: o.user,
      password: o.password,
      ssl,
    });
    const version = o.version ?? '16';
    return {
      id: o.id ?? randomUUID(),
      name: o.name,
      engine: o.engine ?? 'pg',
      version,
      semantic_version: `${version}.0`,
      num_nodes: 1,
      size: 'db-s-1vcpu-1gb',
      region: o.region ?? 'fra1',
      status: 'online',
      created_at: now(),
      private_network_uuid: this.vpcUuid,
      tags: [],
      db_names: [o.database],
      connection: conn(o.host, o.port),
      private_connection: conn(o.privateHost ?? o.host, o.privatePort ?? o.port),
      standby_connection: conn(o.host, o.port),
      standby_private_connection: conn(o.privateHost ?? o.host, o.privatePort ?? o.port),
      users: [{ name: o.user, role: 'primary', password: o.password }],
      maintenance_window: { day: 'tuesday', hour: '01:00:00', pending: false, description: [] },
      version_end_of_life: '2028-11-09T00:00:00Z',
      version_end_of_availability: '2028-05-09T00:00:00Z',
      storage_size_mib: 10240,
      do_settings: { service_cnames: [] },
    };
  }

  // ------------------------------------------------------------------------------------------
  // ssh keys

  private createKey(body: Json): SshKeyRec {
    const name = String(body?.name ?? '');
    const publicKey = String(body?.public_key ?? '').trim();
    if (!name) throw unprocessable('Name is required');
    const fingerprint = md5Fingerprint(publicKey);
    if ([...this.sshKeys.values()].some((k) => k.fingerprint === fingerprint))
      throw unprocessable('SSH Key is already in use on your account');
    const k = { id: ++this.keySeq, name, public_key: publicKey, fingerprint };
    this.sshKeys.set(k.id, k);
    return k;
  }

  // ------------------------------------------------------------------------------------------
  // droplets

  private checkTagName(name: string): void {
    if (!name || name.length > 255 || !TAG_RE.test(name))
      throw unprocessable('Tag names may only contain letters, numbers, colons, dashes and underscores.');
  }

  private newAction(type: string, resourceType: string, resourceId: number | null, region: string): ActionRec {
    const a: ActionRec = {
      id: ++this.actionSeq,
      status: 'in-progress',
      type,
      started_at: now(),
      completed_at: null,
      resource_id: resourceId,
      resource_type: resourceType,
      region_slug: region,
    };
    this.actions.set(a.id, a);
    return a;
  }

  private finishAction(a: ActionRec, ok: boolean): void {
    a.status = ok ? 'completed' : 'errored';
    a.completed_at = now();
  }

  private resolveImage(image: unknown): ImageRec {
    if (image === undefined || image === null || image === '') throw unprocessable('You must specify an image.');
    const img =
      typeof image === 'number' || /^\d+$/.test(String(image))
        ? this.images.get(Number(image))
        : [...this.images.values()].find((i) => i.slug === image);
    if (!img) throw unprocessable('You specified an invalid image for Droplet creation.');
    return img;
  }

  private resolveKeys(keys: unknown[]): string[] {
    return keys.map((k) => {
      const found =
        typeof k === 'number' || /^\d+$/.test(String(k))
          ? this.sshKeys.get(Number(k))
          : [...this.sshKeys.values()].find((x) => x.fingerprint === k);
      if (!found) throw unprocessable(`The ssh_key ${String(k)} is invalid or does not belong to you.`);
      return found.public_key;
    });
  }

  private createDroplets(body: Json): Reply {
    const multi = Array.isArray(body?.names);
    const names: string[] = multi ? body.names : [body?.name];
    if (!names.length || names.length > 10) throw unprocessable('You may only create up to 10 Droplets at a time.');
    for (const n of names) {
      if (typeof n !== 'string' || !n || n.length > 255 || !HOST_RE.test(n))
        throw unprocessable('Only valid hostname characters are allowed. (a-z, A-Z, 0-9, . and -)');
    }
    let region: string = body.region ?? 'nyc3';
    const exact = REGIONS.find((r) => r.slug === region);
    const prefixed = REGIONS.find((r) => r.slug.startsWith(region) && /^[a-z]+$/.test(region));
    if (!exact && !prefixed) throw unprocessable('You specified an invalid region for Droplet creation.');
    region = (exact ?? prefixed)!.slug;
    const size = SIZES.find((s) => s.slug === body.size);
    if (!size) throw unprocessable('You specified an invalid size for Droplet creation.');
    const image = this.resolveImage(body.image);
    if (image.type !== 'base' && !image.public && !image.regions.includes(region))
      throw unprocessable('The image is not available in the region you specified.');
    const keys = this.resolveKeys(body.ssh_keys ?? []);
    const tags: string[] = body.tags ?? [];
    for (const t of tags) this.checkTagName(t);
    if (typeof body.user_data === 'string' && Buffer.byteLength(body.user_data) > 64 * 1024)
      throw unprocessable('user_data must not exceed 64 KiB.');
    const features = ['droplet_agent', 'private_networking'];
    if (body.monitoring) features.push('monitoring');
    if (body.ipv6) features.push('ipv6');
    const created: DropletRec[] = [];
    const actions: ActionRec[] = [];
    for (const name of names) {
      for (const t of tags) this.tags.add(t);
      const d: DropletRec = {
        id: ++this.dropletSeq,
        name,
        region,
        size,
        image,
        status: 'new',
        created_at: now(),
        tags: [...tags],
        variant: image.variant,
        userData: body.user_data,
        authorizedKeys: keys,
        snapshot_ids: [],
        vpc_uuid: body.vpc_uuid ?? this.vpcUuid,
        features,
        deleted: false,
      };
      this.droplets.set(d.id, d);
      const a = this.newAction('create', 'droplet', d.id, region);
      d.pendingAction = a.id;
      created.push(d);
      actions.push(a);
      this.track(this.boot(d, a));
    }
    const links = {
      actions: actions.map((a) => ({ id: a.id, rel: 'create', href: `${this.baseUrl}/v2/actions/${a.id}` })),
    };
    return {
      status: 202,
      body: multi
        ? { droplets: created.map((d) => this.dropletJson(d)), links }
        : { droplet: this.dropletJson(created[0]!), links },
    };
  }

  private createSpec(d: DropletRec, fromSnapshot?: string): DropletCreateSpec {
    return {
      name: d.name,
      variant: d.variant,
      userData: d.userData,
      authorizedKeys: d.authorizedKeys,
      ...(this.opts.dropletExtraPorts?.length ? { extraPorts: this.opts.dropletExtraPorts } : {}),
      fromSnapshot,
      dropletId: d.id,
    };
  }

  /** Start the droplet through the backend; `active` + action completed when its container runs. */
  private async boot(d: DropletRec, a: ActionRec): Promise<void> {
    if (this.faults.neverActive(d.name)) return; // stays `new`, action stays in-progress
    if (this.faults.actionErrors('create')) {
      this.finishAction(a, false);
      d.pendingAction = undefined;
      return;
    }
    try {
      const h = await this.opts.backend.create(this.createSpec(d, d.image.ref));
      if (d.deleted || this.closed) {
        await this.opts.backend.destroy(h.container);
        return;
      }
      d.container = h.container;
      d.publicIpv4 = h.publicIpv4;
      d.privateIpv4 = h.privateIpv4;
      await this.waitRunning(d);
      d.status = 'active';
      this.finishAction(a, true);
    } catch (e) {
      console.error(`[api-fake] droplet ${d.name} failed to start:`, e);
      this.finishAction(a, false);
    } finally {
      d.pendingAction = undefined;
    }
  }

  private async waitRunning(d: DropletRec): Promise<void> {
    const deadline = Date.now() + 120_000;
    while (!this.closed && d.container && !(await this.opts.backend.isRunning(d.container))) {
      if (Date.now() > deadline) throw new Error(`droplet ${d.name} did not start within 120 s`);
      await new Promise((r) => setTimeout(r, this.opts.pollMs ?? 200));
    }
  }

  private listDroplets(query: Query, path: string): Reply {
    const tag = q1(query, 'tag_name');
    const name = q1(query, 'name');
    if (tag && name) throw unprocessable('tag_name cannot be combined with name.');
    let ds = [...this.droplets.values()].filter((d) => !d.deleted);
    if (tag) ds = ds.filter((d) => d.tags.includes(tag));
    if (name) ds = ds.filter((d) => d.name.toLowerCase() === name.toLowerCase());
    if (q1(query, 'type') === 'gpus') ds = [];
    return this.list('droplets', ds, query, path, (d) => this.dropletJson(d));
  }

  private deleteDroplet(d: DropletRec): void {
    d.deleted = true;
    this.droplets.delete(d.id);
    for (const lb of this.lbs.values()) lb.droplet_ids = lb.droplet_ids.filter((x) => x !== d.id);
    for (const f of this.firewalls.values()) f.droplet_ids = f.droplet_ids.filter((x) => x !== d.id);
    for (const r of this.reservedIps.values()) if (r.dropletId === d.id) r.dropletId = null;
    if (d.container) {
      const c = d.container;
      this.track(this.opts.backend.destroy(c));
    }
  }

  private deleteDropletsByTag(query: Query): Reply {
    const tag = q1(query, 'tag_name');
    if (!tag) throw unprocessable('tag_name is required to delete Droplets by tag.');
    for (const d of [...this.droplets.values()]) if (!d.deleted && d.tags.includes(tag)) this.deleteDroplet(d);
    return { status: 204 };
  }

  private dropletAction(d: DropletRec, body: Json): ActionRec {
    const type = String(body?.type ?? '');
    const known = [
      'snapshot',
      'power_off',
      'power_on',
      'shutdown',
      'reboot',
      'power_cycle',
      'rebuild',
      'restore',
      'rename',
      'enable_private_networking',
    ];
    if (!known.includes(type)) throw unprocessable(`The lab's API fake does not support the droplet action "${type}".`);
    if (d.pendingAction !== undefined) throw unprocessable('Droplet already has a pending event.');
    if (d.status === 'new') throw unprocessable('Droplet is not yet active.');
    let image: ImageRec | undefined;
    if (type === 'rebuild' || type === 'restore') {
      image = type === 'restore' ? this.images.get(Number(body.image)) : this.resolveImage(body.image);
      if (!image || (type === 'restore' && !image.ref)) throw unprocessable('You specified an invalid image.');
    }
    if (type === 'rename') {
      if (typeof body.name !== 'string' || !HOST_RE.test(body.name))
        throw unprocessable('Only valid hostname characters are allowed.');
    }
    const a = this.newAction(type, 'droplet', d.id, d.region);
    d.pendingAction = a.id;
    this.track(this.runDropletAction(d, a, body, image));
    return a;
  }

  private async runDropletAction(d: DropletRec, a: ActionRec, body: Json, image: ImageRec | undefined): Promise<void> {
    const b = this.opts.backend;
    try {
      if (this.faults.actionErrors(a.type)) {
        this.finishAction(a, false);
        return;
      }
      const c = d.container;
      if (!c) throw new Error('droplet has no container');
      switch (a.type) {
        case 'snapshot': {
          const ref = await b.snapshot(c);
          const img: ImageRec = {
            id: ++this.imageSeq,
            name: typeof body.name === 'string' && body.name ? body.name : `${d.name}-${Date.now()}`,
            type: 'snapshot',
            distribution: d.image.distribution,
            slug: null,
            public: false,
            regions: [d.region],
            created_at: now(),
            min_disk_size: d.size.disk,
            size_gigabytes: 1.25,
            description: '',
            tags: [],
            status: 'available',
            error_message: '',
            variant: d.variant,
            ref,
            sourceDropletId: d.id,
          };
          this.images.set(img.id, img);
          d.snapshot_ids.push(img.id);
          break;
        }
        case 'power_off':
        case 'shutdown':
          // power_off = pull the plug; shutdown = graceful (the backend may stop inner containers first)
          await b.powerOff(c, { graceful: a.type === 'shutdown' });
          d.status = 'off';
          break;
        case 'power_on':
          await b.powerOn(c);
          await this.waitRunning(d);
          d.status = 'active';
          break;
        case 'reboot':
        case 'power_cycle':
          await b.reboot(c);
          await this.waitRunning(d);
          d.status = 'active';
          break;
        case 'rebuild':
        case 'restore': {
          const img = image!;
          d.image = img;
          d.variant = img.variant;
          const spec = this.createSpec(d, img.ref);
          if (b.rebuild) {
            const h = await b.rebuild(c, spec);
            Object.assign(d, { container: h.container, publicIpv4: h.publicIpv4, privateIpv4: h.privateIpv4 });
          } else {
            await b.destroy(c);
            const h = await b.create(spec);
            Object.assign(d, { container: h.container, publicIpv4: h.publicIpv4, privateIpv4: h.privateIpv4 });
          }
          await this.waitRunning(d);
          d.status = 'active';
          break;
        }
        case 'rename':
          d.name = body.name;
          break;
        default:
          break;
      }
      this.finishAction(a, true);
    } catch (e) {
      console.error(`[api-fake] action ${a.type} on ${d.name} failed:`, e);
      this.finishAction(a, false);
    } finally {
      d.pendingAction = undefined;
    }
  }

  private async deleteImage(img: ImageRec): Promise<void> {
    this.images.delete(img.id);
    if (img.ref) await this.opts.backend.deleteSnapshot(img.ref);
  }

  // ------------------------------------------------------------------------------------------
  // firewalls (rules are stored, NOT enforced)

  private saveFirewall(existing: FirewallRec | undefined, body: Json): FirewallRec {
    const name = String(body?.name ?? '');
    if (!name || !/^[a-zA-Z0-9][a-zA-Z0-9.-]*$/.test(name) || name.length > 255) throw unprocessable('name is invalid');
    const dropletIds: number[] = body.droplet_ids ?? [];
    for (const id of dropletIds) this.findDroplet(String(id));
    const tags: string[] = body.tags ?? [];
    for (const t of tags) this.checkTagName(t);
    const inbound: Json[] = body.inbound_rules ?? [];
    const outbound: Json[] = body.outbound_rules ?? [];
    if (!inbound.length && !outbound.length) throw unprocessable('At least one rule must be specified.');
    for (const r of [...inbound, ...outbound]) {
      if (!['tcp', 'udp', 'icmp'].includes(r.protocol)) throw unprocessable('protocol must be tcp, udp or icmp');
      if (r.protocol !== 'icmp' && (r.ports === undefined || r.ports === ''))
        throw unprocessable('ports is required for tcp and udp rules');
    }
    const f: FirewallRec = existing ?? {
      id: randomUUID(),
      name,
      created_at: now(),
      droplet_ids: [],
      tags: [],
      inbound_rules: [],
      outbound_rules: [],
    };
    Object.assign(f, { name, droplet_ids: dropletIds, tags, inbound_rules: inbound, outbound_rules: outbound });
    for (const t of tags) this.tags.add(t);
    this.firewalls.set(f.id, f);
    return f;
  }

  // ------------------------------------------------------------------------------------------
  // load balancers

  private saveLb(existing: LbRec | undefined, body: Json): LbRec {
    const name = String(body?.name ?? existing?.name ?? `lb-${randomUUID().slice(0, 8)}`);
    const region = body?.region ?? existing?.region;
    if (!REGIONS.some((r) => r.slug === region))
      throw unprocessable('You specified an invalid region for the load balancer.');
    const rules: Json[] = body.forwarding_rules ?? [];
    if (!rules.length) throw unprocessable('At least one forwarding rule is required.');
    const ports = new Set<number>();
    for (const r of rules) {
      if (ports.has(r.entry_port))
        throw unprocessable(`entry_port ${r.entry_port} is used by more than one forwarding rule.`);
      ports.add(r.entry_port);
    }
    if (body.tag && body.droplet_ids?.length) throw unprocessable('droplet_ids and tag cannot both be specified.');
    const ids: number[] = body.droplet_ids ?? [];
    for (const id of ids) this.findDroplet(String(id));
    if (body.tag) this.checkTagName(body.tag);
    const hc = this.healthCheck(body.health_check);
    if (hc.check_interval_seconds < 3 || hc.check_interval_seconds > 300)
      throw unprocessable('check_interval_seconds must be between 3 and 300.');
    const lb: LbRec = existing ?? {
      id: randomUUID(),
      name,
      region,
      created_at: now(),
      status: 'new',
      spec: {},
      droplet_ids: [],
      tag: '',
      ip: '',
    };
    Object.assign(lb, { name, region, spec: structuredClone(body), droplet_ids: ids, tag: body.tag ?? '' });
    if (body.tag) this.tags.add(body.tag);
    this.lbs.set(lb.id, lb);
    this.startLb(lb);
    return lb;
  }

  private startLb(lb: LbRec): void {
    if (this.opts.lbProxy?.enabled === false) {
      lb.status = 'active';
      return;
    }
    const rules: ForwardingRule[] = (lb.spec.forwarding_rules ?? []).map((r: Json) => ({
      entry_protocol: r.entry_protocol,
      entry_port: r.entry_port,
      target_protocol: r.target_protocol,
      target_port: r.target_port,
    }));
    const hc = this.healthCheck(lb.spec.health_check);
    lb.runtime ??= new LoadBalancerRuntime(
      () =>
        this.lbMembers(lb).map((d) => ({ dropletId: d.id, address: d.status === 'active' ? d.publicIpv4 : undefined })),
      hc,
      { prefix: this.opts.lbProxy?.prefix, timeScale: this.opts.lbProxy?.timeScale },
    );
    const rt = lb.runtime;
    this.track(
      rt.configure(rules, hc).then(
        () => {
          lb.ip = rt.address;
          lb.status = 'active';
        },
        (e: unknown) => {
          lb.status = 'errored';
          throw e;
        },
      ),
    );
  }

  // ------------------------------------------------------------------------------------------
  // reserved IPs

  private async createReservedIp(body: Json): Promise<Reply> {
    let region: string;
    let droplet: DropletRec | undefined;
    if (body?.droplet_id !== undefined) {
      droplet = this.findDroplet(String(body.droplet_id));
      region = droplet.region;
    } else {
      region = body?.region;
      if (!REGIONS.some((r) => r.slug === region)) throw unprocessable('You specified an invalid region.');
    }
    const rec: ReservedIpRec = { ip: '', region, dropletId: null, project_id: body?.project_id ?? this.projectId };
    if (this.opts.reservedIpProxy?.enabled === false) {
      rec.ip = `127.0.21.${this.reservedIps.size + 1}`;
    } else {
      rec.runtime = new ReservedIpRuntime(
        () => {
          const d = rec.dropletId !== null ? this.droplets.get(rec.dropletId) : undefined;
          return d && d.status === 'active' ? d.publicIpv4 : undefined;
        },
        this.opts.reservedIpProxy?.ports,
        this.opts.reservedIpProxy?.prefix,
      );
      rec.ip = await rec.runtime.start();
    }
    this.reservedIps.set(rec.ip, rec);
    const links: Json = { droplets: [], actions: [] };
    if (droplet) {
      rec.dropletId = droplet.id;
      const a = this.newAction('assign_ip', 'reserved_ip', ipToInt(rec.ip), region);
      a.reservedIp = rec.ip;
      this.finishAction(a, true);
      links.droplets.push({ id: droplet.id, rel: 'droplet', href: `${this.baseUrl}/v2/droplets/${droplet.id}` });
      links.actions.push({ id: a.id, rel: 'assign_ip', href: `${this.baseUrl}/v2/actions/${a.id}` });
    }
    return { status: 202, body: { reserved_ip: this.reservedIpJson(rec), links } };
  }

  private reservedIpAction(r: ReservedIpRec, body: Json): ActionRec {
    const type = body?.type;
    if (type === 'assign') {
      const d = this.findDroplet(String(body.droplet_id));
      if (d.region !== r.region) throw unprocessable('The reserved IP and the Droplet must be in the same region.');
      r.dropletId = d.id;
    } else if (type === 'unassign') {
      if (r.dropletId === null) throw unprocessable('The reserved IP is not assigned.');
      r.dropletId = null;
    } else throw unprocessable('type must be assign or unassign');
    const a = this.newAction(type === 'assign' ? 'assign_ip' : 'unassign_ip', 'reserved_ip', ipToInt(r.ip), r.region);
    a.reservedIp = r.ip;
    if (this.faults.actionErrors(a.type)) this.finishAction(a, false);
    else this.finishAction(a, true);
    return a;
  }
}

function ipToInt(ip: string): number {
  return ip.split('.').reduce((n, o) => n * 256 + Number(o), 0);
}

function ok(body: unknown): Reply {
  return { status: 200, body };
}

function round(n: number, digits = 1): number {
  const f = 10 ** digits;
  return Math.round(n * f) / f;
}
