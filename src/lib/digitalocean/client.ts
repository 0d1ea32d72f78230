import type { AxiosInstance } from 'axios';
import { modules } from 'dots-wrapper';

import type { Logger } from '../action/logger.js';
import { maskSecret, type SecretSink } from '../action/secrets.js';
import { realSleep } from '../retry.js';
import { isNotFound } from './errors.js';
import { createHttpClient, type HttpOptions, type RetryPolicy } from './http.js';
import { collectPages } from './pagination.js';
import type {
  Action,
  CreateDropletsRequest,
  DatabaseCluster,
  DockerCredentials,
  Droplet,
  Firewall,
  FirewallRequest,
  LoadBalancer,
  ReservedIp,
  Size,
  Snapshot,
  SshKey,
} from './types.js';
import { waitForAction, type WaitForActionOptions } from './wait.js';

export interface ClientOptions {
  token: string;
  /** Normalised endpoint ending in /v2 (normalizeApiEndpoint(input `api-endpoint`)). */
  endpoint: string;
  /** Where the token (and its derived forms) is registered for masking: io.setSecret. */
  setSecret?: SecretSink;
  logger?: Logger;
  timeoutMs?: number;
  retry?: Partial<RetryPolicy>;
  /** For tests: the transport under the retry layer, and a fake clock. */
  transport?: HttpOptions['transport'];
  sleep?: (ms: number) => Promise<void>;
  now?: () => number;
  random?: () => number;
}

export type DropletActionType = 'snapshot' | 'power_off' | 'power_on' | 'shutdown' | 'reboot' | 'power_cycle';

export interface CreatedDroplets {
  droplets: Droplet[];
  /** The create actions (one per droplet), from links.actions. */
  actionIds: number[];
}

const PER_PAGE = 200;

type DotsClient = ReturnType<ReturnType<typeof modules.common.createApiClient>>;

async function data<T>(request: Promise<{ data: unknown }>): Promise<T> {
  return (await request).data as T;
}

/**
 * The one DigitalOcean client every action uses. dots-wrapper where it has the endpoint,
 * raw calls through the very same axios instance (`http`) where it does not (reserved
 * IPs, droplets by name). Every call is retried on 429/5xx and fails as DigitalOceanApiError.
 */
export class DigitalOceanClient {
  readonly http: AxiosInstance;
  readonly dots: DotsClient;
  readonly endpoint: string;
  private readonly sleep: (ms: number) => Promise<void>;
  private readonly now: () => number;
  private readonly logger: Logger | undefined;

  constructor(options: ClientOptions) {
    if (!options.token) throw new Error('DigitalOcean client needs a token');
    if (options.setSecret) maskSecret(options.setSecret, options.token);
    this.endpoint = options.endpoint;
    this.sleep = options.sleep ?? realSleep;
    this.now = options.now ?? Date.now;
    this.logger = options.logger;
    let http: AxiosInstance | undefined;
    const make = modules.common.createApiClient({
      modules,
      createContext: ({ axios }) => {
        http = createHttpClient(axios, {
          endpoint: options.endpoint,
          token: options.token,
          ...(options.timeoutMs !== undefined ? { timeoutMs: options.timeoutMs } : {}),
          ...(options.retry ? { retry: options.retry } : {}),
          ...(options.logger ? { logger: options.logger } : {}),
          ...(options.transport ? { transport: options.transport } : {}),
          sleep: this.sleep,
          now: this.now,
          ...(options.random ? { random: options.random } : {}),
        });
        return Object.freeze({ endpoint: options.endpoint, httpClient: http });
      },
    });
    this.dots = make({ token: options.token, endpoint: options.endpoint });
    if (!http) throw new Error('dots-wrapper did not create its context');
    this.http = http;
  }

  // ---- droplets -------------------------------------------------------------------------

