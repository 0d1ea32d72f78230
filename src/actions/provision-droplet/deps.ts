import type { ActionIo } from '../../lib/action/core.js';
import { generateHostKeyPair } from '../../lib/cloud-init/host-key.js';
import { createClient } from '../../lib/digitalocean/client.js';
import { realSleep } from '../../lib/retry.js';
import { SshPool } from '../../lib/ssh/pool.js';
import type { Inputs } from './inputs.js';
import type { Deps } from './run.js';

/** The real dependencies: the DigitalOcean client and SSH over node-ssh, trusting only the pinned key. */
export function realDeps(inputs: Inputs, io: ActionIo): Deps {
  return {
    io,
    api: createClient({
      token: inputs.token,
      endpoint: inputs.endpoint,
      setSecret: (v) => io.setSecret(v),
      logger: io.logger,
    }),
    connect: (target, trust) =>
      new SshPool({
        privateKey: inputs.sshPrivateKey,
        ...(inputs.sshPassphrase ? { passphrase: inputs.sshPassphrase } : {}),
        hostKeys: { kind: 'verify', knownHosts: trust.knownHosts, fingerprints: trust.fingerprints },
        connectTimeoutMs: 15_000,
        connectAttempts: 1,
        commandTimeoutMs: 10 * 60_000,
        keepaliveIntervalMs: 15_000,
        logger: io.logger,
      }).connect(target),
    generateHostKey: () => generateHostKeyPair(),
    sleep: realSleep,
    now: Date.now,
  };
}
