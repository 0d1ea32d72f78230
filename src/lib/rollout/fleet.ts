// A fleet, batch by batch, optionally behind a load balancer:
//   for each batch: take its droplets out of the LB and let in-flight requests drain, update
//   them (in parallel within the batch), put them back and wait until the LB would call them
//   healthy. On a failure: the failed batch goes back to the previous release (droplets whose
//   update failed already are: their rollout left the old release serving), it rejoins the LB,
//   and with revert-on-failure the batches already updated are returned too, so the fleet
//   never stays mixed. Droplet-level work and the LB are injected.
import type { Logger } from '../action/logger.js';
import { errorMessage } from '../action/errors.js';
import { type BatchSize, planBatches } from './plan.js';

export interface FleetMember {
  /** DigitalOcean droplet id (needed only with a load balancer). */
  id?: number;
  name: string;
}

export interface DropletUpdate {
  /** Release serving before / after. */
  before?: string;
  after?: string;
}

export interface LoadBalancerOps {
  remove(ids: readonly number[]): Promise<void>;
  add(ids: readonly number[]): Promise<void>;
  /** Resolves once the LB would send traffic to these droplets again; throws with the reason otherwise. */
  waitHealthy(ids: readonly number[]): Promise<void>;
}

export interface FleetDeps<M extends FleetMember> {
  update(member: M): Promise<DropletUpdate>;
  /** Back to the release that served before this run. */
  revert(member: M): Promise<DropletUpdate>;
  lb?: LoadBalancerOps;
  lbDrainMs: number;
  sleep(ms: number): Promise<void>;
  logger: Logger;
}

export type DropletResult = 'updated' | 'failed' | 'reverted' | 'revert-failed' | 'not-started';

export interface DropletReport {
  name: string;
  id?: number;
  batch: number;
  before?: string;
  after?: string;
  result: DropletResult;
  error?: string;
}

export interface FleetOutcome {
  ok: boolean;
  droplets: DropletReport[];
  updatedCount: number;
  /** The first failure, naming the droplet. */
  error?: string;
}

function ids(members: readonly FleetMember[]): number[] {
  return members.map((m) => m.id).filter((id): id is number => id !== undefined);
}

export async function rollFleet<M extends FleetMember>(
  members: readonly M[],
  batchSize: BatchSize,
  revertOnFailure: boolean,
  deps: FleetDeps<M>,
): Promise<FleetOutcome> {
  const batches = planBatches(members, batchSize);
  const reports = new Map<M, DropletReport>();
  batches.forEach((batch, b) => {
    for (const m of batch) {
      reports.set(m, {
        name: m.name,
        ...(m.id !== undefined ? { id: m.id } : {}),
        batch: b + 1,
        result: 'not-started',
      });
    }
  });
  const report = (m: M): DropletReport => reports.get(m) as DropletReport;
  const log = deps.logger;

  const leaveLb = async (batch: readonly M[], label: string): Promise<void> => {
    if (!deps.lb || ids(batch).length === 0) return;
    log.info(
      `${label}: removing ${batch.map((m) => m.name).join(', ')} from the load balancer; draining ${Math.round(deps.lbDrainMs / 100) / 10}s`,
    );
    await deps.lb.remove(ids(batch));
    await deps.sleep(deps.lbDrainMs);
  };
  const joinLb = async (batch: readonly M[], label: string): Promise<void> => {
    if (!deps.lb || ids(batch).length === 0) return;
    log.info(`${label}: adding ${batch.map((m) => m.name).join(', ')} back to the load balancer`);
    await deps.lb.add(ids(batch));
    await deps.lb.waitHealthy(ids(batch));
  };

  const revertBatch = async (batch: readonly M[], label: string, which: (m: M) => boolean): Promise<void> => {
    const todo = batch.filter(which);
    if (todo.length === 0) return;
    await Promise.all(
      todo.map(async (m) => {
        try {
          const r = await deps.revert(m);
          report(m).result = 'reverted';
          report(m).after = r.after ?? report(m).before;
        } catch (error) {
          report(m).result = 'revert-failed';
          report(m).error = `${report(m).error ? `${report(m).error}; ` : ''}revert failed: ${errorMessage(error)}`;
          log.error(`${label}: ${m.name}: revert failed: ${errorMessage(error)}`);
        }
      }),
    );
  };

  let failure: string | undefined;
  let failedBatch = -1;
  for (const [b, batch] of batches.entries()) {
    const label = `batch ${b + 1}/${batches.length}`;
    try {
      await leaveLb(batch, label);
    } catch (error) {
      failure = `${label}: removing from the load balancer failed: ${errorMessage(error)}`;
      failedBatch = b;
      break;
    }
    log.info(`${label}: updating ${batch.map((m) => m.name).join(', ')}`);
    const settled = await Promise.allSettled(batch.map((m) => deps.update(m)));
    settled.forEach((s, i) => {
      const m = batch[i] as M;
      if (s.status === 'fulfilled') {
        Object.assign(report(m), { result: 'updated', ...s.value });
      } else {
        Object.assign(report(m), { result: 'failed', error: errorMessage(s.reason) });
      }
    });
    const failed = batch.filter((m) => report(m).result === 'failed');
    if (failed.length === 0) {
      try {
        await joinLb(batch, label);
        continue;
      } catch (error) {
        failure = `${label}: ${errorMessage(error)}`;
        // they did update: the revert below takes them back
        for (const m of batch) report(m).error = failure;
      }
    } else {
      failure = `${label}: ${failed.map((m) => `${m.name}: ${report(m).error ?? 'failed'}`).join('; ')}`;
    }
    failedBatch = b;
    // the failed batch: droplets that did update go back; the others never switched
    log.warn(`${label} failed; returning it to the previous release`);
    await revertBatch(batch, label, (m) => report(m).result === 'updated');
    for (const m of batch)
      if (report(m).result === 'failed' && report(m).after === undefined) report(m).after = report(m).before;
    try {
      await joinLb(batch, label);
    } catch (error) {
      log.error(`${label}: rejoining the load balancer after the revert failed: ${errorMessage(error)}`);
    }
    break;
  }

  if (failure !== undefined && revertOnFailure && failedBatch > 0) {
    for (let b = failedBatch - 1; b >= 0; b -= 1) {
      const batch = batches[b] as M[];
      const label = `revert batch ${b + 1}`;
      try {
        await leaveLb(batch, label);
      } catch (error) {
        log.error(`${label}: removing from the load balancer failed: ${errorMessage(error)}`);
      }
      await revertBatch(batch, label, (m) => report(m).result === 'updated');
      try {
        await joinLb(batch, label);
      } catch (error) {
        log.error(`${label}: rejoining the load balancer failed: ${errorMessage(error)}`);
      }
    }
  }

  const droplets = members.map((m) => report(m));
  return {
    ok: failure === undefined,
    droplets,
    updatedCount: droplets.filter((d) => d.result === 'updated').length,
    ...(failure !== undefined ? { error: failure } : {}),
  };
}
