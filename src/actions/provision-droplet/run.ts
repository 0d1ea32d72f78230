import type { ActionIo } from '../../lib/action/core.js';
import type { Inputs } from './inputs.js';

export async function run(inputs: Inputs, io: ActionIo): Promise<void> {
  io.logger.debug(`inputs: ${Object.keys(inputs).join(', ')}`);
  await Promise.resolve();
  throw new Error('provision-droplet is not implemented yet');
}
