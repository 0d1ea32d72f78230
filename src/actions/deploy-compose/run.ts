// deploy-compose: releases of a Compose stack on one or more droplets (issue #4). run()
// resolves the targets and what every host gets (files, .env, registry credentials), then
// deploys host after host (host.ts) and writes the outputs and summary (report.ts).

import { ConfigurationError } from '../../lib/action/errors.js';
import { credentialPairForms, maskSecret } from '../../lib/action/secrets.js';
import type { RegistryAuth } from '../../lib/images/registry.js';
import { lockHolder } from '../../lib/lock/lock.js';
import { appPaths } from '../../lib/release/model.js';
import { guardSshInputs } from '../../lib/ssh/inputs.js';
import type { HostTarget } from '../../lib/ssh/target.js';
import { buildEnv } from './env.js';
import { deployHost } from './host.js';
import type { Inputs } from './inputs.js';
import { writeOutputs } from './report.js';
import { type Deps, type HostOutcome, type LockState, type ReleaseFile, STATE_LOCKS } from './types.js';

export { bindMountHashes, servicesFromConfig } from './config.js';
export type { Deps, HostOutcome, LockState, ReleaseFile, StartContext, StartOutcome } from './types.js';
export { STATE_LOCKS } from './types.js';

export async function run(inputs: Inputs, deps: Deps): Promise<HostOutcome[]> {
  const { io } = deps;
  const started = deps.now();
  for (const value of inputs.secrets.values()) maskSecret((v) => io.setSecret(v), value);
  if (inputs.registry) maskSecret((v) => io.setSecret(v), inputs.registry.password);
  guardSshInputs(inputs.ssh, io);

  const targets: HostTarget[] =
    inputs.targets.kind === 'hosts'
      ? inputs.targets.hosts.map((h) => ({ ...h, label: h.port === 22 ? h.host : `${h.host}:${h.port}` }))
      : await deps.resolveTargets(inputs.targets);
  if (targets.length === 0) throw new ConfigurationError('no droplets matched the given targets');

  let files: ReleaseFile[] = [];
  let envText = '';
  if (!inputs.rollbackTo) {
    files = deps.readReleaseFiles(inputs);
    envText = buildEnv(inputs, deps);
  }
  const auths: RegistryAuth[] = [];
  if (!inputs.rollbackTo && inputs.images === 'registry') {
    if (inputs.docr) auths.push(...(await deps.docrAuth()));
    // the given credentials go into the same docker config (one `auths` document)
    if (inputs.registry) {
      const given = inputs.registry;
      if (auths.some((a) => a.server === given.server)) {
        throw new ConfigurationError(
          `inputs "registry-username"/"registry-password" and "docr-login: true" both give credentials for ${given.server}: use one or the other`,
        );
      }
      auths.push({ server: given.server, username: given.username, password: given.password });
    }
    // the password, user:password and their base64 (the docker config's `auth` value)
    for (const a of auths) for (const form of new Set(credentialPairForms(a.username, a.password))) io.setSecret(form);
  }
  if (!inputs.rollbackTo && inputs.images === 'transfer' && !deps.transfer) {
    throw new ConfigurationError('input "images" is "transfer" but no local Docker is available on this runner');
  }

  const token = deps.newToken();
  const holder = lockHolder(inputs.context, {
    action: 'deploy-compose',
    token,
    now: deps.now(),
    staleAfterMs: inputs.lockStaleAfterMs,
  });
  const paths = appPaths(inputs.app, inputs.baseDir);
  const lockedHosts: HostTarget[] = [];
  const saveLocks = (): void =>
    io.saveState(
      STATE_LOCKS,
      JSON.stringify({ app: inputs.app, dir: paths.lock, token, hosts: lockedHosts } satisfies LockState),
    );

  const outcomes: HostOutcome[] = [];
  try {
    for (const target of targets) {
      const outcome = await io.logger.group(
        `${target.label}: ${inputs.rollbackTo ? 'rollback' : 'deploy'} ${inputs.app}`,
        () =>
          deployHost({
            inputs,
            deps,
            target,
            paths,
            holder,
            files,
            envText,
            auths,
            onLocked: () => {
              if (!lockedHosts.includes(target)) lockedHosts.push(target);
              saveLocks();
            },
            onUnlocked: () => {
              const at = lockedHosts.indexOf(target);
              if (at >= 0) lockedHosts.splice(at, 1);
              saveLocks();
            },
          }).catch((error: unknown) => {
            if (outcomes.length > 0 && error instanceof Error) {
              error.message += ` Hosts already on the new release: ${outcomes.map((o) => o.target.label).join(', ')}.`;
            }
            throw error;
          }),
      );
      outcomes.push(outcome);
    }
  } finally {
    await deps.connector.closeAll();
  }

  if (deps.stage) return outcomes;
  await writeOutputs(io, inputs.app, outcomes, deps.now() - started);
  return outcomes;
}