  /** All droplets, or those carrying `tag`, following every page. */
  listDroplets(filter: { tag?: string } = {}): Promise<Droplet[]> {
    return collectPages<'droplets', Droplet>(this.http, this.endpoint, 'droplets', () =>
      this.dots.droplet.listDroplets({ per_page: PER_PAGE, page: 1, ...(filter.tag ? { tag_name: filter.tag } : {}) }),
    );
  }

  listDropletsByTag(tag: string): Promise<Droplet[]> {
    return this.listDroplets({ tag });
  }

  async getDroplet(id: number): Promise<Droplet> {
    return (await data<{ droplet: Droplet }>(this.dots.droplet.getDroplet({ droplet_id: id }))).droplet;
  }

  /** Droplets by id, in the order given (one request each). */
  async getDroplets(ids: readonly number[]): Promise<Droplet[]> {
    const out: Droplet[] = [];
    for (const id of ids) out.push(await this.getDroplet(id));
    return out;
  }

  /**
   * Creates one droplet (`name`) or several (`names`) in one request. Not retried on 5xx
   * (it may have created them): callers re-list by tag before trying again.
   */
  async createDroplets(request: CreateDropletsRequest): Promise<CreatedDroplets> {
    if ((request.name === undefined) === (request.names === undefined)) {
      throw new Error('createDroplets needs exactly one of name and names');
    }
    const body = await data<{
      droplet?: Droplet;
      droplets?: Droplet[];
      links?: { actions?: { id: number; rel: string }[] };
    }>(this.http.post('/droplets', request));
    const droplets = body.droplets ?? (body.droplet ? [body.droplet] : []);
    return { droplets, actionIds: (body.links?.actions ?? []).map((a) => a.id) };
  }

  /** Deletes a droplet; an already-deleted one (404) counts as deleted. */
  async deleteDroplet(id: number): Promise<void> {
    try {
      await this.dots.droplet.deleteDroplet({ droplet_id: id });
    } catch (error) {
      if (!isNotFound(error)) throw error;
    }
  }

  async dropletAction(id: number, type: DropletActionType, params: { name?: string } = {}): Promise<Action> {
    return (await data<{ action: Action }>(this.http.post(`/droplets/${id}/actions`, { type, ...params }))).action;
  }

  snapshotDroplet(id: number, name: string): Promise<Action> {
    return this.dropletAction(id, 'snapshot', { name });
  }

  powerOffDroplet(id: number): Promise<Action> {
    return this.dropletAction(id, 'power_off');
  }

  powerOnDroplet(id: number): Promise<Action> {
    return this.dropletAction(id, 'power_on');
  }

  shutdownDroplet(id: number): Promise<Action> {
    return this.dropletAction(id, 'shutdown');
  }

  // ---- actions --------------------------------------------------------------------------

  async getAction(id: number): Promise<Action> {
    return (await data<{ action: Action }>(this.dots.action.getAction({ action_id: id }))).action;
  }

  /** Polls an action until it completes; throws ActionFailedError / ActionTimeoutError. */
  waitForAction(id: number, options: Omit<WaitForActionOptions, 'sleep' | 'now'>): Promise<Action> {
    return waitForAction((actionId) => this.getAction(actionId), id, {
      ...options,
      sleep: this.sleep,
      now: this.now,
      ...(options.onProgress || !this.logger
        ? {}
        : { onProgress: (a: Action, waitedMs: number) => this.logger?.info(progressLine(a, waitedMs)) }),
    });
  }

  // ---- snapshots ------------------------------------------------------------------------

  listSnapshots(resourceType?: 'droplet' | 'volume'): Promise<Snapshot[]> {
    return collectPages<'snapshots', Snapshot>(this.http, this.endpoint, 'snapshots', () =>
      this.dots.snapshot.listSnapshots({
        per_page: PER_PAGE,
        page: 1,
        ...(resourceType ? { resource_type: resourceType } : {}),
      }),
    );
  }

