import { createHash } from 'node:crypto';

import type { ActionIo } from '../../lib/action/core.js';
import { ConfigurationError, errorMessage } from '../../lib/action/errors.js';
import { formatDuration } from '../../lib/action/parsers.js';
import { SummaryBuilder } from '../../lib/action/summary.js';
import { buildCloudConfig } from '../../lib/cloud-init/cloud-config.js';
import {
  fingerprintFromTags,
  fingerprintOfPublicKey,
  type HostKeyPair,
  hostKeyTag,
  hostPublicKeyTag,
  publicKeyFromTags,
} from '../../lib/cloud-init/host-key.js';
import type { DigitalOceanClient } from '../../lib/digitalocean/client.js';
import { ActionTimeoutError, DigitalOceanApiError } from '../../lib/digitalocean/errors.js';
import { type Droplet, privateIpv4, publicIpv4 } from '../../lib/digitalocean/types.js';
import type { RemoteHost } from '../../lib/ssh/executor.js';
import { hostMatches, type KnownHostEntry } from '../../lib/ssh/host-keys.js';
import type { HostTarget } from '../../lib/ssh/target.js';
import { desiredFirewall, ensureFirewall } from './firewall.js';
import type { Inputs } from './inputs.js';
import { NotReadyError, type ReadyTimings, waitUntilUsable } from './ready.js';

export type ProvisionApi = Pick<
  DigitalOceanClient,
  | 'listDropletsByTag'
  | 'getDroplet'
  | 'createDroplets'
  | 'deleteDroplet'
  | 'waitForAction'
  | 'listSshKeys'
  | 'getSshKey'
  | 'createSshKey'
  | 'listSizes'
  | 'tagDroplets'
  | 'listFirewalls'
  | 'createFirewall'
  | 'updateFirewall'
  | 'addTagsToFirewall'
  | 'listReservedIps'
  | 'getReservedIp'
  | 'createReservedIp'
  | 'assignReservedIp'
>;

/** What the action trusts as a droplet's host key. */
export interface HostTrust {
  knownHosts: KnownHostEntry[];
  fingerprints: string[];
}

export interface Deps {
  io: Pick<ActionIo, 'setOutput' | 'setSecret' | 'writeSummary' | 'logger'>;
  api: ProvisionApi;
  /** Opens an SSH connection that accepts only the trusted host key (one attempt; run() retries). */
  connect: (target: HostTarget, trust: HostTrust) => Promise<RemoteHost>;
  generateHostKey: () => HostKeyPair;
  sleep: (ms: number) => Promise<void>;
  now: () => number;
}

export interface DropletOutput {
  id: number;
  name: string;
  public_ipv4: string | null;
  private_ipv4: string | null;
  region: string;
  size: string;
  status: string;
  created: boolean;
  host_key_fingerprint: string | null;
}

export interface Outputs {
  droplets: DropletOutput[];
  ids: number[];
  publicIps: string[];
  knownHosts: string[];
  createdCount: number;
  firewallId?: string;
  reservedIp?: string;
}

interface Tracked {
  droplet: Droplet;
  created: boolean;
  /** The ed25519 public key line, when known (created by us, recorded in tags, or in known-hosts). */
  publicKeys: string[];
  fingerprint?: string;
  trust: HostTrust;
  actionId?: number;
  timings?: ReadyTimings;
}

const ACTIVE_POLL_MS = 3000;

function label(d: Droplet): string {
  const ip = publicIpv4(d);
  return ip ? `${d.name} (id ${d.id}, ${ip})` : `${d.name} (id ${d.id})`;
}

/** MD5 fingerprint as DigitalOcean lists account keys: `aa:bb:…`. */
export function md5Fingerprint(publicKeyLine: string): string {
  const blob = Buffer.from(publicKeyLine.trim().split(/\s+/)[1] ?? '', 'base64');
  return (createHash('md5').update(blob).digest('hex').match(/../g) ?? []).join(':');
}

