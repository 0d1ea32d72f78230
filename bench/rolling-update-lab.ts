// The lab for the rolling-update benches, outside vitest: the running lab's state file, and
// droplets made directly through the droplet backend with pinned ed25519 host keys (the
// same way test/lab/fixture.ts does for tests). Start the lab first: `npm run lab -- up`.
import { execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

import { NodeSSH } from 'node-ssh';

import type { LabEnv, LabSshIdentity } from '../test/lab/contract.js';
import { DockerDropletBackend } from '../test/lab/droplets.js';
import type { FixtureDroplet, LabFixture } from '../test/lab/fixture.js';
import { type LabInfo, readState } from '../test/lab/lab.js';

function keyPair(comment: string): LabSshIdentity {
  const dir = mkdtempSync(join(tmpdir(), 'ddlab-key-'));
  try {
    const f = join(dir, 'k');
    execFileSync('ssh-keygen', ['-q', '-t', 'ed25519', '-N', '', '-C', comment, '-f', f]);
    return { privateKey: readFileSync(f, 'utf8'), publicKey: readFileSync(`${f}.pub`, 'utf8').trim() };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

export interface BenchLab extends LabFixture {
  destroyAll(): Promise<void>;
}

export function benchLab(): BenchLab {
  const state = readState();
  if (!state?.env || state.status !== 'ready') throw new Error('no ready lab: run `npm run lab -- up` first');
  const env = state.env as LabEnv;
  const info = state.info as LabInfo;
  const identity = keyPair('ddlab-bench');
  const backend = new DockerDropletBackend({
    prefix: `${info.prefix}b${randomBytes(2).toString('hex')}-`,
    network: info.network.name,
    netmask: info.network.netmask,
    gateway: info.network.gateway,
    images: info.images.droplet,
    insecureRegistries: info.insecureRegistries,
    dataDir: info.dataDir,
  });
  const conns = new Map<string, NodeSSH>();
  let seq = 0;
  const lab: BenchLab = {
    env,
    info,
    identity,
    backend,
    async createDroplet(opts = {}) {
      const hostKey = keyPair('host');
      const name = opts.name ?? `b${++seq}-${randomBytes(2).toString('hex')}`;
      const inst = await backend.create({
        ...opts,
        name,
        variant: opts.variant ?? 'trixie',
        authorizedKeys: opts.authorizedKeys ?? [identity.publicKey],
        hostKeys: { ssh_host_ed25519_key: hostKey.privateKey, 'ssh_host_ed25519_key.pub': `${hostKey.publicKey}\n` },
      });
      return {
        id: 0,
        name,
        publicIpv4: inst.publicIpv4,
        privateIpv4: inst.privateIpv4,
        container: inst.container,
        variant: inst.variant,
        hostKey: hostKey.publicKey,
      } satisfies FixtureDroplet;
    },
    async ssh(d) {
      const blob = Buffer.from(d.hostKey.split(/\s+/)[1] ?? '', 'base64');
      const ssh = new NodeSSH();
      await ssh.connect({
        host: d.publicIpv4,
        username: 'root',
        privateKey: identity.privateKey,
        readyTimeout: 20_000,
        hostVerifier: (key: Buffer | string) => Buffer.isBuffer(key) && key.equals(blob),
      } as Parameters<NodeSSH['connect']>[0]);
      return ssh;
    },
    async exec(d, command, opts = {}) {
      let c = conns.get(d.container);
      if (!c || !c.isConnected()) {
        c = await lab.ssh(d);
        conns.set(d.container, c);
      }
      const r = await c.execCommand(command, opts.stdin !== undefined ? { stdin: opts.stdin } : {});
      return { code: r.code, stdout: r.stdout, stderr: r.stderr };
    },
    async destroy(d) {
      conns.get(d.container)?.dispose();
      conns.delete(d.container);
      await backend.destroy(d.container);
    },
    async destroyAll() {
      for (const c of conns.values()) c.dispose();
      conns.clear();
      await backend.destroyAll();
    },
  };
  return lab;
}
