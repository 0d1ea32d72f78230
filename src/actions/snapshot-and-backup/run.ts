import type { ActionIo } from '../../lib/action/core.js';
import { maskSecret } from '../../lib/action/secrets.js';
import { SummaryBuilder } from '../../lib/action/summary.js';
import { applyRetention, resolveBackup } from '../../lib/backup/catalog.js';
import { decryptCommandHint } from '../../lib/backup/encryption.js';
import { type KindContext, restoreDump, verifyDump, type VerifyResult } from '../../lib/backup/kinds.js';
import type { BackupManifest } from '../../lib/backup/manifest.js';
import { describe, openBackup, validateBackup } from '../../lib/backup/pipeline.js';
import { hasRetention } from '../../lib/backup/retention.js';
import type { SpacesSettings } from '../../lib/backup/spaces.js';
import type { DumpSpec } from '../../lib/backup/spec.js';
import type { BackupStore } from '../../lib/backup/store.js';
import { formatBytes, manifestKeyOf, servingRelease, takeDump } from '../../lib/backup/take-dump.js';
import type { Droplet } from '../../lib/digitalocean/types.js';
import {
  applySnapshotRetention,
  snapshotDroplet,
  type SnapshotApi,
  type SnapshotOutcome,
} from '../../lib/snapshots/snapshots.js';
import type { RemoteHost } from '../../lib/ssh/executor.js';
import type { HostTarget } from '../../lib/ssh/target.js';
import type { Inputs, Targets } from './inputs.js';

export interface DropletApi extends SnapshotApi {
  listDroplets(): Promise<Droplet[]>;
  listDropletsByTag(tag: string): Promise<Droplet[]>;
  getDroplets(ids: readonly number[]): Promise<Droplet[]>;
}

export interface Deps {
  io: ActionIo;
  /** The DigitalOcean client, loaded on first use (a `hosts`-only backup never loads it). */
  api(): Promise<DropletApi>;
  connect(target: HostTarget): Promise<RemoteHost>;
  closeAll(): Promise<void>;
  store(spaces: SpacesSettings): BackupStore;
  now(): Date;
  sleep(ms: number): Promise<void>;
}

interface DumpOutcome {
  spec: DumpSpec;
  manifest?: BackupManifest;
  verify?: VerifyResult;
  deleted: string[];
  error?: string;
}

async function resolveDroplets(api: DropletApi, targets: Exclude<Targets, { kind: 'hosts' }>): Promise<Droplet[]> {
  let droplets: Droplet[];
  if (targets.kind === 'tag') droplets = await api.listDropletsByTag(targets.tag);
  else if (targets.kind === 'ids') droplets = await api.getDroplets(targets.ids);
  else {
    const all = await api.listDroplets();
    droplets = targets.names.map((name) => {
      const found = all.filter((d) => d.name === name);
      if (found.length === 0) throw new Error(`no droplet named "${name}" in this account`);
      if (found.length > 1)
        throw new Error(`${found.length} droplets are named "${name}": use "droplet-ids" to pick one`);
      return found[0] as Droplet;
    });
  }
  if (droplets.length === 0)
    throw new Error(`no droplets match ${targets.kind === 'tag' ? `tag "${targets.tag}"` : 'the given ids'}`);
  return droplets.sort((a, b) => a.name.localeCompare(b.name));
}

function dropletTarget(d: Droplet, inputs: Inputs): HostTarget {
  const net = d.networks.v4.find((n) => n.type === inputs.address);
  if (!net) throw new Error(`droplet ${d.name} (${d.id}) has no ${inputs.address} IPv4 address`);
  return {
    host: net.ip_address,
    port: inputs.ssh?.port ?? 22,
    user: inputs.ssh?.user ?? 'root',
    label: `${d.name} (${net.ip_address})`,
  };
}

