import type { Logger } from '../action/logger.js';
import type { Action, Droplet, Snapshot } from '../digitalocean/types.js';
import { type RetentionPolicy, selectForDeletion } from '../backup/retention.js';
import { snapshotName, snapshotPrefix } from './naming.js';

// Droplet snapshots through the DigitalOcean API: optional power-off (and power-on
// ALWAYS afterwards), the snapshot action awaited with a deadline, the snapshot tagged,
// and retention over OUR snapshots only: same droplet, name prefix from the template AND
// our tag. Nothing else in the account is ever touched.

/** The DigitalOcean calls this module needs (DigitalOceanClient satisfies it). */
export interface SnapshotApi {
  getDroplet(id: number): Promise<Droplet>;
  snapshotDroplet(id: number, name: string): Promise<Action>;
  shutdownDroplet(id: number): Promise<Action>;
  powerOffDroplet(id: number): Promise<Action>;
  powerOnDroplet(id: number): Promise<Action>;
  waitForAction(id: number, options: { timeoutMs: number; label?: string }): Promise<Action>;
  listSnapshots(resourceType?: 'droplet' | 'volume'): Promise<Snapshot[]>;
  deleteSnapshot(id: string | number): Promise<void>;
  createTag(name: string): Promise<void>;
  tagResources(tag: string, resources: readonly { resource_id: string; resource_type: string }[]): Promise<void>;
}

export interface SnapshotOptions {
  app: string;
  template: string;
  tag: string;
  powerOff: boolean;
  timeoutMs: number;
  retention: RetentionPolicy;
  now: () => Date;
  logger: Logger;
}

export interface SnapshotOutcome {
  droplet: string;
  dropletId: number;
  snapshotId?: string;
  name: string;
  deleted: string[];
  poweredOff: boolean;
  error?: string;
}

const label = (d: Droplet): string => `droplet ${d.name} (${d.id})`;

/** Power-off: a graceful shutdown first, a hard power_off if that fails or takes too long. */
async function powerOff(api: SnapshotApi, d: Droplet, timeoutMs: number, logger: Logger): Promise<void> {
  logger.info(`${label(d)}: shutting down for a consistent snapshot`);
  try {
    const a = await api.shutdownDroplet(d.id);
    await api.waitForAction(a.id, { timeoutMs: Math.min(timeoutMs, 120_000), label: label(d) });
    return;
  } catch (error) {
    logger.warn(`${label(d)}: graceful shutdown did not finish (${(error as Error).message}); powering off`);
  }
  const a = await api.powerOffDroplet(d.id);
  await api.waitForAction(a.id, { timeoutMs, label: label(d) });
}

/** Takes one droplet's snapshot; powers the droplet back on whatever happened. */
export async function snapshotDroplet(
  api: SnapshotApi,
  droplet: Droplet,
  o: SnapshotOptions,
): Promise<SnapshotOutcome> {
  const at = o.now();
  const name = snapshotName(o.template, { app: o.app, droplet: droplet.name, dropletId: droplet.id, at });
  const outcome: SnapshotOutcome = {
    droplet: droplet.name,
    dropletId: droplet.id,
    name,
    deleted: [],
    poweredOff: false,
  };
  let failure: unknown;
  try {
    if (o.powerOff && droplet.status === 'active') {
      outcome.poweredOff = true;
      await powerOff(api, droplet, o.timeoutMs, o.logger);
    }
    o.logger.info(`${label(droplet)}: snapshot "${name}"`);
    const action = await api.snapshotDroplet(droplet.id, name);
    await api.waitForAction(action.id, { timeoutMs: o.timeoutMs, label: label(droplet) });
  } catch (error) {
    failure = error;
  } finally {
    if (outcome.poweredOff) {
      try {
        o.logger.info(`${label(droplet)}: powering on`);
        const a = await api.powerOnDroplet(droplet.id);
        await api.waitForAction(a.id, { timeoutMs: o.timeoutMs, label: label(droplet) });
      } catch (error) {
        const msg = `${label(droplet)} could not be powered back on: ${(error as Error).message}. It is OFF: power it on in the control panel or with \`doctl compute droplet-action power-on ${droplet.id}\``;
        failure = failure ? new Error(`${(failure as Error).message}; and ${msg}`) : new Error(msg);
      }
    }
  }
  if (failure) throw failure;
  // find the snapshot the action made and tag it as ours
  const mine = (await api.listSnapshots('droplet'))
    .filter((s) => s.resource_id === String(droplet.id) && s.name === name)
    .sort((a, b) => Date.parse(b.created_at) - Date.parse(a.created_at));
  const snap = mine[0];
  if (!snap)
    throw new Error(`${label(droplet)}: the snapshot action completed but no snapshot named "${name}" is listed`);
  outcome.snapshotId = String(snap.id);
  await api.createTag(o.tag);
  await api.tagResources(o.tag, [{ resource_id: String(snap.id), resource_type: 'image' }]);
  o.logger.info(`${label(droplet)}: snapshot ${snap.id} "${name}" tagged ${o.tag}`);
  return outcome;
}

/** Is this snapshot one we made for this droplet? Name prefix AND tag AND source droplet. */
export function isOurs(s: Snapshot, droplet: Droplet, prefix: string, tag: string): boolean {
  return (
    s.resource_type === 'droplet' &&
    s.resource_id === String(droplet.id) &&
    s.name.startsWith(prefix) &&
    (s.tags ?? []).includes(tag)
  );
}

/** Retention for one droplet. `justMade` is never deleted. Returns deleted snapshot ids. */
export async function applySnapshotRetention(
  api: SnapshotApi,
  droplet: Droplet,
  o: SnapshotOptions,
  justMade: ReadonlySet<string>,
): Promise<string[]> {
  const prefix = snapshotPrefix(o.template, { app: o.app, droplet: droplet.name, dropletId: droplet.id });
  const ours = (await api.listSnapshots('droplet'))
    .filter((s) => isOurs(s, droplet, prefix, o.tag))
    .map((s) => ({ id: String(s.id), createdAt: new Date(s.created_at), name: s.name }));
  const decision = selectForDeletion(ours, o.retention, o.now(), justMade);
  const deleted: string[] = [];
  for (const s of decision.delete) {
    o.logger.info(`${label(droplet)}: retention deletes snapshot ${s.id} "${s.name}" (${s.createdAt.toISOString()})`);
    await api.deleteSnapshot(s.id);
    deleted.push(s.id);
  }
  return deleted;
}
