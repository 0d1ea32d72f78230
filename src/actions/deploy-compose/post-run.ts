// The `post:` step (post-if: always()): releases every deploy lock the main step took and
// did not release — after a failure, a cancel, or a killed runner process.
import type { ActionIo } from '../../lib/action/core.js';
import { errorMessage } from '../../lib/action/errors.js';
import { InputReader } from '../../lib/action/inputs.js';
import { releaseLockByToken } from '../../lib/lock/lock.js';
import { readSshInputs, type SshInputs } from '../../lib/ssh/inputs.js';
import type { HostConnector } from '../../lib/ssh/pool.js';
import { type LockState, STATE_LOCKS } from './run.js';

export function parseLockState(text: string): LockState | undefined {
  if (!text.trim()) return undefined;
  try {
    const state = JSON.parse(text) as LockState;
    return Array.isArray(state.hosts) && typeof state.token === 'string' && typeof state.dir === 'string'
      ? state
      : undefined;
  } catch {
    return undefined;
  }
}

export async function postRun(io: ActionIo, connect: (ssh: SshInputs) => HostConnector): Promise<void> {
  const state = parseLockState(io.getState(STATE_LOCKS));
  if (!state || state.hosts.length === 0) {
    io.logger.info('deploy-compose post: no deploy lock left to release');
    return;
  }
  let ssh: SshInputs;
  try {
    ssh = readSshInputs(new InputReader((name) => io.getInput(name)));
  } catch (error) {
    io.logger.warn(`deploy-compose post: cannot read the SSH inputs to release ${state.dir}: ${errorMessage(error)}`);
    return;
  }
  const connector = connect(ssh);
  try {
    for (const target of state.hosts) {
      try {
        const host = await connector.connect(target);
        const released = await releaseLockByToken(host, state.dir, state.token);
        io.logger.info(
          released
            ? `deploy-compose post: released the deploy lock ${state.dir} on ${target.label}`
            : `deploy-compose post: the deploy lock on ${target.label} is no longer ours (already released or taken over)`,
        );
      } catch (error) {
        io.logger.warn(
          `deploy-compose post: could not release ${state.dir} on ${target.label}: ${errorMessage(error)}. It becomes stale after "lock-stale-after".`,
        );
      }
    }
  } finally {
    await connector.closeAll();
  }
}
