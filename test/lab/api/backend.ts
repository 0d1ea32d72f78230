// What the DigitalOcean API fake needs from whatever runs droplets.
// The real implementation (Docker containers with sshd + Docker inside) lives in test/lab/droplets.ts
// (infra side); MemoryBackend below is the in-memory stand-in the unit tests use.
import { createServer, type Server } from 'node:http';
import type { DropletVariant } from '../contract.js';

export interface DropletCreateSpec {
  /** Droplet name (also its hostname). */
  name: string;
  variant: DropletVariant;
  /** `user_data` of the create request, as given (cloud-config or a `#!` script). */
  userData?: string;
  /** OpenSSH public keys (`ssh-ed25519 AAAA… comment`) for root's authorized_keys. */
  authorizedKeys: string[];
  /** Ports to publish on the public loopback address besides 22, 80, 443. */
  extraPorts?: number[];
  /** A snapshot ref returned by `snapshot()`: start from that filesystem + Docker data. */
  fromSnapshot?: string;
  /** The API's droplet id (for labels/logging; optional for the backend to use). */
  dropletId?: number;
}

export interface DropletHandle {
  /** Container id or name. */
  container: string;
  /** Loopback address (127.0.x.y) with 22/80/443 (+ extra ports) published. */
  publicIpv4: string;
  /** Address on the lab network. */
  privateIpv4: string;
}

export interface DropletBackend {
  /** Starts a droplet; resolves once its container exists (it may still be booting). */
  create(spec: DropletCreateSpec): Promise<DropletHandle>;
  /** True while the container runs (the API then reports the droplet `active`). */
  isRunning(container: string): Promise<boolean>;
  /** Hard power off; `graceful` (the `shutdown` action) lets the droplet stop cleanly. */
  powerOff(container: string, opts?: { graceful?: boolean }): Promise<void>;
  powerOn(container: string): Promise<void>;
  reboot(container: string): Promise<void>;
  destroy(container: string): Promise<void>;
  /** Commits filesystem + Docker data; returns an opaque snapshot ref usable as `fromSnapshot`. */
  snapshot(container: string): Promise<string>;
  deleteSnapshot(ref: string): Promise<void>;
  /**
   * Optional: replace the droplet's disk keeping its addresses (rebuild/restore actions). When absent
   * the fake destroys and re-creates the droplet (addresses may then change).
   */
  rebuild?(container: string, spec: DropletCreateSpec): Promise<DropletHandle>;
  /** Optional fault hooks (the fake's fault control passes them through). */
  sshdDown?(container: string, seconds: number): Promise<void>;
  diskFull?(container: string, on: boolean): Promise<void>;
  /** Netmask/gateway of the private network, for `networks.v4` (defaults: 255.255.255.0, x.y.z.1). */
  privateNetwork?: { netmask: string; gateway: string };
}

interface MemDroplet {
  container: string;
  spec: DropletCreateSpec;
  running: boolean;
  publicIpv4: string;
  privateIpv4: string;
  /** Files of the droplet (what a snapshot carries). */
  files: Map<string, string>;
  /** A tiny HTTP app on publicIpv4:appPort answering `<name>`, for load balancer tests. */
  app?: Server;
  appUp: boolean;
  sshdDownUntil: number;
  diskFull: boolean;
}

export interface MemoryBackendOptions {
  /** Delay before create() resolves (ms). */
  createDelayMs?: number;
  /** Delay of power/reboot/snapshot operations (ms). */
  opDelayMs?: number;
  /** Start a tiny HTTP app answering the droplet name on publicIpv4:appPort. */
  appPort?: number;
  /** First octets of public addresses, default 127.0.30 (last octet counts up from 1). */
  publicPrefix?: string;
}

/** In-memory droplet backend for unit tests: no Docker; optional tiny HTTP app per droplet. */
export class MemoryBackend implements DropletBackend {
  readonly droplets = new Map<string, MemDroplet>();
  readonly snapshots = new Map<string, { files: Map<string, string>; variant: DropletVariant }>();
  readonly calls: string[] = [];
  private seq = 0;
  private snapSeq = 0;
  private readonly opts: Required<MemoryBackendOptions>;
  privateNetwork = { netmask: '255.255.255.0', gateway: '10.131.0.1' };

  constructor(opts: MemoryBackendOptions = {}) {
    this.opts = { createDelayMs: 5, opDelayMs: 0, appPort: 0, publicPrefix: '127.0.30', ...opts };
  }

