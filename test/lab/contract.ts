// The contract between the lab (test/lab/) and the tests that use it.
// The lab implementation may add to these types; it must not remove or rename anything
// here without updating every user (grep for the name).

/** What `npm run lab -- up` / `env` print, one `NAME=value` per line, and what global setup provides. */
export interface LabEnv {
  /** DigitalOcean API fake base URL, including `/v2`, e.g. http://127.0.0.1:41234/v2 */
  DIGITALOCEAN_API_URL: string;
  DIGITALOCEAN_TOKEN: string;
  /** S3-compatible server (Spaces stand-in) on loopback, e.g. http://127.0.0.1:41235 */
  LAB_S3_ENDPOINT: string;
  LAB_S3_ACCESS_KEY_ID: string;
  LAB_S3_SECRET_ACCESS_KEY: string;
  LAB_S3_BUCKET: string;
  /** host:port of the lab registry as droplets reach it (the lab network's gateway). */
  LAB_REGISTRY: string;
  /** The "managed database" as droplets reach it (postgresql://user:pass@host:port/db). */
  LAB_POSTGRES_URL: string;
  /** That database as a cluster in the API (GET /v2/databases/{id}). */
  LAB_DB_CLUSTER_ID: string;
  /** One load balancer created empty. */
  LAB_LOAD_BALANCER_ID: string;
  /** Comma-separated test app images available on the host and in the lab registry. */
  LAB_APP_IMAGES: string;
}

export type DropletVariant = 'trixie' | 'bookworm';

/** A running lab droplet as a test sees it. */
export interface LabDroplet {
  id: number;
  name: string;
  /** Loopback address on which ports 22, 80, 443 (and extra ports asked for) are published. */
  publicIpv4: string;
  /** Address on the lab's Docker network. */
  privateIpv4: string;
  /** Docker container id/name of the droplet container. */
  container: string;
  variant: DropletVariant;
}

/** SSH credentials a test can use to reach droplets it created through the fixture. */
export interface LabSshIdentity {
  /** OpenSSH private key (PEM / OPENSSH format). */
  privateKey: string;
  /** `ssh-ed25519 AAAA... comment` */
  publicKey: string;
}
