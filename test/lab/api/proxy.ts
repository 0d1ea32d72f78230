// Real forwarding for the fake's load balancers and reserved IPs.
//
// Load balancer: listens on its own loopback address (127.0.20.x by default) on every forwarding rule's
// entry_port. `http` rules: an HTTP reverse proxy, round robin PER REQUEST over healthy members;
// `tcp` rules (and `https`/`http2` rules, which the lab forwards as TCP/TLS passthrough — there are no
// certificates in the lab): a TCP proxy, round robin per connection. No healthy member → HTTP 503 /
// connection closed. `udp` rules are stored, not forwarded.
//
// Health checks follow DigitalOcean's semantics: every `check_interval_seconds` each member is checked
// (`http`/`https`: GET `path` on `port`, healthy if it answers 2xx/3xx within `response_timeout_seconds`
// — https is checked as plain HTTP in the lab; `tcp`: the port accepts a connection). A member starts
// unhealthy (status "unknown" until first checked) and receives traffic after `healthy_threshold`
// consecutive passes; it is taken out after `unhealthy_threshold` consecutive failures.
//
// Reserved IP: a TCP forwarder on its own loopback address (127.0.21.x) for ports 22, 80, 443 (+ more
// if asked) to the assigned droplet's public address.
import { createServer as createHttpServer, request as httpRequest, type Server as HttpServer } from 'node:http';
import { createServer as createNetServer, connect, type Server as NetServer, type Socket } from 'node:net';

export interface ForwardingRule {
  entry_protocol: string;
  entry_port: number;
  target_protocol: string;
  target_port: number;
}

export interface HealthCheck {
  protocol: string;
  port: number;
  path: string;
  check_interval_seconds: number;
  response_timeout_seconds: number;
  healthy_threshold: number;
  unhealthy_threshold: number;
}

export interface Member {
  dropletId: number;
  /** Droplet public address; undefined while it has none (not active yet). */
  address: string | undefined;
}

export interface MemberHealth {
  droplet_id: number;
  address: string | null;
  status: 'healthy' | 'unhealthy' | 'unknown';
  consecutive_successes: number;
  consecutive_failures: number;
  last_check_at: string | null;
  last_error: string | null;
}

type AnyServer = HttpServer | NetServer;

const usedAddresses = new Set<string>();

function listen(server: AnyServer, host: string, port: number): Promise<void> {
  return new Promise((resolve, reject) => {
    const onError = (e: Error) => reject(e);
    server.once('error', onError);
    server.listen(port, host, () => {
      server.off('error', onError);
      resolve();
    });
  });
}

function closeServer(server: AnyServer): Promise<void> {
  if ('closeAllConnections' in server) server.closeAllConnections();
  return new Promise((r) => server.close(() => r()));
}

/** Binds `make(addr)` servers on the first free address `${prefix}.N` (N = 1..254). */
async function bindOnFreeAddress(
  prefix: string,
  ports: number[],
  make: (port: number) => AnyServer,
  sockets: Set<Socket>,
): Promise<{ address: string; servers: AnyServer[] }> {
  for (let n = 1; n <= 254; n++) {
    const address = `${prefix}.${n}`;
    if (usedAddresses.has(address)) continue;
    const servers: AnyServer[] = [];
    try {
      for (const port of ports) {
        const s = make(port);
        s.on('connection', (sock: Socket) => {
          sockets.add(sock);
          sock.once('close', () => sockets.delete(sock));
        });
        servers.push(s);
        await listen(s, address, port);
      }
      usedAddresses.add(address);
      return { address, servers };
    } catch (e) {
      await Promise.all(servers.filter((s) => s.listening).map(closeServer));
      if ((e as NodeJS.ErrnoException).code !== 'EADDRINUSE') throw e;
    }
  }
  throw new Error(`no free address under ${prefix}.0/24 for ports ${ports.join(',')}`);
}

function tcpForward(client: Socket, host: string | undefined, port: number, sockets: Set<Socket>): void {
  if (!host) {
    client.destroy();
    return;
  }
  const upstream = connect({ host, port });
  sockets.add(upstream);
  upstream.once('close', () => sockets.delete(upstream));
  upstream.on('error', () => client.destroy());
  client.on('error', () => upstream.destroy());
  upstream.on('connect', () => {
    client.pipe(upstream);
    upstream.pipe(client);
  });
  client.once('close', () => upstream.destroy());
  upstream.once('close', () => client.destroy());
}

