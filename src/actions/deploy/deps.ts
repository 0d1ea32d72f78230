import type { ActionIo } from '../../lib/action/core.js';
import { spacesStore } from '../../lib/backup/spaces.js';
import { realSleep } from '../../lib/retry.js';
import { realDeps as realDeployDeps } from '../deploy-compose/deps.js';
import type { Inputs } from './inputs.js';
import type { Deps } from './run.js';

export function realDeps(io: ActionIo, inputs: Inputs): Deps {
  return {
    io,
    deploy: realDeployDeps(io, inputs.rollout.deploy),
    backup: { store: (spaces) => spacesStore(spaces), now: () => new Date(), sleep: realSleep },
    sleep: realSleep,
    now: Date.now,
  };
}
