// Fault injection for the DigitalOcean API fake. Switchable from TypeScript (`fake.faults`) and from
// other processes through the control endpoint `POST /_lab/faults` (same bearer token), body = a Fault.

export type Fault =
  /** The next `count` matching requests get 429 `too_many_requests` with `retry-after`. */
  | { kind: 'rate_limit'; count: number; retryAfterSeconds?: number; method?: string; path?: string }
  /** The next `count` matching requests get a 5xx (default 500) in DigitalOcean's error shape. */
  | { kind: 'server_error'; count: number; status?: 500 | 502 | 503 | 504; method?: string; path?: string }
  /** Adds `ms` of latency to matching requests (to the next `count` of them, or all while set). */
  | { kind: 'latency'; ms: number; count?: number; method?: string; path?: string }
  /** Droplets whose name matches `namePattern` (a RegExp source) stay `new`; their create action never completes. */
  | { kind: 'never_active'; namePattern: string }
  /** The next `count` (default 1) actions of `actionType` (e.g. "snapshot", "create", "power_on") end `errored`. */
  | { kind: 'action_error'; actionType: string; count?: number }
  /** Passthrough to the backend: the droplet's sshd is down for `seconds`. */
  | { kind: 'sshd_down'; dropletId: number; seconds: number }
  /** Passthrough to the backend: the droplet's disk is full (on) or no longer (off). */
  | { kind: 'disk_full'; dropletId: number; on: boolean };

export interface ActiveFault {
  id: number;
  fault: Fault;
  /** Requests/actions still to hit (undefined = unlimited). */
  remaining?: number;
  hits: number;
}

export interface FaultControl {
  /** Adds a fault; returns its id. Backend passthrough faults are applied immediately. */
  add(fault: Fault): Promise<number>;
  remove(id: number): void;
  clear(): void;
  list(): ActiveFault[];
}

type RequestFault = Extract<Fault, { kind: 'rate_limit' | 'server_error' | 'latency' }>;

function matches(f: { method?: string; path?: string }, method: string, path: string): boolean {
  if (f.method && f.method.toUpperCase() !== method) return false;
  if (f.path && !new RegExp(f.path).test(path)) return false;
  return true;
}

export class Faults implements FaultControl {
  private seq = 0;
  private active: ActiveFault[] = [];

  constructor(
    private readonly passthrough: (f: Extract<Fault, { kind: 'sshd_down' | 'disk_full' }>) => Promise<void>,
  ) {}

  async add(fault: Fault): Promise<number> {
    validateFault(fault);
    const id = ++this.seq;
    if (fault.kind === 'sshd_down' || fault.kind === 'disk_full') {
      await this.passthrough(fault);
      this.active.push({ id, fault, remaining: 0, hits: 1 });
      return id;
    }
    const remaining =
      fault.kind === 'rate_limit' || fault.kind === 'server_error'
        ? fault.count
        : fault.kind === 'latency'
          ? fault.count
          : fault.kind === 'action_error'
            ? (fault.count ?? 1)
            : undefined;
    this.active.push({ id, fault, remaining, hits: 0 });
    return id;
  }

  remove(id: number): void {
    this.active = this.active.filter((a) => a.id !== id);
  }

  clear(): void {
    this.active = [];
  }

  list(): ActiveFault[] {
    return this.active.map((a) => ({ ...a }));
  }

  private take(a: ActiveFault): boolean {
    if (a.remaining !== undefined) {
      if (a.remaining <= 0) return false;
      a.remaining--;
    }
    a.hits++;
    return true;
  }

  /** Request-level faults for this request: latency (summed) and at most one error response. */
  forRequest(method: string, path: string): { latencyMs: number; error?: RequestFault } {
    let latencyMs = 0;
    let error: RequestFault | undefined;
    for (const a of this.active) {
      const f = a.fault;
      if (f.kind === 'latency' && matches(f, method, path) && this.take(a)) latencyMs += f.ms;
      else if (
        (f.kind === 'rate_limit' || f.kind === 'server_error') &&
        !error &&
        matches(f, method, path) &&
        this.take(a)
      )
        error = f;
    }
    return { latencyMs, error };
  }

  neverActive(name: string): boolean {
    return this.active.some((a) => a.fault.kind === 'never_active' && new RegExp(a.fault.namePattern).test(name));
  }

  /** True if this action should end errored (consumes one count). */
  actionErrors(type: string): boolean {
    for (const a of this.active) {
      if (a.fault.kind === 'action_error' && a.fault.actionType === type && this.take(a)) return true;
    }
    return false;
  }
}

export function validateFault(f: unknown): asserts f is Fault {
  const x = f as Record<string, unknown>;
  const num = (k: string, min = 0) => typeof x[k] === 'number' && Number.isFinite(x[k]) && (x[k] as number) >= min;
  const optStr = (k: string) => x[k] === undefined || typeof x[k] === 'string';
  const ok = (() => {
    if (!x || typeof x !== 'object') return false;
    switch (x.kind) {
      case 'rate_limit':
        return (
          num('count', 1) &&
          (x.retryAfterSeconds === undefined || num('retryAfterSeconds')) &&
          optStr('method') &&
          optStr('path')
        );
      case 'server_error':
        return (
          num('count', 1) &&
          (x.status === undefined || [500, 502, 503, 504].includes(x.status as number)) &&
          optStr('method') &&
          optStr('path')
        );
      case 'latency':
        return num('ms') && (x.count === undefined || num('count', 1)) && optStr('method') && optStr('path');
      case 'never_active':
        return typeof x.namePattern === 'string';
      case 'action_error':
        return typeof x.actionType === 'string' && (x.count === undefined || num('count', 1));
      case 'sshd_down':
        return num('dropletId', 1) && num('seconds', 0);
      case 'disk_full':
        return num('dropletId', 1) && typeof x.on === 'boolean';
      default:
        return false;
    }
  })();
  if (!ok) throw new Error(`invalid fault: ${JSON.stringify(f)}`);
}
