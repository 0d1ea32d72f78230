import type { ActionIo } from '../../lib/action/core.js';
import { ConfigurationError } from '../../lib/action/errors.js';
import { spacesStore } from '../../lib/backup/spaces.js';
import { createClient, normalizeApiEndpoint } from '../../lib/digitalocean/index.js';
import { realSleep } from '../../lib/retry.js';
import { realDeps as realDeployDeps } from '../deploy-compose/deps.js';
import type { Inputs } from './inputs.js';
import type { Deps } from './run.js';

export function realDeps(io: ActionIo, inputs: Inputs): Deps {
  return {
    io,
    deploy: realDeployDeps(io, inputs.deploy),
    async databaseUrl(clusterId) {
      if (!inputs.deploy.token) throw new ConfigurationError('input "token" is required with "database-cluster-id"');
      const api = createClient({
        token: inputs.deploy.token,
        endpoint: normalizeApiEndpoint(inputs.deploy.apiEndpoint),
        setSecret: (v) => io.setSecret(v),
        logger: io.logger,
      });
      const cluster = await api.getDatabaseCluster(clusterId);
      const uri = cluster.private_connection?.uri || cluster.connection?.uri;
      if (!uri) throw new Error(`database cluster ${clusterId} has no connection string`);
      return uri;
    },
    backup: { store: (spaces) => spacesStore(spaces), now: () => new Date(), sleep: realSleep },
    now: Date.now,
  };
}
