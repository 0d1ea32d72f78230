import { ConfigurationError } from '../../lib/action/errors.js';
import type { ActionIo } from '../../lib/action/core.js';
import type { Inputs } from './inputs.js';

export async function run(inputs: Inputs, io: ActionIo): Promise<void> {
  io.logger.debug(`app: ${inputs.app}`);
  await Promise.resolve();
  throw new ConfigurationError(
    'the one-step deploy is not yet available; use the actions under actions/<name> (deploy-compose, health-gate, …)',
  );
}
