// The real dependencies of snapshot-and-backup: DigitalOcean client, SSH pool, S3 store.
import type { ActionIo } from '../../lib/action/core.js';
import { ConfigurationError } from '../../lib/action/errors.js';
import { spacesStore } from '../../lib/backup/spaces.js';
import { realSleep } from '../../lib/retry.js';
import { guardSshInputs, sshSettings } from '../../lib/ssh/inputs.js';
import { SshPool } from '../../lib/ssh/pool.js';
import type { Inputs } from './inputs.js';
import type { Deps, DropletApi } from './run.js';

export function realDeps(io: ActionIo, inputs: Inputs): Deps {
  let api: DropletApi | undefined;
  let pool: SshPool | undefined;
  if (inputs.ssh) guardSshInputs(inputs.ssh, io);
  return {
    io,
    async api() {
      if (!inputs.token) throw new ConfigurationError('input "token" is required for this');
      // loaded only when needed: a dumps-only run with `hosts` keeps its memory (see bench/backup-stream.ts)
      const { createClient, normalizeApiEndpoint } = await import('../../lib/digitalocean/index.js');
      api ??= createClient({
        token: inputs.token,
        endpoint: normalizeApiEndpoint(inputs.apiEndpoint),
        setSecret: (v) => io.setSecret(v),
        logger: io.logger,
      });
      return api;
    },
    connect(target) {
      if (!inputs.ssh) throw new ConfigurationError('the SSH inputs are required for dumps');
      pool ??= new SshPool(sshSettings(inputs.ssh, io.logger));
      return pool.connect(target);
    },
    async closeAll() {
      await pool?.closeAll();
    },
    store: (spaces) => spacesStore(spaces, { partSize: inputs.uploadPartSize, queueSize: inputs.uploadConcurrency }),
    now: () => new Date(),
    sleep: realSleep,
  };
}
