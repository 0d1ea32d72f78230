// rolling-update: deploy-compose's release steps (lock → upload → validate → deliver → pin →
// switch/log/prune) on each droplet, with step 4 replaced by the service-by-service rollout;
// droplets batch by batch (behind a load balancer when given); or a Swarm stack.
import type { ActionIo } from '../../lib/action/core.js';
import { ConfigurationError, errorMessage } from '../../lib/action/errors.js';
import { SummaryBuilder } from '../../lib/action/summary.js';
import { type DropletReport, type LoadBalancerOps, rollFleet } from '../../lib/rollout/fleet.js';
import type { RemoteHost } from '../../lib/ssh/executor.js';
import type { HostConnector } from '../../lib/ssh/pool.js';
import type { HostTarget } from '../../lib/ssh/target.js';
import { type Deps as DeployDeps, type LockState, run as deployRun, STATE_LOCKS } from '../deploy-compose/run.js';
import type { Inputs } from './inputs.js';
import { makeStarter, type StarterRecord } from './starter.js';
import type { Member } from './member.js';
import { runSwarm, type SwarmDeps } from './swarm.js';

export type { Member } from './member.js';

export interface Deps {
  io: ActionIo;
  /** deploy-compose's dependencies (connector, release files, env file, DOCR, transfer…). */
  deploy: Omit<DeployDeps, 'io' | 'resolveTargets' | 'startRelease'>;
  /** The droplets to roll, in order (ids when they came from the API). */
  resolveMembers(): Promise<Member[]>;
  /** The load balancer's operations (given when load-balancer-id is set). */
  loadBalancer?(id: string, members: readonly Member[]): LoadBalancerOps;
  swarm?: SwarmDeps;
  sleep(ms: number): Promise<void>;
  now(): number;
}

/** One connection per host for the whole run: the per-droplet runs share it and never close it. */
function sharedConnector(inner: HostConnector): HostConnector {
  return { connect: (t) => inner.connect(t), closeAll: () => Promise.resolve() };
}

function timestampId(ms: number): string {
  return new Date(ms).toISOString().replace(/[-:T]/g, '').slice(0, 14);
}