/** Swap for `auto`: droplets with ≤ 2 GB RAM get as much swap as RAM, at least 1 GiB. */
export function autoSwapBytes(memoryMb: number): number {
  if (memoryMb > 2048) return 0;
  return Math.max(1024, memoryMb) * 1024 * 1024;
}

export async function run(inputs: Inputs, deps: Deps): Promise<Outputs> {
  const { api, io } = deps;
  const log = io.logger;
  const started = deps.now();
  const deadline = started + inputs.waitTimeoutMs;
  const appTag = inputs.app;
  maskKey(io, inputs.sshPrivateKey);
  if (inputs.sshPassphrase) io.setSecret(inputs.sshPassphrase);

  // 1. What exists: droplets with the app tag, by name.
  const tagged = await api.listDropletsByTag(appTag);
  const tracked = new Map<string, Tracked>();
  const problems: string[] = [];
  for (const name of inputs.names) {
    const same = tagged.filter((d) => d.name === name);
    if (same.length > 1) {
      problems.push(
        `${same.length} droplets named "${name}" carry the tag "${appTag}" (ids ${same.map((d) => d.id).join(', ')}); delete the extra ones`,
      );
      continue;
    }
    const droplet = same[0];
    if (!droplet) continue;
    const trust = trustForFound(droplet, inputs.knownHosts);
    if (typeof trust === 'string') problems.push(trust);
    else tracked.set(name, { droplet, created: false, ...trust });
  }
  if (problems.length) throw new ConfigurationError(problems.join('\n'));
  const missing = inputs.names.filter((n) => !tracked.has(n));
  log.info(
    `app "${appTag}": ${tracked.size} of ${inputs.names.length} droplet(s) exist${tracked.size ? ` (${[...tracked.keys()].join(', ')})` : ''}; ${missing.length} to create${missing.length ? ` (${missing.join(', ')})` : ''}`,
  );

  const created: Tracked[] = [];
  let reservedIpCreated: string | undefined;
  try {
    // 2. Create what is missing, each with its own host key pinned from birth.
    if (missing.length > 0) {
      const sshKeys = await resolveSshKeys(inputs, api, log);
      const swapBytes = await resolveSwap(inputs, api);
      for (const name of missing) {
        const hostKey = deps.generateHostKey();
        maskKey(io, hostKey.privateKey);
        const userData = buildCloudConfig({
          hostKey,
          deployUser: inputs.deployUser,
          authorizedKeys: [inputs.sshPublicKey],
          swapBytes,
          appDir: `/opt/${inputs.app}`,
          ...(inputs.userData !== undefined ? { userData: inputs.userData } : {}),
        });
        const tags = [
          ...new Set([appTag, ...inputs.tags, hostKeyTag(hostKey.fingerprint), hostPublicKeyTag(hostKey.publicKey)]),
        ];
        const { droplet, actionId } = await createOne(name, hostKey, {
          name,
          region: inputs.region,
          size: inputs.size,
          image: inputs.image,
          ssh_keys: sshKeys,
          backups: inputs.backups,
          ipv6: inputs.ipv6,
          monitoring: inputs.monitoring,
          tags,
          user_data: userData,
          ...(inputs.vpcUuid ? { vpc_uuid: inputs.vpcUuid } : {}),
        });
        const t: Tracked = {
          droplet,
          created: true,
          publicKeys: [hostKey.publicKey],
          fingerprint: hostKey.fingerprint,
          trust: { knownHosts: [], fingerprints: [hostKey.fingerprint] },
          ...(actionId !== undefined ? { actionId } : {}),
        };
        created.push(t);
        tracked.set(name, t);
        log.info(`created droplet ${name} (id ${droplet.id}); host key ${hostKey.fingerprint}`);
      }
    }

    // 3. Active with an address (created ones, and found ones still booting).
    await Promise.all(inputs.names.map((n) => waitActive(tracked.get(n) as Tracked)));

    // 4. Tags the user added since the droplets were made.
    for (const tag of inputs.tags) {
      const lacking = [...tracked.values()].filter((t) => !t.droplet.tags.includes(tag)).map((t) => t.droplet.id);
      if (lacking.length) await api.tagDroplets(tag, lacking);
    }

    // 5. Firewall for the app tag.
    let firewallId: string | undefined;
    if (inputs.firewall) {
      const { firewall, change } = await ensureFirewall(
        api,
        desiredFirewall(inputs.app, appTag, inputs.sshAllow, inputs.firewallPorts),
      );
      firewallId = firewall.id;
      log.info(`firewall "${firewall.name}" (${firewall.id}) ${change}, applied to tag "${appTag}"`);
    }

    // 6. Reserved IP (one droplet only; checked in inputs).
    let reservedIp: string | undefined;
    if (inputs.reservedIp.kind !== 'none') {
      const only = tracked.get(inputs.names[0] as string) as Tracked;
      const r = await ensureReservedIp(only.droplet);
      reservedIp = r.ip;
      if (r.created) reservedIpCreated = r.ip;
    }

    // 7. Ready means usable, for every droplet (found ones too: it also proves their key).
    const results = await Promise.allSettled(
      inputs.names.map(async (name) => {
        const t = tracked.get(name) as Tracked;
        const ip = publicIpv4(t.droplet) as string;
        const target: HostTarget = { host: ip, port: 22, user: inputs.deployUser, label: `${name} (${ip})` };
        t.timings = await waitUntilUsable(target, deadline, {
          connect: (tg) => deps.connect(tg, t.trust),
          sleep: deps.sleep,
          now: deps.now,
          logger: log,
        });
      }),
    );
    const failures = results.flatMap((r) => (r.status === 'rejected' ? [errorMessage(r.reason)] : []));
    if (failures.length) throw new Error(`${failures.length} droplet(s) not usable:\n${failures.join('\n')}`);

    // 8. Outputs.
    const list = inputs.names.map((n) => tracked.get(n) as Tracked);
    const outputs: Outputs = {
      droplets: list.map((t) => ({
        id: t.droplet.id,
        name: t.droplet.name,
        public_ipv4: publicIpv4(t.droplet) ?? null,
        private_ipv4: privateIpv4(t.droplet) ?? null,
        region: t.droplet.region?.slug ?? inputs.region,
        size: t.droplet.size_slug,
        status: t.droplet.status,
        created: t.created,
        host_key_fingerprint: t.fingerprint ?? null,
      })),
      ids: list.map((t) => t.droplet.id),
      publicIps: list.map((t) => publicIpv4(t.droplet) as string),
      knownHosts: list.flatMap((t) => {
        const hosts = [publicIpv4(t.droplet), ...(reservedIp && t === list[0] ? [reservedIp] : [])];
        return t.publicKeys.flatMap((key) => hosts.map((h) => `${h} ${key}`));
      }),
      createdCount: created.length,
      ...(firewallId ? { firewallId } : {}),
      ...(reservedIp ? { reservedIp } : {}),
    };
    writeOutputs(outputs, io);
    await io.writeSummary(summary(outputs, list, inputs, deps.now() - started));
    log.info(
      `${created.length} created, ${list.length - created.length} found; all usable after ${formatDuration(deps.now() - started)}`,
    );
    return outputs;
  } catch (error) {
    await cleanup(error);
    throw error;
  }

  // ---- steps ----------------------------------------------------------------------------

  async function createOne(
    name: string,
    hostKey: HostKeyPair,
    request: Parameters<ProvisionApi['createDroplets']>[0],
  ): Promise<{ droplet: Droplet; actionId?: number }> {
    for (let attempt = 1; ; attempt += 1) {
      try {
        const r = await api.createDroplets(request);
        const droplet = r.droplets[0];
        if (!droplet) throw new Error(`DigitalOcean accepted the creation of ${name} but returned no droplet`);
        return { droplet, ...(r.actionIds[0] !== undefined ? { actionId: r.actionIds[0] } : {}) };
      } catch (error) {
        // A 5xx or a lost answer may still have created it: its host key tag is unique to this attempt.
        if (!(error instanceof DigitalOceanApiError) || (error.status !== 0 && error.status < 500)) throw error;
        const again = (await api.listDropletsByTag(hostKeyTag(hostKey.fingerprint))).find((d) => d.name === name);
        if (again) {
          log.info(
            `${name}: the create request failed (${error.message}) but the droplet exists (id ${again.id}); using it`,
          );
          return { droplet: again };
        }
        if (attempt >= 3) throw error;
        log.warn(`${name}: create failed (${error.message}); nothing was created, trying again`);
        await deps.sleep(2000 * attempt);
      }
    }
  }

  async function waitActive(t: Tracked): Promise<void> {
    const stepStart = deps.now();
    if (t.actionId !== undefined) {
      try {
        await api.waitForAction(t.actionId, {
          timeoutMs: Math.max(0, deadline - deps.now()),
          label: `droplet ${t.droplet.name}`,
          intervalMs: 1000,
          maxIntervalMs: 5000,
        });
      } catch (error) {
        if (error instanceof ActionTimeoutError) {
          throw new NotReadyError(
            label(t.droplet),
            'active',
            `did not complete within ${formatDuration(inputs.waitTimeoutMs)} ("wait-timeout")`,
            `DigitalOcean action ${error.actionId} (${error.actionType}) is still "${error.lastStatus}"`,
          );
        }
        throw error;
      }
    }
    for (;;) {
      const d = await api.getDroplet(t.droplet.id);
      t.droplet = d;
      if (d.status === 'active' && publicIpv4(d)) break;
      if (d.status === 'off' || d.status === 'archive') {
        throw new Error(
          `droplet ${label(d)} is "${d.status}"; power it on (or delete it to have it re-created) and run again`,
        );
      }
      if (deps.now() >= deadline) {
        throw new NotReadyError(
          label(d),
          'active',
          `did not complete within ${formatDuration(inputs.waitTimeoutMs)} ("wait-timeout")`,
          `droplet status "${d.status}"${publicIpv4(d) ? '' : ', no public IPv4 yet'}`,
        );
      }
      await deps.sleep(Math.min(ACTIVE_POLL_MS, Math.max(1, deadline - deps.now())));
    }
    if (t.created) log.info(`${label(t.droplet)}: active after ${formatDuration(deps.now() - stepStart)}`);
  }

  async function ensureReservedIp(droplet: Droplet): Promise<{ ip: string; created: boolean }> {
    const setting = inputs.reservedIp;
    if (setting.kind === 'assign') {
      const current = await api.getReservedIp(setting.ip);
      if (current.droplet?.id === droplet.id) return { ip: setting.ip, created: false };
      const action = await api.assignReservedIp(setting.ip, droplet.id);
      await api.waitForAction(action.id, {
        timeoutMs: Math.max(1000, deadline - deps.now()),
        label: `reserved IP ${setting.ip}`,
      });
      log.info(`reserved IP ${setting.ip} assigned to ${label(droplet)}`);
      return { ip: setting.ip, created: false };
    }
    const mine = (await api.listReservedIps()).find((r) => r.droplet?.id === droplet.id);
    if (mine) return { ip: mine.ip, created: false };
    const reserved = await api.createReservedIp({ region: droplet.region?.slug ?? inputs.region });
    const action = await api.assignReservedIp(reserved.ip, droplet.id);
    await api.waitForAction(action.id, {
      timeoutMs: Math.max(1000, deadline - deps.now()),
      label: `reserved IP ${reserved.ip}`,
    });
    log.info(`reserved IP ${reserved.ip} created and assigned to ${label(droplet)}`);
    return { ip: reserved.ip, created: true };
  }

  async function cleanup(error: unknown): Promise<void> {
    if (created.length === 0 || !(error instanceof Error)) return;
    const names = created.map((t) => `${t.droplet.name} (id ${t.droplet.id})`).join(', ');
    if (!inputs.cleanupOnFailure) {
      error.message += `\nThe droplet(s) this run created were left in place ("cleanup-on-failure" is false): ${names}.`;
      return;
    }
    const failed: string[] = [];
    for (const t of created) {
      try {
        await api.deleteDroplet(t.droplet.id);
      } catch (e) {
        failed.push(`${t.droplet.name} (id ${t.droplet.id}): ${errorMessage(e)}`);
      }
    }
    error.message += failed.length
      ? `\nCleanup: could not delete ${failed.join('; ')}; delete them by hand.`
      : `\nCleanup: deleted the droplet(s) this run created: ${names}.`;
    if (reservedIpCreated)
      error.message += ` The reserved IP ${reservedIpCreated} created by this run was kept (release it if unwanted).`;
  }
}

