// Step 1 (+ the upload of step 2) in one round trip when the lock is free: take the deploy
// lock, unpack the release archive into this run's scratch folder, read the release state,
// detect Compose and validate/resolve the release with `config`. A held lock falls back to
// the waiting loop of src/lib/lock, then the same script without the lock part.

import { posix } from 'node:path';

import { errorMessage } from '../../lib/action/errors.js';
import type { Logger } from '../../lib/action/logger.js';
import { cmd } from '../../lib/commands/cmd.js';
import { dockerConfigJson } from '../../lib/images/registry.js';
import { acquireLock, type HeldLock, holdLock, lockIsHeld, lockWaitLog } from '../../lib/lock/lock.js';
import {
  type BeginState,
  beginScript,
  HOLDER_IN_ARCHIVE,
  LOCKED_MARK,
  parseBegin,
  readCurrent,
} from '../../lib/release/remote.js';
import { type TarFile, tarArchive } from '../../lib/release/tar.js';
import type { RemoteHost } from '../../lib/ssh/executor.js';
import { DeployStepError, unchanged } from './errors.js';
import type { HostJob } from './types.js';

/** A new release as uploaded, before it has an id: its files wait in the run's scratch folder. */
export interface Draft {
  composeFiles: string[];
  envFile: string;
  /** Where the release's files are until they move to releases/<id>. */
  stageDir: string;
}

export interface Begun {
  lock: HeldLock;
  state: BeginState;
  /** This run's scratch folder (stage, registry credentials); removed once the release moved out. */
  scratch: string;
  /** Registry credentials for the pulls (in the scratch folder), if any. */
  dockerConfigDir?: string;
  draft?: Draft;
  /** stderr of the begin script: `config`'s complaints when it failed. */
  stderr: string;
}

export function draftFor(job: Pick<HostJob, 'files'>, scratch: string): Draft {
  const composeFiles = job.files.filter((f) => f.compose).map((f) => f.path);
  return {
    composeFiles,
    envFile: posix.join(posix.dirname(composeFiles[0] as string), '.env'),
    stageDir: `${scratch}/release`,
  };
}

export async function lockAndBegin(job: HostJob, host: RemoteHost, log: Logger): Promise<Begun> {
  const { inputs, paths, target } = job;
  const scratch = `${paths.scratch}/${job.holder.token}`;
  const draft = inputs.rollbackTo ? undefined : draftFor(job, scratch);
  const files: TarFile[] = [{ path: HOLDER_IN_ARCHIVE, content: `${JSON.stringify(job.holder)}\n`, mode: 0o644 }];
  if (draft) {
    for (const f of job.files) files.push({ path: `release/${f.path}`, content: f.content, mode: f.mode });
    files.push({ path: `release/${draft.envFile}`, content: job.envText, mode: 0o600 });
  }
  const withAuth = draft && inputs.images === 'registry' && job.auths.length > 0;
  if (withAuth) files.push({ path: 'docker-config/config.json', content: dockerConfigJson(job.auths), mode: 0o600 });
  const archive = tarArchive(files);
  const config = draft
    ? {
        project: inputs.app,
        files: draft.composeFiles.map((f) => posix.join(draft.stageDir, f)),
        envFile: posix.join(draft.stageDir, draft.envFile),
        profiles: inputs.profiles,
      }
    : undefined;
  const run = (lockDir?: string) =>
    host.run(beginScript(paths, { scratch, ...(lockDir ? { lockDir } : {}), ...(config ? { config } : {}) }), {
      stdin: archive,
      allowFailure: true,
      timeoutMs: 120_000,
    });
  const failUpload = async (stderr: string, code: number): Promise<never> => {
    const current = await readCurrent(host, paths).catch(() => undefined);
    throw new DeployStepError(
      target.label,
      'upload',
      `writing to ${paths.root} failed: ${stderr.trim().split('\n').slice(-3).join(' ') || `exit ${code}`}`,
      unchanged(current),
    );
  };

  // saved before trying: the post step only ever removes a lock that holds this run's token
  job.onLocked();
  let lock: HeldLock;
  let r = await run(paths.lock);
  if (r.code === 0) {
    lock = holdLock(host, { dir: paths.lock, holder: job.holder, staleAfterMs: inputs.lockStaleAfterMs });
  } else if (r.stdout.split('\n').includes(LOCKED_MARK)) {
    // the lock is ours but the archive could not be unpacked: the lock goes again
    await host.run(cmd('rm', '-rf', paths.lock), { allowFailure: true, timeoutMs: 30_000 }).catch(() => undefined);
    job.onUnlocked();
    return failUpload(r.stderr, r.code);
  } else if (!lockIsHeld(r.stderr)) {
    job.onUnlocked();
    return failUpload(r.stderr, r.code);
  } else {
    try {
      lock = await acquireLock(host, {
        dir: paths.lock,
        holder: job.holder,
        timeoutMs: inputs.lockTimeoutMs,
        staleAfterMs: inputs.lockStaleAfterMs,
        ...lockWaitLog(log),
        ...(job.deps.sleep ? { sleep: job.deps.sleep } : {}),
      });
    } catch (error) {
      job.onUnlocked();
      const current = await readCurrent(host, paths).catch(() => undefined);
      throw new DeployStepError(target.label, 'lock', errorMessage(error), unchanged(current));
    }
    r = await run();
    if (r.code !== 0) {
      await lock.release().catch(() => false);
      job.onUnlocked();
      return failUpload(r.stderr, r.code);
    }
  }
  return {
    lock,
    state: parseBegin(r.stdout),
    scratch,
    ...(withAuth ? { dockerConfigDir: `${scratch}/docker-config` } : {}),
    ...(draft ? { draft } : {}),
    stderr: r.stderr,
  };
}