  async create(spec: DropletCreateSpec): Promise<DropletHandle> {
    this.calls.push(`create ${spec.name}`);
    await new Promise((r) => setTimeout(r, this.opts.createDelayMs));
    const n = ++this.seq;
    const container = `mem-droplet-${n}`;
    const snap = spec.fromSnapshot ? this.snapshots.get(spec.fromSnapshot) : undefined;
    if (spec.fromSnapshot && !snap) throw new Error(`no snapshot ${spec.fromSnapshot}`);
    const d: MemDroplet = {
      container,
      spec,
      running: true,
      publicIpv4: `${this.opts.publicPrefix}.${n}`,
      privateIpv4: `10.131.0.${n + 10}`,
      files: new Map(snap?.files ?? []),
      appUp: true,
      sshdDownUntil: 0,
      diskFull: false,
    };
    d.files.set('/root/.ssh/authorized_keys', spec.authorizedKeys.join('\n'));
    if (spec.userData !== undefined) d.files.set('/var/lib/cloud/user-data', spec.userData);
    this.droplets.set(container, d);
    if (this.opts.appPort) await this.startApp(d);
    return { container, publicIpv4: d.publicIpv4, privateIpv4: d.privateIpv4 };
  }

  private async startApp(d: MemDroplet): Promise<void> {
    if (d.app) return;
    const srv = createServer((req, res) => {
      res.setHeader('connection', 'close');
      if (!d.appUp) {
        res.statusCode = 503;
        res.end('down');
        return;
      }
      res.end(d.spec.name);
    });
    await new Promise<void>((resolve, reject) => {
      srv.once('error', reject);
      srv.listen(this.opts.appPort, d.publicIpv4, () => resolve());
    });
    d.app = srv;
  }

  private async stopApp(d: MemDroplet): Promise<void> {
    const srv = d.app;
    d.app = undefined;
    if (srv) {
      srv.closeAllConnections();
      await new Promise<void>((r) => srv.close(() => r()));
    }
  }

  private delay(): Promise<void> {
    return new Promise((r) => setTimeout(r, this.opts.opDelayMs));
  }

  private get(container: string): MemDroplet {
    const d = this.droplets.get(container);
    if (!d) throw new Error(`no droplet container ${container}`);
    return d;
  }

  /** Test helper: make the droplet's app answer 503 (false) or its name (true). */
  setAppHealthy(container: string, up: boolean): void {
    this.get(container).appUp = up;
  }

  /** Test helper: a file in the droplet. */
  file(container: string, path: string): string | undefined {
    return this.get(container).files.get(path);
  }

  writeFile(container: string, path: string, content: string): void {
    this.get(container).files.set(path, content);
  }

  async isRunning(container: string): Promise<boolean> {
    return this.droplets.get(container)?.running ?? false;
  }

  async powerOff(container: string, opts: { graceful?: boolean } = {}): Promise<void> {
    this.calls.push(opts.graceful ? `shutdown ${container}` : `powerOff ${container}`);
    await this.delay();
    const d = this.get(container);
    d.running = false;
    await this.stopApp(d);
  }

  async powerOn(container: string): Promise<void> {
    this.calls.push(`powerOn ${container}`);
    await this.delay();
    const d = this.get(container);
    d.running = true;
    if (this.opts.appPort) await this.startApp(d);
  }

  async reboot(container: string): Promise<void> {
    this.calls.push(`reboot ${container}`);
    await this.delay();
    await this.powerOff(container);
    await this.powerOn(container);
  }

  async destroy(container: string): Promise<void> {
    this.calls.push(`destroy ${container}`);
    const d = this.droplets.get(container);
    if (!d) return;
    await this.stopApp(d);
    this.droplets.delete(container);
  }

  async snapshot(container: string): Promise<string> {
    this.calls.push(`snapshot ${container}`);
    await this.delay();
    const d = this.get(container);
    const ref = `mem-snapshot-${++this.snapSeq}`;
    this.snapshots.set(ref, { files: new Map(d.files), variant: d.spec.variant });
    return ref;
  }

  async deleteSnapshot(ref: string): Promise<void> {
    this.calls.push(`deleteSnapshot ${ref}`);
    this.snapshots.delete(ref);
  }

  async rebuild(container: string, spec: DropletCreateSpec): Promise<DropletHandle> {
    this.calls.push(`rebuild ${container}`);
    const d = this.get(container);
    const snap = spec.fromSnapshot ? this.snapshots.get(spec.fromSnapshot) : undefined;
    d.files = new Map(snap?.files ?? []);
    d.files.set('/root/.ssh/authorized_keys', spec.authorizedKeys.join('\n'));
    d.spec = { ...spec, name: d.spec.name };
    d.running = true;
    return { container, publicIpv4: d.publicIpv4, privateIpv4: d.privateIpv4 };
  }

  async sshdDown(container: string, seconds: number): Promise<void> {
    this.calls.push(`sshdDown ${container} ${seconds}`);
    this.get(container).sshdDownUntil = Date.now() + seconds * 1000;
  }

  async diskFull(container: string, on: boolean): Promise<void> {
    this.calls.push(`diskFull ${container} ${on}`);
    this.get(container).diskFull = on;
  }

  async close(): Promise<void> {
    for (const c of [...this.droplets.keys()]) await this.destroy(c);
  }
}