/**
 * What to trust as a found droplet's host key: a `known-hosts` line for its address (the
 * override), else the key recorded in its tags at creation. A droplet with neither is an
 * error explaining how to fix it, never trusted on first use.
 */
export function trustForFound(
  droplet: Droplet,
  knownHosts: readonly KnownHostEntry[],
): { publicKeys: string[]; fingerprint?: string; trust: HostTrust } | string {
  const ip = publicIpv4(droplet);
  const fromInput = ip ? knownHosts.filter((e) => !e.revoked && hostMatches(e.patterns, ip, 22)) : [];
  if (fromInput.length > 0) {
    const publicKeys = fromInput.map((e) => `${e.type} ${e.key.toString('base64')}`);
    return {
      publicKeys,
      fingerprint: fingerprintOfPublicKey(publicKeys[0] as string),
      trust: { knownHosts: knownHosts.filter((e) => ip && hostMatches(e.patterns, ip, 22)), fingerprints: [] },
    };
  }
  const recordedKey = publicKeyFromTags(droplet.tags);
  const recordedFingerprint = fingerprintFromTags(droplet.tags);
  if (recordedKey) {
    const fp = fingerprintOfPublicKey(recordedKey);
    if (recordedFingerprint && recordedFingerprint !== fp) {
      return `droplet ${label(droplet)}: its tags record two different host keys (${fp} and ${recordedFingerprint}); remove the wrong tag or give "known-hosts" for ${ip ?? 'it'}`;
    }
    return { publicKeys: [recordedKey], fingerprint: fp, trust: { knownHosts: [], fingerprints: [fp] } };
  }
  if (recordedFingerprint) {
    return {
      publicKeys: [],
      fingerprint: recordedFingerprint,
      trust: { knownHosts: [], fingerprints: [recordedFingerprint] },
    };
  }
  return (
    `droplet ${label(droplet)} exists but has no recorded host key (no "hostkey-sha256-…" tag) and "known-hosts" has no line for ${ip ?? 'its address'}, ` +
    `so the action cannot tell it from an impostor. Read its key through a trusted channel (the DigitalOcean web console: ` +
    `\`cat /etc/ssh/ssh_host_ed25519_key.pub\`) and pass it as "known-hosts: ${ip ?? '<ip>'} ssh-ed25519 AAAA…", ` +
    `or delete the droplet so the action re-creates it with a pinned key.`
  );
}

