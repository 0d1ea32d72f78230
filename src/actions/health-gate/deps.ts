import type { ActionIo } from '../../lib/action/core.js';
import { sshSettings } from '../../lib/ssh/inputs.js';
import { SshPool } from '../../lib/ssh/pool.js';
import type { Deps } from './run.js';

/** The real dependencies: SSH over node-ssh (one connection per host), the real clock. */
export function realDeps(io: Pick<ActionIo, 'logger'>): Deps {
  return {
    openConnector(ssh) {
      return new SshPool(sshSettings(ssh.settings, io.logger));
    },
  };
}