  /** The snapshots of one droplet (GET /droplets/{id}/snapshots). */
  listDropletSnapshots(dropletId: number): Promise<Snapshot[]> {
    return collectPages<'snapshots', Snapshot>(this.http, this.endpoint, 'snapshots', () =>
      this.http.get(`/droplets/${dropletId}/snapshots`, { params: { per_page: PER_PAGE, page: 1 } }),
    );
  }

  /** Deletes a snapshot; an already-deleted one (404) counts as deleted. */
  async deleteSnapshot(id: string | number): Promise<void> {
    try {
      await this.dots.snapshot.deleteSnapshot({ snapshot_id: String(id) });
    } catch (error) {
      if (!isNotFound(error)) throw error;
    }
  }

  // ---- tags -----------------------------------------------------------------------------

  /** Creates a tag (an existing one is fine: DigitalOcean answers with the tag). */
  async createTag(name: string): Promise<void> {
    await this.http.post('/tags', { name });
  }

  async tagDroplets(tag: string, dropletIds: readonly number[]): Promise<void> {
    if (dropletIds.length === 0) return;
    await this.http.post(`/tags/${encodeURIComponent(tag)}/resources`, {
      resources: dropletIds.map((id) => ({ resource_id: String(id), resource_type: 'droplet' })),
    });
  }

  async untagDroplets(tag: string, dropletIds: readonly number[]): Promise<void> {
    if (dropletIds.length === 0) return;
    await this.http.delete(`/tags/${encodeURIComponent(tag)}/resources`, {
      data: { resources: dropletIds.map((id) => ({ resource_id: String(id), resource_type: 'droplet' })) },
    });
  }

  /** Tags any taggable resources (droplet, image — droplet snapshots are images —, volume, volume_snapshot, database). */
  async tagResources(tag: string, resources: readonly { resource_id: string; resource_type: string }[]): Promise<void> {
    if (resources.length === 0) return;
    await this.http.post(`/tags/${encodeURIComponent(tag)}/resources`, { resources });
  }

  // ---- ssh keys -------------------------------------------------------------------------

  listSshKeys(): Promise<SshKey[]> {
    return collectPages<'ssh_keys', SshKey>(this.http, this.endpoint, 'ssh_keys', () =>
      this.dots.sshKey.listSshKeys({ per_page: PER_PAGE, page: 1 }),
    );
  }

  /** One account key by numeric id or MD5 fingerprint. */
  async getSshKey(idOrFingerprint: number | string): Promise<SshKey> {
    return (
      await data<{ ssh_key: SshKey }>(this.http.get(`/account/keys/${encodeURIComponent(String(idOrFingerprint))}`))
    ).ssh_key;
  }

  async createSshKey(name: string, publicKey: string): Promise<SshKey> {
    return (await data<{ ssh_key: SshKey }>(this.http.post('/account/keys', { name, public_key: publicKey }))).ssh_key;
  }

  // ---- sizes ----------------------------------------------------------------------------

  listSizes(): Promise<Size[]> {
    return collectPages<'sizes', Size>(this.http, this.endpoint, 'sizes', () =>
      this.dots.size.listSizes({ per_page: PER_PAGE, page: 1 }),
    );
  }

  // ---- firewalls ------------------------------------------------------------------------

  listFirewalls(): Promise<Firewall[]> {
    return collectPages<'firewalls', Firewall>(this.http, this.endpoint, 'firewalls', () =>
      this.dots.firewall.listFirewalls({ per_page: PER_PAGE, page: 1 }),
    );
  }

  async getFirewall(id: string): Promise<Firewall> {
    return (await data<{ firewall: Firewall }>(this.dots.firewall.getFirewall({ firewall_id: id }))).firewall;
  }

  async createFirewall(request: FirewallRequest): Promise<Firewall> {
    return (await data<{ firewall: Firewall }>(this.http.post('/firewalls', request))).firewall;
  }

  /** Replaces a firewall's rules and targets (PUT /firewalls/{id}). */
  async updateFirewall(id: string, request: FirewallRequest): Promise<Firewall> {
    return (await data<{ firewall: Firewall }>(this.http.put(`/firewalls/${id}`, request))).firewall;
  }