async function resolveSshKeys(
  inputs: Inputs,
  api: ProvisionApi,
  log: Deps['io']['logger'],
): Promise<(number | string)[]> {
  if (inputs.sshKeyIds.length > 0) {
    const ids: number[] = [];
    for (const id of inputs.sshKeyIds) {
      try {
        ids.push((await api.getSshKey(id)).id);
      } catch (error) {
        if (error instanceof DigitalOceanApiError && error.status === 404) {
          throw new ConfigurationError(
            `input "ssh-key-ids" has ${JSON.stringify(String(id))}: no such SSH key in the DigitalOcean account`,
          );
        }
        throw error;
      }
    }
    return ids;
  }
  const fingerprint = md5Fingerprint(inputs.sshPublicKey);
  const existing = (await api.listSshKeys()).find(
    (k) =>
      k.fingerprint === fingerprint || k.public_key.trim().split(/\s+/).slice(0, 2).join(' ') === inputs.sshPublicKey,
  );
  if (existing) {
    log.info(`SSH key found in the account: "${existing.name}" (id ${existing.id}, ${fingerprint})`);
    return [existing.id];
  }
  const key = await api.createSshKey(inputs.sshKeyName, inputs.sshPublicKey);
  log.info(`SSH key registered in the account as "${key.name}" (id ${key.id}, ${key.fingerprint})`);
  return [key.id];
}

