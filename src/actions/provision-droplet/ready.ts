import { errorMessage } from '../../lib/action/errors.js';
import type { Logger } from '../../lib/action/logger.js';
import { formatDuration } from '../../lib/action/parsers.js';
import { cmd, or, redirect } from '../../lib/commands/cmd.js';
import type { RemoteHost } from '../../lib/ssh/executor.js';
import { HostKeyMismatchError } from '../../lib/ssh/host-keys.js';
import type { HostTarget } from '../../lib/ssh/target.js';

export type ReadyStep = 'ssh' | 'cloud-init' | 'docker compose';

/** A droplet that did not become usable: which one, at which step, and the last thing seen. */
export class NotReadyError extends Error {
  override readonly name = 'NotReadyError';
  constructor(
    readonly droplet: string,
    readonly step: ReadyStep | 'active',
    readonly reason: string,
    readonly lastOutput: string,
  ) {
    const tail = lastOutput.trim() ? `; last output:\n${lastOutput.trim().split('\n').slice(-15).join('\n')}` : '';
    super(`droplet ${droplet}: step "${step}" ${reason}${tail}`);
  }
}

export interface ReadyDeps {
  connect: (target: HostTarget) => Promise<RemoteHost>;
  sleep: (ms: number) => Promise<void>;
  now: () => number;
  logger: Logger;
}

/** Commands of the readiness check, as data. */
export const readyCommands = {
  cloudInitWait: () => cmd('cloud-init', 'status', '--wait'),
  cloudInitLong: () => redirect(cmd('cloud-init', 'status', '--long'), '2>&1'),
  composeVersion: () => or(cmd('docker', 'compose', 'version'), cmd('docker-compose', 'version')),
  dockerPs: () => redirect(cmd('docker', 'ps', '--quiet'), '>', '/dev/null'),
};

export interface ReadyTimings {
  sshMs: number;
  cloudInitMs: number;
  composeMs: number;
  composeVersion: string;
  cloudInitStatus: string;
}

/**
 * Ready means usable: SSH answers as the deploy user with the pinned host key, cloud-init
 * has finished without error, and Docker Compose works for that user. Each step is bounded
 * by the one deadline; a failure names the step and the last output seen.
 */
export async function waitUntilUsable(target: HostTarget, deadline: number, deps: ReadyDeps): Promise<ReadyTimings> {
  const label = target.label;
  const t0 = deps.now();
  let host: RemoteHost | undefined;
  let lastError: string;
  let delay = 2000;
  for (let attempt = 1; ; attempt += 1) {
    try {
      host = await deps.connect(target);
      break;
    } catch (error) {
      if (error instanceof HostKeyMismatchError) {
        throw new NotReadyError(
          label,
          'ssh',
          `refused: the droplet's host key is not the pinned one. ${error.message}`,
          '',
        );
      }
      lastError = errorMessage(error);
      const left = deadline - deps.now();
      if (left <= 0) {
        throw new NotReadyError(label, 'ssh', `did not succeed within the wait (${attempt} attempts)`, lastError);
      }
      if (attempt === 1 || attempt % 5 === 0) deps.logger.info(`${label}: SSH not ready yet (${lastError})`);
      await deps.sleep(Math.min(delay, left));
      delay = Math.min(10_000, Math.round(delay * 1.5));
    }
  }
  const t1 = deps.now();
  deps.logger.info(`${label}: SSH as ${target.user} with the pinned host key after ${formatDuration(t1 - t0)}`);
  try {
    const left = Math.max(1000, deadline - deps.now());
    let status = 'done';
    try {
      const wait = await host.run(readyCommands.cloudInitWait(), { timeoutMs: left, allowFailure: true });
      if (wait.code === 1) {
        const long = await host.run(readyCommands.cloudInitLong(), { timeoutMs: 30_000, allowFailure: true });
        throw new NotReadyError(
          label,
          'cloud-init',
          'finished with an error',
          long.stdout || wait.stdout + wait.stderr,
        );
      }
      if (wait.code === 2) {
        status = 'degraded';
        const long = await host.run(readyCommands.cloudInitLong(), { timeoutMs: 30_000, allowFailure: true });
        deps.logger.warn(`${label}: cloud-init finished with recoverable errors:\n${long.stdout.trim()}`);
      } else if (wait.code !== 0) {
        throw new NotReadyError(
          label,
          'cloud-init',
          `"cloud-init status --wait" exited ${wait.code}`,
          wait.stdout + wait.stderr,
        );
      }
    } catch (error) {
      if (error instanceof NotReadyError) throw error;
      throw new NotReadyError(label, 'cloud-init', `did not finish within the wait: ${errorMessage(error)}`, '');
    }
    const t2 = deps.now();
    deps.logger.info(`${label}: cloud-init ${status} after ${formatDuration(t2 - t1)}`);
    const compose = await host.run(readyCommands.composeVersion(), {
      timeoutMs: Math.max(10_000, deadline - deps.now()),
      allowFailure: true,
    });
    if (compose.code !== 0) {
      throw new NotReadyError(
        label,
        'docker compose',
        `failed for user ${target.user}: neither "docker compose version" nor "docker-compose version" works`,
        compose.stdout + compose.stderr,
      );
    }
    // The daemon must answer this user too (docker group membership, dockerd started).
    for (let n = 1; ; n += 1) {
      const ps = await host.run(readyCommands.dockerPs(), { timeoutMs: 30_000, allowFailure: true });
      if (ps.code === 0) break;
      if (deps.now() >= deadline) {
        throw new NotReadyError(
          label,
          'docker compose',
          `failed: user ${target.user} cannot use the Docker daemon ("docker ps" exited ${ps.code})`,
          ps.stdout + ps.stderr,
        );
      }
      await deps.sleep(Math.min(2000, Math.max(1, deadline - deps.now())));
    }
    const t3 = deps.now();
    const version = compose.stdout.trim().split('\n')[0] ?? '';
    deps.logger.info(`${label}: ${version} for ${target.user}`);
    return {
      sshMs: t1 - t0,
      cloudInitMs: t2 - t1,
      composeMs: t3 - t2,
      composeVersion: version,
      cloudInitStatus: status,
    };
  } finally {
    await host.close().catch(() => undefined);
  }
}