export async function run(inputs: Inputs, deps: Deps): Promise<void> {
  const { io } = deps;
  const log = io.logger;
  const secret = (v: string | undefined, kind: 'plain' | 'url' = 'plain'): void => {
    if (v) maskSecret((s) => io.setSecret(s), v, kind);
  };
  secret(inputs.token);
  secret(inputs.spaces?.secretAccessKey);
  secret(inputs.passphrase);
  for (const d of inputs.dumps) if (d.kind === 'postgres') secret(d.databaseUrl, 'url');

  const droplets = inputs.targets.kind === 'hosts' ? [] : await resolveDroplets(await deps.api(), inputs.targets);
  const failures: string[] = [];
  const summary = new SummaryBuilder().heading(`snapshot-and-backup: ${inputs.app} (${inputs.mode})`);

  try {
    // ---------------------------------------------------------------- snapshots
    const snaps: SnapshotOutcome[] = [];
    if (inputs.snapshot) {
      const api = await deps.api();
      const options = {
        app: inputs.app,
        template: inputs.snapshotTemplate,
        tag: inputs.snapshotTag,
        powerOff: inputs.powerOff,
        timeoutMs: inputs.snapshotTimeoutMs,
        retention: inputs.snapshotRetention,
        now: deps.now,
        logger: log,
      };
      for (const d of droplets) {
        await log.group(`snapshot ${d.name}`, async () => {
          let outcome: SnapshotOutcome;
          try {
            outcome = await snapshotDroplet(api, d, options);
          } catch (error) {
            outcome = {
              droplet: d.name,
              dropletId: d.id,
              name: '',
              deleted: [],
              poweredOff: inputs.powerOff,
              error: describe(error),
            };
            failures.push(`snapshot of droplet ${d.name}: ${describe(error)}`);
            log.error(`snapshot of droplet ${d.name} failed: ${describe(error)}`);
          }
          if (outcome.snapshotId && hasRetention(inputs.snapshotRetention)) {
            try {
              outcome.deleted = await applySnapshotRetention(api, d, options, new Set([outcome.snapshotId]));
            } catch (error) {
              failures.push(`snapshot retention for droplet ${d.name}: ${describe(error)}`);
            }
          }
          snaps.push(outcome);
        });
      }
      io.setOutput('snapshot-ids', snaps.flatMap((s) => (s.snapshotId ? [s.snapshotId] : [])).join(','));
      io.setOutput('deleted-snapshot-ids', snaps.flatMap((s) => s.deleted).join(','));
      summary.heading('Snapshots', 4).table(
        ['Droplet', 'Snapshot', 'Id', 'Deleted by retention', 'Result'],
        snaps.map((s) => [
          s.droplet,
          s.name,
          s.snapshotId,
          s.deleted.join(', '),
          s.error ? `failed: ${s.error}` : 'ok',
        ]),
      );
    }

    // ---------------------------------------------------------------- dumps
    if (inputs.dumps.length > 0 && inputs.spaces) {
      const target = pickBackupTarget(inputs, droplets);
      const host = await deps.connect(target);
      const store = deps.store(inputs.spaces);
      const ctx: KindContext = { host, app: inputs.app, logger: log, sleep: deps.sleep, waitTimeoutMs: 5 * 60_000 };
      const prefix = inputs.spaces.prefix;
      if (inputs.mode === 'backup') {
        const releaseId = inputs.releaseId ?? (await servingRelease(host, inputs.deployRoot, inputs.app));
        const outcomes: DumpOutcome[] = [];
        for (const spec of inputs.dumps) {
          const outcome: DumpOutcome = { spec, deleted: [] };
          outcomes.push(outcome);
          await log.group(`dump ${spec.name} (${spec.kind})`, async () => {
            try {
              outcome.manifest = await takeDump({
                host,
                store,
                spec,
                app: inputs.app,
                droplet: target.label,
                prefix,
                gzipLevel: inputs.gzipLevel,
                ...(inputs.passphrase ? { passphrase: inputs.passphrase } : {}),
                iterations: inputs.iterations,
                ...(releaseId ? { releaseId } : {}),
                now: deps.now,
                sleep: deps.sleep,
                logger: log,
                timeoutMs: inputs.dumpTimeoutMs,
                waitTimeoutMs: ctx.waitTimeoutMs,
              });
            } catch (error) {
              outcome.error = describe(error);
              failures.push(outcome.error);
              log.error(outcome.error);
              return;
            }
            if (inputs.verify)
              outcome.verify = await runVerify(ctx, store, spec, outcome.manifest, inputs.passphrase, failures);
            if (hasRetention(inputs.retention)) {
              try {
                const r = await applyRetention(
                  store,
                  prefix,
                  spec.name,
                  inputs.retention,
                  deps.now(),
                  new Set([manifestKeyOf(outcome.manifest)]),
                  log,
                );
                outcome.deleted = [...r.deleted, ...r.orphansDeleted];
              } catch (error) {
                failures.push(`retention of dump "${spec.name}": ${describe(error)}`);
              }
            }
          });
        }
        const made = outcomes.flatMap((o) => (o.manifest ? [o.manifest] : []));
        io.setOutput('backup-keys', made.map((m) => m.key).join(','));
        io.setOutput('manifest-keys', made.map(manifestKeyOf).join(','));
        io.setOutput('deleted-backup-keys', outcomes.flatMap((o) => o.deleted).join(','));
        io.setOutput('backups', JSON.stringify(made));
        if (inputs.verify)
          io.setOutput(
            'verify',
            JSON.stringify(
              outcomes.map((o) => ({ name: o.spec.name, ...(o.verify ?? { ok: false, summary: 'not run' }) })),
            ),
          );
        summary.heading('Backups', 4).table(
          ['Dump', 'Kind', 'Object', 'Dumped', 'Stored', 'SHA-256', 'Verify', 'Deleted by retention', 'Result'],
          outcomes.map((o) => [
            o.spec.name,
            o.spec.kind,
            o.manifest?.key,
            o.manifest ? formatBytes(o.manifest.rawSize) : undefined,
            o.manifest ? formatBytes(o.manifest.size) : undefined,
            o.manifest?.sha256.slice(0, 16),
            o.verify ? `${o.verify.ok ? 'ok' : 'FAILED'}: ${o.verify.summary}` : undefined,
            o.deleted.length ? String(o.deleted.length) : undefined,
            o.error ? `failed: ${o.error}` : 'ok',
          ]),
        );
        const enc = made.find((m) => m.encryption)?.encryption;
        if (enc)
          summary.text(
            `Encrypted (openssl-enc compatible). Decrypt a download with:\n\n\`${decryptCommandHint(enc)}\``,
          );
      } else {
        const spec = (
          inputs.restoreDump ? inputs.dumps.find((d) => d.name === inputs.restoreDump) : inputs.dumps[0]
        ) as DumpSpec;
        const manifest = await resolveBackup(store, prefix, spec.name, inputs.backupKey);
        if (manifest.kind !== spec.kind) {
          throw new Error(
            `backup ${manifest.key} is a ${manifest.kind} dump but dump "${spec.name}" is ${spec.kind}; nothing was changed`,
          );
        }
        io.setOutput('backup-key', manifest.key);
        if (inputs.mode === 'verify') {
          const result = await runVerify(ctx, store, spec, manifest, inputs.passphrase, failures);
          io.setOutput('verify', JSON.stringify([{ name: spec.name, ...result }]));
          summary.table(
            ['Dump', 'Backup', 'Verify'],
            [[spec.name, manifest.key, `${result.ok ? 'ok' : 'FAILED'}: ${result.summary}`]],
          );
        } else {
          await log.group(`restore ${spec.name} from ${manifest.key}`, async () => {
            log.info(
              `checking ${manifest.key} end to end before touching live data (${manifest.size} bytes, sha256 ${manifest.sha256})`,
            );
            await validateBackup(store, manifest, inputs.passphrase);
            log.info(
              `restoring ${manifest.kind} dump "${spec.name}" from ${manifest.key} (made ${manifest.createdAt}${manifest.releaseId ? `, release ${manifest.releaseId}` : ''})`,
            );
            await restoreDump(ctx, spec, await openBackup(store, manifest, inputs.passphrase));
          });
          io.setOutput('restored-key', manifest.key);
          summary.table(
            ['Dump', 'Restored from', 'Made at', 'Release'],
            [[spec.name, manifest.key, manifest.createdAt, manifest.releaseId]],
          );
        }
      }
    }
  } finally {
    await deps.closeAll();
    if (failures.length)
      summary.heading('Failures', 4).text(failures.map((f) => `- ${f.replace(/\n/g, ' ')}`).join('\n'));
    await io.writeSummary(summary.build()).catch(() => undefined);
  }
  if (failures.length) {
    throw new Error(`${failures.length} step(s) failed:\n${failures.join('\n')}`);
  }
}

