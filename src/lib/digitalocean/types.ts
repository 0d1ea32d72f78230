// The parts of DigitalOcean's objects our actions read. Shapes follow the v2 API; fields we
// do not use are left out (the API sends more).

export type DropletStatus = 'new' | 'active' | 'off' | 'archive';

export interface NetworkV4 {
  ip_address: string;
  netmask: string;
  gateway: string;
  type: 'public' | 'private';
}

export interface NetworkV6 {
  ip_address: string;
  netmask: number;
  gateway: string;
  type: 'public';
}

export interface Droplet {
  id: number;
  name: string;
  status: DropletStatus;
  memory: number;
  vcpus: number;
  disk: number;
  locked: boolean;
  created_at: string;
  region: { slug: string; name?: string };
  size_slug: string;
  image: { id?: number; slug?: string | null; distribution?: string; name?: string };
  tags: string[];
  networks: { v4: NetworkV4[]; v6: NetworkV6[] };
  vpc_uuid?: string;
}

export type ActionStatus = 'in-progress' | 'completed' | 'errored';

export interface Action {
  id: number;
  status: ActionStatus;
  type: string;
  started_at?: string;
  completed_at?: string | null;
  resource_id?: number | null;
  resource_type?: string;
  region_slug?: string | null;
}

/** POST /droplets: `name` creates one droplet, `names` several sharing everything else. */
export interface CreateDropletsRequest {
  name?: string;
  names?: string[];
  region: string;
  size: string;
  image: string | number;
  ssh_keys?: (string | number)[];
  backups?: boolean;
  ipv6?: boolean;
  monitoring?: boolean;
  tags?: string[];
  user_data?: string;
  vpc_uuid?: string;
}

export interface Snapshot {
  id: string;
  name: string;
  created_at: string;
  resource_id: string;
  resource_type: 'droplet' | 'volume';
  regions: string[];
  min_disk_size: number;
  size_gigabytes: number;
  tags?: string[] | null;
}

export interface SshKey {
  id: number;
  fingerprint: string;
  public_key: string;
  name: string;
}

export interface FirewallRuleTarget {
  addresses?: string[];
  droplet_ids?: number[];
  load_balancer_uids?: string[];
  tags?: string[];
}

export interface FirewallInboundRule {
  protocol: 'tcp' | 'udp' | 'icmp';
  ports: string;
  sources: FirewallRuleTarget;
}

export interface FirewallOutboundRule {
  protocol: 'tcp' | 'udp' | 'icmp';
  ports: string;
  destinations: FirewallRuleTarget;
}

export interface Firewall {
  id: string;
  name: string;
  status?: string;
  inbound_rules: FirewallInboundRule[];
  outbound_rules: FirewallOutboundRule[];
  droplet_ids: number[];
  tags: string[];
}

export interface FirewallRequest {
  name: string;
  inbound_rules: FirewallInboundRule[];
  outbound_rules: FirewallOutboundRule[];
  droplet_ids?: number[];
  tags?: string[];
}

export interface LoadBalancer {
  id: string;
  name: string;
  ip?: string;
  status: string;
  droplet_ids: number[];
  tag?: string;
  region?: { slug: string };
  forwarding_rules?: unknown[];
  health_check?: unknown;
}

export interface ReservedIp {
  ip: string;
  region: { slug: string };
  droplet: Droplet | null;
  locked: boolean;
  project_id?: string;
}

export interface DatabaseConnection {
  uri: string;
  database: string;
  host: string;
  port: number;
  user: string;
  password: string;
  ssl: boolean;
}

export interface DatabaseCluster {
  id: string;
  name: string;
  engine: string;
  version: string;
  status: string;
  region: string;
  connection?: DatabaseConnection;
  private_connection?: DatabaseConnection;
}

/** The `auths` document `docker login` writes, as /v2/registry/docker-credentials returns it. */
export interface DockerCredentials {
  auths: Record<string, { auth: string }>;
}

export interface Size {
  slug: string;
  memory: number;
  vcpus: number;
  disk: number;
  available: boolean;
  regions: string[];
}

/** A droplet's public IPv4 (undefined while it has none yet). */
export function publicIpv4(droplet: Droplet): string | undefined {
  return droplet.networks?.v4?.find((n) => n.type === 'public')?.ip_address;
}

export function privateIpv4(droplet: Droplet): string | undefined {
  return droplet.networks?.v4?.find((n) => n.type === 'private')?.ip_address;
}