export interface LoadBalancerRuntimeOptions {
  /** Address prefix, default 127.0.20 */
  prefix?: string;
  /** Multiply health check intervals/timeouts (unit tests use < 1; the lab uses 1). */
  timeScale?: number;
}

export class LoadBalancerRuntime {
  address = '';
  private servers: AnyServer[] = [];
  private readonly sockets = new Set<Socket>();
  private timer: NodeJS.Timeout | undefined;
  private readonly health = new Map<number, MemberHealth>();
  private rr = 0;
  private rules: ForwardingRule[] = [];
  private check: HealthCheck;
  private closed = false;
  private checking = false;

  constructor(
    private readonly members: () => Member[],
    check: HealthCheck,
    private readonly opts: LoadBalancerRuntimeOptions = {},
  ) {
    this.check = check;
  }

  /** Binds listeners for the rules (first call allocates the address; later calls re-bind on it). */
  async configure(rules: ForwardingRule[], check: HealthCheck): Promise<void> {
    this.check = check;
    const forwarded = rules.filter((r) => r.entry_protocol !== 'udp');
    const same =
      this.address &&
      JSON.stringify(forwarded.map((r) => [r.entry_protocol, r.entry_port, r.target_port])) ===
        JSON.stringify(this.rules.map((r) => [r.entry_protocol, r.entry_port, r.target_port]));
    if (!same) {
      const make = (port: number) => this.makeServer(forwarded.find((r) => r.entry_port === port)!);
      const ports = forwarded.map((r) => r.entry_port);
      if (!this.address) {
        const bound = await bindOnFreeAddress(this.opts.prefix ?? '127.0.20', ports, make, this.sockets);
        this.address = bound.address;
        this.servers = bound.servers;
      } else {
        await Promise.all(this.servers.map(closeServer));
        this.servers = [];
        for (const p of ports) {
          const s = make(p);
          s.on('connection', (sock: Socket) => {
            this.sockets.add(sock);
            sock.once('close', () => this.sockets.delete(sock));
          });
          await listen(s, this.address, p);
          this.servers.push(s);
        }
      }
      this.rules = forwarded;
    }
    this.restartChecks();
  }

  private makeServer(rule: ForwardingRule): AnyServer {
    if (rule.entry_protocol === 'http') {
      return createHttpServer((req, res) => {
        const target = this.pick();
        if (!target) {
          res.writeHead(503, { 'content-type': 'text/html', connection: 'close' });
          res.end(
            '<html><body><h1>503 Service Unavailable</h1>No server is available to handle this request.</body></html>\n',
          );
          return;
        }
        const up = httpRequest(
          {
            host: target,
            port: rule.target_port,
            method: req.method,
            path: req.url,
            headers: {
              ...req.headers,
              'x-forwarded-for': req.socket.remoteAddress ?? '',
              'x-forwarded-proto': 'http',
              'x-forwarded-port': String(rule.entry_port),
            },
            agent: false,
          },
          (ures) => {
            ures.on('error', () => res.destroy());
            res.writeHead(ures.statusCode ?? 502, ures.headers);
            ures.pipe(res);
          },
        );
        up.on('error', () => {
          if (res.writableEnded || res.destroyed) return;
          if (!res.headersSent) res.writeHead(503, { connection: 'close' });
          res.end();
        });
        req.on('error', () => up.destroy());
        res.on('error', () => up.destroy());
        res.on('close', () => {
          if (!res.writableFinished) up.destroy();
        });
        req.pipe(up);
      });
    }
    return createNetServer((sock) => tcpForward(sock, this.pick(), rule.target_port, this.sockets));
  }

  /** Round robin over healthy members. */
  private pick(): string | undefined {
    const healthy = this.members().filter((m) => m.address && this.health.get(m.dropletId)?.status === 'healthy');
    if (!healthy.length) return undefined;
    const m = healthy[this.rr++ % healthy.length]!;
    return m.address;
  }

  private restartChecks(): void {
    if (this.timer) clearInterval(this.timer);
    const every = Math.max(10, this.check.check_interval_seconds * 1000 * (this.opts.timeScale ?? 1));
    void this.runChecks();
    this.timer = setInterval(() => void this.runChecks(), every);
    this.timer.unref();
  }