async function resolveSwap(inputs: Inputs, api: ProvisionApi): Promise<number> {
  if (inputs.swap.kind === 'off') return 0;
  if (inputs.swap.kind === 'size') return inputs.swap.bytes;
  const sizes = await api.listSizes();
  const size = sizes.find((s) => s.slug === inputs.size);
  if (!size) {
    const some = sizes
      .filter((s) => s.available)
      .slice(0, 6)
      .map((s) => s.slug)
      .join(', ');
    throw new ConfigurationError(
      `input "size" has ${JSON.stringify(inputs.size)}: DigitalOcean offers no such size (e.g. ${some})`,
    );
  }
  if (size.regions?.length && !size.regions.includes(inputs.region)) {
    throw new ConfigurationError(
      `input "size" has ${JSON.stringify(inputs.size)}: not offered in region ${inputs.region} (offered in ${size.regions.join(', ')})`,
    );
  }
  return autoSwapBytes(size.memory);
}

function maskKey(io: Deps['io'], key: string): void {
  for (const line of key.split('\n')) {
    const l = line.trim();
    if (l.length >= 8 && !l.startsWith('-----')) io.setSecret(l);
  }
}

function writeOutputs(o: Outputs, io: Deps['io']): void {
  io.setOutput('droplets', JSON.stringify(o.droplets));
  io.setOutput('ids', o.ids.join(','));
  io.setOutput('public-ips', o.publicIps.join(','));
  io.setOutput('known-hosts', o.knownHosts.join('\n'));
  io.setOutput('created-count', String(o.createdCount));
  io.setOutput('firewall-id', o.firewallId ?? '');
  io.setOutput('reserved-ip', o.reservedIp ?? '');
}

