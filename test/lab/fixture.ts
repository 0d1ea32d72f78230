// Test-file helper: the shared lab's env plus droplets made directly through the droplet
// backend (no API), each with a known ed25519 host key, reachable with a generated client key.
//
//   const lab = useLab();
//   const d = await lab.createDroplet({ variant: 'trixie' });
//   const r = await lab.exec(d, 'docker compose version');
//
// Droplets and snapshots made here are destroyed after the file (afterAll); their names start
// with the lab prefix, so `npm run lab -- down` also finds anything left behind.
import { randomBytes } from 'node:crypto';
import { NodeSSH } from 'node-ssh';
import { afterAll, inject } from 'vitest';
import type { DropletVariant, LabDroplet, LabEnv, LabSshIdentity } from './contract.js';
import { DockerDropletBackend, type DropletSpec } from './droplets.js';
import { generateKeyPair } from './fixture-keys.js';
import type { LabInfo } from './lab.js';

export { generateKeyPair };

export interface FixtureDroplet extends LabDroplet {
  /** The droplet's ed25519 host key, `ssh-ed25519 AAAA…` (pinned: known before it booted). */
  hostKey: string;
}

export interface ExecResult {
  code: number | null;
  stdout: string;
  stderr: string;
}

/** Raw key blob of an OpenSSH public key line (what ssh2's hostVerifier is given). */
export function keyBlob(publicKey: string): Buffer {
  const b64 = publicKey.trim().split(/\s+/)[1];
  if (!b64) throw new Error(`not an OpenSSH public key: ${publicKey.slice(0, 40)}`);
  return Buffer.from(b64, 'base64');
}

/** Connects over SSH, accepting only `hostKey` (an OpenSSH public key line). */
export async function sshConnect(opts: {
  host: string;
  port?: number;
  username?: string;
  privateKey: string;
  hostKey: string;
  readyTimeout?: number;
}): Promise<NodeSSH> {
  const expected = keyBlob(opts.hostKey);
  const ssh = new NodeSSH();
  await ssh.connect({
    host: opts.host,
    port: opts.port ?? 22,
    username: opts.username ?? 'root',
    privateKey: opts.privateKey,
    readyTimeout: opts.readyTimeout ?? 20_000,
    hostVerifier: (key: Buffer | string) => Buffer.isBuffer(key) && key.equals(expected),
  } as Parameters<NodeSSH['connect']>[0]);
  return ssh;
}

export interface LabFixture {
  env: LabEnv;
  info: LabInfo;
  /** The client key every fixture droplet authorizes for root. */
  identity: LabSshIdentity;
  backend: DockerDropletBackend;
  /**
   * Creates a droplet through the backend (waits until sshd answers). By default it gets a
   * generated host key that the fixture pins; pass `expectHostKey` when the host key comes from
   * elsewhere (e.g. cloud-config `ssh_keys` in `userData`).
   */
  createDroplet(
    opts?: Partial<Omit<DropletSpec, 'authorizedKeys'>> & { authorizedKeys?: string[]; expectHostKey?: string },
  ): Promise<FixtureDroplet>;
  ssh(d: FixtureDroplet, opts?: { username?: string; privateKey?: string }): Promise<NodeSSH>;
  /** Runs a shell command over SSH (one connection per fixture droplet, reused). */
  exec(d: FixtureDroplet, command: string, opts?: { stdin?: string }): Promise<ExecResult>;
  destroy(d: FixtureDroplet): Promise<void>;
}

let seq = 0;

export function useLab(): LabFixture {
  const env = inject('lab');
  const info = inject('labInfo');
  const identity = generateKeyPair('ddlab-fixture');
  const backend = new DockerDropletBackend({
    // under the lab prefix, so the lab's teardown also sweeps them
    prefix: `${info.prefix}t${randomBytes(2).toString('hex')}-`,
    network: info.network.name,
    netmask: info.network.netmask,
    gateway: info.network.gateway,
    images: info.images.droplet,
    insecureRegistries: info.insecureRegistries,
    dataDir: info.dataDir,
  });
  const conns = new Map<string, NodeSSH>();
  const droplets = new Map<string, FixtureDroplet>();

  const fixture: LabFixture = {
    env,
    info,
    identity,
    backend,
    async createDroplet(opts = {}) {
      const { expectHostKey, ...spec } = opts;
      const hostKey = expectHostKey ? undefined : generateKeyPair('host');
      const name = opts.name ?? `t${++seq}-${randomBytes(2).toString('hex')}`;
      const variant: DropletVariant = opts.variant ?? 'trixie';
      const inst = await backend.create({
        ...spec,
        name,
        variant,
        authorizedKeys: opts.authorizedKeys ?? [identity.publicKey],
        hostKeys: {
          ...(hostKey
            ? { ssh_host_ed25519_key: hostKey.privateKey, 'ssh_host_ed25519_key.pub': `${hostKey.publicKey}\n` }
            : {}),
          ...opts.hostKeys,
        },
      });
      const pinned = expectHostKey ?? opts.hostKeys?.['ssh_host_ed25519_key.pub']?.trim() ?? hostKey!.publicKey;
      const d: FixtureDroplet = {
        id: 0,
        name,
        publicIpv4: inst.publicIpv4,
        privateIpv4: inst.privateIpv4,
        container: inst.container,
        variant: inst.variant,
        hostKey: pinned,
      };
      droplets.set(d.container, d);
      return d;
    },
    ssh(d, opts = {}) {
      return sshConnect({
        host: d.publicIpv4,
        username: opts.username,
        privateKey: opts.privateKey ?? identity.privateKey,
        hostKey: d.hostKey,
      });
    },
    async exec(d, command, opts = {}) {
      let c = conns.get(d.container);
      if (!c || !c.isConnected()) {
        c = await fixture.ssh(d);
        conns.set(d.container, c);
      }
      const r = await c.execCommand(command, opts.stdin !== undefined ? { stdin: opts.stdin } : {});
      return { code: r.code, stdout: r.stdout, stderr: r.stderr };
    },
    async destroy(d) {
      conns.get(d.container)?.dispose();
      conns.delete(d.container);
      droplets.delete(d.container);
      await backend.destroy(d.container);
    },
  };

  afterAll(async () => {
    for (const c of conns.values()) c.dispose();
    conns.clear();
    await backend.destroyAll();
  });
  return fixture;
}