  private async runChecks(): Promise<void> {
    if (this.closed || this.checking) return;
    this.checking = true;
    try {
      const members = this.members();
      const ids = new Set(members.map((m) => m.dropletId));
      for (const id of [...this.health.keys()]) if (!ids.has(id)) this.health.delete(id);
      await Promise.all(
        members.map(async (m) => {
          let h = this.health.get(m.dropletId);
          if (!h) {
            h = {
              droplet_id: m.dropletId,
              address: m.address ?? null,
              status: 'unknown',
              consecutive_successes: 0,
              consecutive_failures: 0,
              last_check_at: null,
              last_error: null,
            };
            this.health.set(m.dropletId, h);
          }
          h.address = m.address ?? null;
          const err = m.address ? await this.probe(m.address) : 'droplet has no public address';
          if (this.closed) return;
          h.last_check_at = new Date().toISOString();
          h.last_error = err ?? null;
          if (err === undefined) {
            h.consecutive_failures = 0;
            h.consecutive_successes++;
            if (h.status !== 'healthy' && h.consecutive_successes >= this.check.healthy_threshold) h.status = 'healthy';
          } else {
            h.consecutive_successes = 0;
            h.consecutive_failures++;
            if (
              h.status === 'unknown' ||
              (h.status === 'healthy' && h.consecutive_failures >= this.check.unhealthy_threshold)
            )
              h.status = 'unhealthy';
          }
        }),
      );
    } finally {
      this.checking = false;
    }
  }

  /** One health check; undefined = pass, else the reason it failed. */
  private probe(address: string): Promise<string | undefined> {
    const timeoutMs = Math.max(5, this.check.response_timeout_seconds * 1000 * (this.opts.timeScale ?? 1));
    return new Promise((resolve) => {
      let done = false;
      const finish = (r: string | undefined) => {
        if (!done) {
          done = true;
          resolve(r);
        }
      };
      if (this.check.protocol === 'tcp') {
        const s = connect({ host: address, port: this.check.port });
        s.setTimeout(timeoutMs, () => {
          s.destroy();
          finish('timeout');
        });
        s.once('connect', () => {
          s.destroy();
          finish(undefined);
        });
        s.once('error', (e) => finish(e.message));
        return;
      }
      const req = httpRequest(
        {
          host: address,
          port: this.check.port,
          path: this.check.path || '/',
          method: 'GET',
          agent: false,
          timeout: timeoutMs,
          headers: { 'user-agent': 'DigitalOcean Load Balancer Health Check (lab)', connection: 'close' },
        },
        (res) => {
          res.resume();
          const code = res.statusCode ?? 0;
          finish(code >= 200 && code < 400 ? undefined : `HTTP ${code}`);
        },
      );
      req.on('timeout', () => {
        req.destroy();
        finish('timeout');
      });
      req.on('error', (e) => finish(e.message));
      req.end();
    });
  }

  memberHealth(): MemberHealth[] {
    return this.members().map(
      (m) =>
        this.health.get(m.dropletId) ?? {
          droplet_id: m.dropletId,
          address: m.address ?? null,
          status: 'unknown' as const,
          consecutive_successes: 0,
          consecutive_failures: 0,
          last_check_at: null,
          last_error: null,
        },
    );
  }

  async close(): Promise<void> {
    this.closed = true;
    if (this.timer) clearInterval(this.timer);
    for (const s of this.sockets) s.destroy();
    await Promise.all(this.servers.map(closeServer));
    this.servers = [];
    if (this.address) usedAddresses.delete(this.address);
  }
}

/** TCP forwarder of a reserved IP to its assigned droplet. */
export class ReservedIpRuntime {
  address = '';
  private servers: AnyServer[] = [];
  private readonly sockets = new Set<Socket>();

  constructor(
    private readonly target: () => string | undefined,
    private readonly ports: number[] = [22, 80, 443],
    private readonly prefix = '127.0.21',
  ) {}

  async start(): Promise<string> {
    const bound = await bindOnFreeAddress(
      this.prefix,
      this.ports,
      (port) => createNetServer((sock) => tcpForward(sock, this.target(), port, this.sockets)),
      this.sockets,
    );
    this.address = bound.address;
    this.servers = bound.servers;
    return this.address;
  }

  async close(): Promise<void> {
    for (const s of this.sockets) s.destroy();
    await Promise.all(this.servers.map(closeServer));
    this.servers = [];
    if (this.address) usedAddresses.delete(this.address);
  }
}