function summary(o: Outputs, list: Tracked[], inputs: Inputs, elapsedMs: number) {
  const ready = (t: Tracked) =>
    t.timings ? `ssh ${formatDuration(t.timings.sshMs)}, cloud-init ${formatDuration(t.timings.cloudInitMs)}` : '';
  return new SummaryBuilder()
    .heading(`provision-droplet: ${inputs.app}`)
    .text(
      `${o.createdCount} created, ${list.length - o.createdCount} already there; all usable after ${formatDuration(elapsedMs)}.`,
    )
    .table(
      ['Droplet', 'ID', 'Public IPv4', 'Private IPv4', 'Region', 'Size', 'Created', 'Host key', 'Compose', 'Ready'],
      list.map((t) => [
        t.droplet.name,
        t.droplet.id,
        publicIpv4(t.droplet),
        privateIpv4(t.droplet),
        t.droplet.region?.slug,
        t.droplet.size_slug,
        t.created ? 'yes' : 'no',
        t.fingerprint,
        t.timings?.composeVersion,
        ready(t),
      ]),
    )
    .text(
      [
        o.firewallId ? `Firewall: ${o.firewallId} (tag \`${inputs.app}\`)` : '',
        o.reservedIp ? `Reserved IP: ${o.reservedIp}` : '',
      ]
        .filter(Boolean)
        .join('  \n'),
    )
    .build();
}
