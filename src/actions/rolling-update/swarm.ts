// Swarm mode: the release's Compose file deployed as a stack (see src/lib/rollout/swarm.ts).
import type { ActionIo } from '../../lib/action/core.js';
import type { HostConnector } from '../../lib/ssh/pool.js';
import type { Inputs as DeployInputs } from '../deploy-compose/inputs.js';
import type { Inputs } from './inputs.js';
import type { Member } from './run.js';

export interface SwarmDeps {
  connector: HostConnector;
  sleep(ms: number): Promise<void>;
  now(): number;
}

export async function runSwarm(
  _inputs: Inputs,
  _deploy: DeployInputs,
  _members: readonly Member[],
  _deps: SwarmDeps,
  _io: ActionIo,
): Promise<void> {
  await Promise.resolve();
  throw new Error('mode: swarm is not implemented yet');
}
