import { ConfigurationError } from '../../lib/action/errors.js';
import type { InputGetter } from '../../lib/action/inputs.js';
import { InputReader } from '../../lib/action/inputs.js';
import { parseReloadCommand } from '../../lib/rollout/commands.js';
import { type BatchSize, parseBatchSize, parseStrategies, type Strategy } from '../../lib/rollout/plan.js';
import { type Inputs as DeployInputs, readInputs as readDeployInputs } from '../deploy-compose/inputs.js';

export type Mode = 'compose' | 'swarm';

/** rolling-update = deploy-compose's inputs (targets, release, images…) + how to roll. */
export interface Inputs {
  deploy: DeployInputs;
  mode: Mode;
  /** Services to roll, in order; empty = every service in dependency order. */
  services: string[];
  /** Per service (`*` = all): start-first / recreate. */
  strategies: Map<string, Strategy>;
  proxy?: { service: string; reload: string[] };
  drainMs: number;
  stopTimeoutSeconds: number;
  /** Per service gate: deadline, poll interval, consecutive passes. */
  healthTimeoutMs: number;
  healthIntervalMs: number;
  healthSuccesses: number;
  /** Roll services whose configuration did not change too. */
  force: boolean;
  batchSize: BatchSize;
  loadBalancerId?: string;
  lbDrainMs: number;
  lbHealthyTimeoutMs: number;
  revertOnFailure: boolean;
  swarmInit: boolean;
  swarmAdvertise: 'private' | 'public';
}

export function readInputs(io: { getInput: InputGetter }, env: NodeJS.ProcessEnv = process.env): Inputs {
  const deploy = readDeployInputs(io, env);
  const r = new InputReader((name) => io.getInput(name));
  const mode = r.enum<Mode>('mode', ['compose', 'swarm'], 'compose');
  const proxyService = r.optional('proxy-service');
  const proxyReloadText = r.optional('proxy-reload');
  if (proxyReloadText && !proxyService) {
    throw new ConfigurationError(
      'input "proxy-reload" needs "proxy-service" (the Compose service the command runs in)',
    );
  }
  const loadBalancerId = r.optional('load-balancer-id');
  if (loadBalancerId && deploy.targets.kind === 'hosts') {
    throw new ConfigurationError(
      'input "load-balancer-id" needs "droplet-tag" or "droplet-ids": the load balancer is told droplet ids, which "hosts" does not give',
    );
  }
  if (deploy.rollbackTo) {
    throw new ConfigurationError(
      'input "rollback-to" belongs to deploy-compose; rolling-update rolls a new release forward',
    );
  }
  const swarmInit = r.bool('swarm-init', false);
  if (swarmInit && mode !== 'swarm') throw new ConfigurationError('input "swarm-init" is only used with "mode: swarm"');
  return {
    deploy,
    mode,
    services: r.list('services'),
    strategies: parseStrategies('strategy', r.raw('strategy')),
    ...(proxyService
      ? {
          proxy: {
            service: proxyService,
            reload: proxyReloadText ? parseReloadCommand('proxy-reload', proxyReloadText) : [],
          },
        }
      : {}),
    drainMs: r.duration('drain-time', '3s', { maxMs: 10 * 60_000 }),
    stopTimeoutSeconds: Math.round(r.duration('stop-timeout', '10s', { maxMs: 10 * 60_000 }) / 1000),
    healthTimeoutMs: r.duration('health-timeout', '2m', { minMs: 1000 }),
    healthIntervalMs: r.duration('health-interval', '1s', { minMs: 100, maxMs: 60_000 }),
    healthSuccesses: r.int('health-successes', 2, { min: 1, max: 100 }),
    force: r.bool('force', false),
    batchSize: parseBatchSize('batch-size', r.string('batch-size', '1')),
    ...(loadBalancerId ? { loadBalancerId } : {}),
    lbDrainMs: r.duration('lb-drain-time', '10s', { maxMs: 10 * 60_000 }),
    lbHealthyTimeoutMs: r.duration('lb-healthy-timeout', '3m', { minMs: 1000 }),
    revertOnFailure: r.bool('revert-on-failure', true),
    swarmInit,
    swarmAdvertise: r.enum('swarm-advertise', ['private', 'public'] as const, 'private'),
  };
}
