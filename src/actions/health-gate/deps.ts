import type { ActionIo } from '../../lib/action/core.js';
import { SshPool } from '../../lib/ssh/pool.js';
import type { Deps } from './run.js';

/** The real dependencies: SSH over node-ssh (one connection per host), the real clock. */
export function realDeps(io: Pick<ActionIo, 'logger'>): Deps {
  return {
    openConnector(ssh) {
      if (ssh.hostKeys.kind === 'skip')
        io.logger.warn("insecure-skip-host-key-check is true: the droplets' host keys are NOT verified");
      return new SshPool({
        privateKey: ssh.privateKey,
        hostKeys: ssh.hostKeys,
        connectTimeoutMs: 20_000,
        connectAttempts: 3,
        commandTimeoutMs: 60_000,
        keepaliveIntervalMs: 10_000,
        logger: io.logger,
      });
    },
  };
}