function pickBackupTarget(inputs: Inputs, droplets: Droplet[]): HostTarget {
  if (inputs.targets.kind === 'hosts') {
    const hosts = inputs.targets.hosts;
    const chosen = inputs.backupDroplet
      ? hosts.find((h) => h.host === inputs.backupDroplet)
      : hosts.length === 1
        ? hosts[0]
        : undefined;
    if (!chosen) throw new Error(`dumps run on one host: ${hosts.length} are given; name it with "backup-droplet"`);
    return { ...chosen, label: chosen.host };
  }
  const chosen = inputs.backupDroplet
    ? droplets.find((d) => d.name === inputs.backupDroplet)
    : droplets.length === 1
      ? droplets[0]
      : undefined;
  if (!chosen) {
    throw new Error(
      inputs.backupDroplet
        ? `input "backup-droplet": no targeted droplet is named "${inputs.backupDroplet}" (${droplets.map((d) => d.name).join(', ')})`
        : `dumps run on one droplet and ${droplets.length} are targeted (${droplets.map((d) => d.name).join(', ')}): name it with "backup-droplet"`,
    );
  }
  return dropletTarget(chosen, inputs);
}

async function runVerify(
  ctx: KindContext,
  store: BackupStore,
  spec: DumpSpec,
  manifest: BackupManifest,
  passphrase: string | undefined,
  failures: string[],
): Promise<VerifyResult> {
  try {
    await validateBackup(store, manifest, passphrase);
    const result = await verifyDump(ctx, spec, await openBackup(store, manifest, passphrase));
    ctx.logger.info(`verify ${spec.name}: ${result.ok ? 'ok' : 'FAILED'}: ${result.summary}`);
    for (const line of result.details) ctx.logger.info(`  ${line}`);
    if (!result.ok) failures.push(`verify of ${manifest.key}: ${result.summary}`);
    return result;
  } catch (error) {
    failures.push(`verify of ${manifest.key}: ${describe(error)}`);
    return { ok: false, summary: describe(error), details: [] };
  }
}