export async function run(inputs: Inputs, deps: Deps): Promise<void> {
  const { io } = deps;
  const started = deps.now();
  const members = await deps.resolveMembers();
  if (members.length === 0) throw new ConfigurationError('no droplets matched the given targets');
  // one release id for the whole fleet
  const releaseId =
    inputs.deploy.releaseId ??
    (inputs.deploy.context.sha ? inputs.deploy.context.sha.slice(0, 7) : timestampId(started));
  const deployInputs = { ...inputs.deploy, releaseId };

  if (inputs.mode === 'swarm') {
    if (!deps.swarm) throw new Error('swarm mode is not available');
    try {
      await runSwarm(inputs, deployInputs, members, deps.swarm, io);
    } finally {
      await deps.deploy.connector.closeAll();
    }
    return;
  }

  const token = deps.deploy.newToken();
  const locked = new Map<string, HostTarget>();
  let lockDir = '';
  const records = new Map<string, StarterRecord>();
  const starter = makeStarter(inputs, records, deps.sleep);

  const runOne = async (m: Member, revert: boolean): Promise<{ before?: string; after?: string }> => {
    const outputs: Record<string, string> = {};
    const memberIo: ActionIo = {
      ...io,
      setOutput: (name, value) => {
        outputs[name] = value;
      },
      saveState: (name, value) => {
        if (name !== STATE_LOCKS) return io.saveState(name, value);
        // merge the per-droplet lock states into the one the post step reads
        const s = JSON.parse(value) as LockState;
        lockDir = s.dir;
        if (s.hosts.some((h) => h.label === m.target.label)) locked.set(m.target.label, m.target);
        else locked.delete(m.target.label);
        io.saveState(
          STATE_LOCKS,
          JSON.stringify({ app: s.app, dir: lockDir, token, hosts: [...locked.values()] } satisfies LockState),
        );
      },
      writeSummary: () => Promise.resolve(),
    };
    await deployRun(
      {
        ...deployInputs,
        ...(revert ? { rollbackTo: 'previous' } : {}),
        targets: { kind: 'ids', ids: [m.id ?? 0] },
      },
      {
        ...deps.deploy,
        io: memberIo,
        connector: sharedConnector(deps.deploy.connector),
        newToken: () => token,
        resolveTargets: () => Promise.resolve([m.target]),
        startRelease: starter,
      },
    );
    return {
      ...(outputs['previous-release-id'] ? { before: outputs['previous-release-id'] } : {}),
      ...(outputs['release-id'] ? { after: outputs['release-id'] } : {}),
    };
  };

  let outcome;
  try {
    outcome = await rollFleet(members, inputs.batchSize, inputs.revertOnFailure, {
      update: (m) =>
        io.logger.group(`${m.target.label}: roll ${inputs.deploy.app} to ${releaseId}`, () => runOne(m, false)),
      revert: (m) => io.logger.group(`${m.target.label}: back to the previous release`, () => runOne(m, true)),
      ...(inputs.loadBalancerId && deps.loadBalancer ? { lb: deps.loadBalancer(inputs.loadBalancerId, members) } : {}),
      lbDrainMs: inputs.lbDrainMs,
      sleep: deps.sleep,
      logger: io.logger,
    });
  } finally {
    await deps.deploy.connector.closeAll();
  }

  const byName = new Map(members.map((m) => [m.name, m]));
  const droplets = outcome.droplets.map((d: DropletReport) => {
    const m = byName.get(d.name) as Member;
    const rec = records.get(m.target.label);
    return {
      droplet: d.name,
      ...(d.id !== undefined ? { id: d.id } : {}),
      host: m.target.host,
      batch: d.batch,
      before: d.before ?? null,
      after: d.after ?? null,
      result: d.result,
      ...(d.error ? { error: d.error } : {}),
      services: (rec?.services ?? []).map((s) => ({
        service: s.service,
        strategy: s.strategy,
        result: s.result,
        seconds: Math.round(s.durationMs / 100) / 10,
        ...(s.gapMs !== undefined ? { gapSeconds: Math.round(s.gapMs / 100) / 10 } : {}),
      })),
      removed: (rec?.removed ?? []).map((r) => r.service),
      ...(rec?.removeError ? { removeError: rec.removeError } : {}),
    };
  });
  io.setOutput('droplets', JSON.stringify(droplets));
  io.setOutput('updated-count', String(outcome.updatedCount));
  io.setOutput('release-id', releaseId);
  io.setOutput('duration-seconds', String(Math.round((deps.now() - started) / 100) / 10));

  const summary = new SummaryBuilder().heading(
    `rolling-update: ${inputs.deploy.app} → ${releaseId} — ${outcome.updatedCount}/${members.length} droplet(s) updated`,
  );
  summary.table(
    ['Droplet', 'Batch', 'Before', 'After', 'Result', 'Services', 'Removed (no longer in the release)'],
    droplets.map((d) => [
      d.droplet,
      d.batch,
      d.before ?? '—',
      d.after ?? '—',
      d.error ? `${d.result}: ${d.error.split('\n')[0] ?? ''}` : d.result,
      d.services
        .map(
          (s) =>
            `${s.service} ${s.strategy} ${s.result}${s.gapSeconds !== undefined ? ` (gap ≤ ${s.gapSeconds}s)` : ''}`,
        )
        .join('; '),
      d.removeError
        ? `left running: ${d.removeError}`
        : d.removed.length > 0
          ? `${d.removed.join(', ')} (volumes kept)`
          : '—',
    ]),
  );
  await io.writeSummary(summary.build());

  if (!outcome.ok) {
    const still = droplets.filter((d) => d.result === 'updated').map((d) => d.droplet);
    const broken = droplets.filter((d) => d.result === 'revert-failed').map((d) => d.droplet);
    const state =
      broken.length > 0
        ? ` Revert FAILED on ${broken.join(', ')}: check them by hand.`
        : still.length > 0
          ? ` Still on ${releaseId}: ${still.join(', ')} (revert-on-failure is off).`
          : ' Every droplet serves the previous release.';
    throw new Error(`${outcome.error ?? 'the rollout failed'}.${state}`);
  }
}

/** For unit tests and the summary: what a failed host error says (first line). */
export function firstLine(error: unknown): string {
  return errorMessage(error).split('\n')[0] ?? '';
}

export type { RemoteHost };
