// The real dependencies of rolling-update: deploy-compose's (SSH pool, release files, DOCR,
// transfer), the DigitalOcean API for targets and the load balancer.
import type { ActionIo } from '../../lib/action/core.js';
import { ConfigurationError } from '../../lib/action/errors.js';
import { createClient, type Droplet, normalizeApiEndpoint } from '../../lib/digitalocean/index.js';
import { realSleep } from '../../lib/retry.js';
import type { LoadBalancerOps } from '../../lib/rollout/fleet.js';
import { parseLbHealthCheck, waitLbHealthy } from '../../lib/rollout/lb.js';
import { realDeps as deployRealDeps } from '../deploy-compose/deps.js';
import type { Inputs } from './inputs.js';
import type { Deps, Member } from './run.js';

function member(d: Droplet, inputs: Inputs): Member {
  const net = d.networks.v4.find((n) => n.type === inputs.deploy.address);
  if (!net) throw new Error(`droplet ${d.name} (${d.id}) has no ${inputs.deploy.address} IPv4 address`);
  const priv = d.networks.v4.find((n) => n.type === 'private')?.ip_address;
  const pub = d.networks.v4.find((n) => n.type === 'public')?.ip_address;
  return {
    id: d.id,
    name: d.name,
    ...(priv ? { privateIpv4: priv } : {}),
    ...(pub ? { publicIpv4: pub } : {}),
    target: {
      host: net.ip_address,
      port: inputs.deploy.ssh.port,
      user: inputs.deploy.ssh.user,
      label: `${d.name} (${net.ip_address})`,
    },
  };
}

export function realDeps(io: ActionIo, inputs: Inputs): Deps {
  const client = () => {
    if (!inputs.deploy.token) throw new ConfigurationError('input "token" is required for this');
    return createClient({
      token: inputs.deploy.token,
      endpoint: normalizeApiEndpoint(inputs.deploy.apiEndpoint),
      setSecret: (v) => io.setSecret(v),
      logger: io.logger,
    });
  };
  const { io: _io, resolveTargets: _r, ...deploy } = deployRealDeps(io, inputs.deploy);
  return {
    io,
    deploy,
    async resolveMembers() {
      const t = inputs.deploy.targets;
      if (t.kind === 'hosts') {
        return t.hosts.map((h) => {
          const label = h.port === 22 ? h.host : `${h.host}:${h.port}`;
          return { name: label, target: { ...h, label } };
        });
      }
      const api = client();
      const droplets = t.kind === 'tag' ? await api.listDropletsByTag(t.tag) : await api.getDroplets(t.ids);
      const sorted = t.kind === 'tag' ? droplets.sort((a, b) => a.name.localeCompare(b.name)) : droplets;
      return sorted.map((d) => member(d, inputs));
    },
    loadBalancer(id, members): LoadBalancerOps {
      const api = client();
      const byId = new Map(members.map((m) => [m.id, m]));
      return {
        remove: (ids) => api.removeDropletsFromLoadBalancer(id, ids),
        add: (ids) => api.addDropletsToLoadBalancer(id, ids),
        async waitHealthy(ids) {
          const lb = await api.getLoadBalancer(id);
          const missing = ids.filter((d) => !lb.droplet_ids.includes(d));
          if (missing.length)
            throw new Error(
              `load balancer ${lb.name} does not list droplet(s) ${missing.join(', ')} after adding them`,
            );
          const hc = parseLbHealthCheck(lb.health_check);
          const results = await Promise.all(
            ids.map(async (dropletId) => {
              const m = byId.get(dropletId) as Member;
              const host = await deploy.connector.connect(m.target);
              return { m, ...(await waitLbHealthy(host, hc, inputs.lbHealthyTimeoutMs, { sleep: realSleep })) };
            }),
          );
          const bad = results.filter((r) => !r.ok);
          if (bad.length) {
            throw new Error(
              `${bad.map((b) => `${b.m.name}: the load balancer's ${hc.protocol} check on port ${hc.port}${hc.protocol === 'tcp' ? '' : ` ${hc.path}`} did not pass (${b.detail})`).join('; ')}`,
            );
          }
          // the LB counts its own passes from when the droplet was added: one more interval
          await realSleep(hc.checkIntervalSeconds * 1000);
        },
      };
    },
    swarm: {
      connector: deploy.connector,
      readReleaseFiles: deploy.readReleaseFiles,
      readEnvFile: deploy.readEnvFile,
      sleep: realSleep,
      now: Date.now,
      newToken: deploy.newToken,
    },
    sleep: realSleep,
    now: Date.now,
  };
}
