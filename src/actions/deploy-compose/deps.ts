// The real dependencies of deploy-compose: SSH pool, DigitalOcean client, local files,
// the runner's Docker for `transfer`. Unit tests pass fakes instead.
import { randomUUID } from 'node:crypto';
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { join, posix, resolve } from 'node:path';

import type { ActionIo } from '../../lib/action/core.js';
import { ConfigurationError } from '../../lib/action/errors.js';
import type { Droplet } from '../../lib/digitalocean/index.js';
import { authsFromDockerConfig } from '../../lib/images/registry.js';
import { LocalDockerTransfer } from '../../lib/images/transfer.js';
import { sshSettings } from '../../lib/ssh/inputs.js';
import { SshPool } from '../../lib/ssh/pool.js';
import type { HostTarget } from '../../lib/ssh/target.js';
import { DEFAULT_COMPOSE_FILES, type Inputs } from './inputs.js';
import type { Deps, ReleaseFile } from './run.js';

function dropletTarget(d: Droplet, inputs: Inputs): HostTarget {
  const net = d.networks.v4.find((n) => n.type === inputs.address);
  if (!net) throw new Error(`droplet ${d.name} (${d.id}) has no ${inputs.address} IPv4 address`);
  return { host: net.ip_address, port: inputs.ssh.port, user: inputs.ssh.user, label: `${d.name} (${net.ip_address})` };
}

function walk(root: string, rel: string, out: ReleaseFile[], inputName: string): void {
  const abs = join(root, rel);
  if (!existsSync(abs)) throw new ConfigurationError(`input "${inputName}": ${rel} does not exist in ${root}`);
  const st = statSync(abs);
  if (st.isDirectory()) {
    for (const name of readdirSync(abs).sort()) walk(root, posix.join(rel, name), out, inputName);
    return;
  }
  out.push({ path: rel, content: readFileSync(abs), mode: st.mode & 0o111 ? 0o755 : 0o644, compose: false });
}

export function readReleaseFiles(inputs: Inputs): ReleaseFile[] {
  const root = resolve(inputs.context.workspace, inputs.workingDirectory);
  let composeFiles = inputs.composeFiles;
  if (composeFiles.length === 0) {
    const found = DEFAULT_COMPOSE_FILES.find((f) => existsSync(join(root, f)));
    if (!found) {
      throw new ConfigurationError(
        `input "compose-files" is empty and none of ${DEFAULT_COMPOSE_FILES.join(', ')} exists in ${root}`,
      );
    }
    composeFiles = [found];
  }
  const out: ReleaseFile[] = [];
  for (const f of composeFiles) {
    const abs = join(root, f);
    if (!existsSync(abs) || !statSync(abs).isFile()) {
      throw new ConfigurationError(`input "compose-files": ${f} is not a file in ${root}`);
    }
    out.push({ path: f, content: readFileSync(abs), mode: 0o644, compose: true });
  }
  for (const f of inputs.files) {
    const before = out.length;
    walk(root, f, out, 'files');
    for (const added of out.slice(before)) {
      if (out.slice(0, before).some((o) => o.path === added.path)) {
        throw new ConfigurationError(`input "files": ${added.path} is listed twice`);
      }
    }
  }
  return out;
}

export function realDeps(io: ActionIo, inputs: Inputs): Deps {
  // loaded only when needed: most deploys name their hosts, and the API client is a third of
  // the bundle (its load time counts in every deploy's wall time)
  const client = async () => {
    if (!inputs.token) throw new ConfigurationError('input "token" is required for this');
    const { createClient, normalizeApiEndpoint } = await import('../../lib/digitalocean/index.js');
    return createClient({
      token: inputs.token,
      endpoint: normalizeApiEndpoint(inputs.apiEndpoint),
      setSecret: (v) => io.setSecret(v),
      logger: io.logger,
    });
  };
  return {
    io,
    connector: new SshPool(sshSettings(inputs.ssh, io.logger)),
    async resolveTargets(targets) {
      const api = await client();
      const droplets =
        targets.kind === 'tag' ? await api.listDropletsByTag(targets.tag) : await api.getDroplets(targets.ids);
      return droplets.sort((a, b) => a.name.localeCompare(b.name)).map((d) => dropletTarget(d, inputs));
    },
    async docrAuth() {
      const config = await (await client()).getDockerCredentials({ readWrite: false, expirySeconds: 1800 });
      return authsFromDockerConfig(config);
    },
    readReleaseFiles,
    readEnvFile: (path) => readFileSync(resolve(inputs.context.workspace, inputs.workingDirectory, path), 'utf8'),
    ...(inputs.images === 'transfer' ? { transfer: new LocalDockerTransfer() } : {}),
    now: Date.now,
    newToken: randomUUID,
  };
}