  async addTagsToFirewall(id: string, tags: readonly string[]): Promise<void> {
    await this.http.post(`/firewalls/${id}/tags`, { tags });
  }

  // ---- load balancers -------------------------------------------------------------------

  async getLoadBalancer(id: string): Promise<LoadBalancer> {
    return (
      await data<{ load_balancer: LoadBalancer }>(this.dots.loadBalancer.getLoadBalancer({ load_balancer_id: id }))
    ).load_balancer;
  }

  async addDropletsToLoadBalancer(id: string, dropletIds: readonly number[]): Promise<void> {
    await this.http.post(`/load_balancers/${id}/droplets`, { droplet_ids: dropletIds });
  }

  async removeDropletsFromLoadBalancer(id: string, dropletIds: readonly number[]): Promise<void> {
    await this.http.delete(`/load_balancers/${id}/droplets`, { data: { droplet_ids: dropletIds } });
  }

  // ---- container registry ---------------------------------------------------------------

  /**
   * A docker config (`{"auths":{…}}`) for DigitalOcean's registry. The returned auth values
   * are secrets: the caller masks them (maskSecret) before anything is logged.
   */
  async getDockerCredentials(
    options: { readWrite?: boolean; expirySeconds?: number } = {},
  ): Promise<DockerCredentials> {
    const params: Record<string, string | number | boolean> = { read_write: options.readWrite ?? false };
    if (options.expirySeconds !== undefined) params['expiry_seconds'] = options.expirySeconds;
    return data<DockerCredentials>(this.http.get('/registry/docker-credentials', { params }));
  }

  async getRegistry(): Promise<{ name: string; server_url?: string }> {
    return (await data<{ registry: { name: string; server_url?: string } }>(this.http.get('/registry'))).registry;
  }

  // ---- databases ------------------------------------------------------------------------

  async getDatabaseCluster(id: string): Promise<DatabaseCluster> {
    return (await data<{ database: DatabaseCluster }>(this.http.get(`/databases/${encodeURIComponent(id)}`))).database;
  }

  // ---- reserved IPs (not in dots-wrapper: raw calls on the same client) ---------------

  listReservedIps(): Promise<ReservedIp[]> {
    return collectPages<'reserved_ips', ReservedIp>(this.http, this.endpoint, 'reserved_ips', () =>
      this.http.get('/reserved_ips', { params: { per_page: PER_PAGE, page: 1 } }),
    );
  }

  async getReservedIp(ip: string): Promise<ReservedIp> {
    return (await data<{ reserved_ip: ReservedIp }>(this.http.get(`/reserved_ips/${encodeURIComponent(ip)}`)))
      .reserved_ip;
  }

  /** Reserves a new IP, either in a region or directly assigned to a droplet. */
  async createReservedIp(target: { region: string } | { dropletId: number }): Promise<ReservedIp> {
    const body = 'region' in target ? { region: target.region } : { droplet_id: target.dropletId };
    return (await data<{ reserved_ip: ReservedIp }>(this.http.post('/reserved_ips', body))).reserved_ip;
  }

  async assignReservedIp(ip: string, dropletId: number): Promise<Action> {
    return (
      await data<{ action: Action }>(
        this.http.post(`/reserved_ips/${encodeURIComponent(ip)}/actions`, { type: 'assign', droplet_id: dropletId }),
      )
    ).action;
  }
}

function progressLine(action: Action, waitedMs: number): string {
  const on = action.resource_type && action.resource_id ? ` on ${action.resource_type} ${action.resource_id}` : '';
  return `waiting for DigitalOcean action ${action.id} (${action.type}${on}): ${action.status} after ${Math.round(waitedMs / 1000)}s`;
}

export function createClient(options: ClientOptions): DigitalOceanClient {
  return new DigitalOceanClient(options);
}
