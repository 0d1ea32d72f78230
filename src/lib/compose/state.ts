// Container state of a Compose project, read from Docker itself (labels + `docker inspect`)
// so it works the same with Compose v2 (`docker compose`) and v1 (`docker-compose`), and
// never hangs the way `up --wait` does on one-shot containers.

import { cmd, pipe, redirect, type Script } from '../commands/cmd.js';
import type { RemoteHost } from '../ssh/executor.js';

export interface HealthLogEntry {
  start: string;
  end: string;
  exitCode: number;
  output: string;
}

export interface ServiceState {
  /** Container id (full). */
  id: string;
  /** Container name without the leading slash, e.g. "shop-web-1" / "shop_web_1". */
  container: string;
  /** Compose service (label com.docker.compose.service). */
  service: string;
  project: string;
  /** Image reference the container was created from (Config.Image). */
  image: string;
  /** Image id (sha256:…) the container runs. */
  imageId: string;
  /** State.Status: created, running, restarting, paused, exited, dead, removing. */
  status: string;
  /** State.Health.Status when the container has a healthcheck: starting, healthy, unhealthy. */
  health?: string;
  /** The healthcheck's recent probes (Docker keeps the last 5). */
  healthLog: HealthLogEntry[];
  /** Consecutive failed probes so far (State.Health.FailingStreak). */
  failingStreak: number;
  exitCode: number;
  restartCount: number;
  /** HostConfig.RestartPolicy.Name: no, always, unless-stopped, on-failure ('' = no). */
  restartPolicy: string;
  startedAt: string;
  /** `docker compose run` containers (label com.docker.compose.oneoff=True). */
  oneOff: boolean;
  /** Container number within the service (label com.docker.compose.container-number). */
  number: number;
  labels: Record<string, string>;
  /** Host paths of the container's bind mounts, as given when it was created. */
  bindSources?: string[];
}

/**
 * The Compose project name as Compose itself derives it from a name: lowercase, only
 * [a-z0-9_-] (both v1 and v2 drop other characters).
 */
export function composeProjectName(name: string): string {
  return name.toLowerCase().replace(/[^a-z0-9_-]/g, '');
}

/** `docker ps -aq --no-trunc --filter label=com.docker.compose.project=<p> | xargs -r docker inspect` */
export function inspectProjectScript(project: string): Script {
  return pipe(
    cmd(
      'docker',
      'ps',
      '-aq',
      '--no-trunc',
      '--filter',
      `label=com.docker.compose.project=${composeProjectName(project)}`,
    ),
    cmd('xargs', '-r', 'docker', 'inspect'),
  );
}

// A fixed script (the project name and the bound come as positional arguments): waits on
// the droplet itself, checking every 0.1 s, while a container of the project is still in
// its healthcheck's "starting" phase — no round trip per check. It decides nothing: the
// caller reads the state afterwards and judges it (unhealthy, exited, one-shot…).
const SETTLE = [
  'p=$1; end=$(( $(date +%s) + $2 ))',
  'while [ "$(date +%s)" -lt "$end" ] && [ -n "$(docker ps -q --filter "label=com.docker.compose.project=$p" --filter health=starting)" ]; do sleep 0.1; done',
  'exit 0',
].join('\n');

/** Waits (at most `maxMs`, whole seconds) until no container of the project is in the "starting" health state. */
export function settleScript(project: string, maxMs: number): Script {
  return cmd('sh', '-c', SETTLE, 'sh', composeProjectName(project), String(Math.max(0, Math.floor(maxMs / 1000))));
}

/** `docker logs --tail <n> <container> 2>&1` */
export function logTailScript(container: string, lines: number): Script {
  return redirect(cmd('docker', 'logs', '--tail', String(Math.max(0, Math.floor(lines))), container), '2>&1');
}

interface RawInspect {
  Id?: string;
  Name?: string;
  Image?: string;
  RestartCount?: number;
  State?: {
    Status?: string;
    ExitCode?: number;
    StartedAt?: string;
    Health?: {
      Status?: string;
      FailingStreak?: number;
      Log?: { Start?: string; End?: string; ExitCode?: number; Output?: string }[] | null;
    };
  };
  Config?: { Image?: string; Labels?: Record<string, string> | null };
  Mounts?: { Type?: string; Source?: string }[] | null;
  HostConfig?: { RestartPolicy?: { Name?: string } };
}

/** Parses `docker inspect` JSON (an array of containers) into ServiceStates, sorted by service then number. */
export function parseInspect(json: string): ServiceState[] {
  const text = json.trim();
  if (!text) return [];
  let raw: unknown;
  try {
    raw = JSON.parse(text);
  } catch (error) {
    throw new Error(
      `docker inspect returned something that is not JSON (${(error as Error).message}): ${text.slice(0, 200)}`,
      { cause: error },
    );
  }
  if (!Array.isArray(raw)) throw new Error('docker inspect did not return a JSON array');
  const states = (raw as RawInspect[]).map((c): ServiceState => {
    const labels = c.Config?.Labels ?? {};
    const health = c.State?.Health;
    const state: ServiceState = {
      id: c.Id ?? '',
      container: (c.Name ?? '').replace(/^\//, ''),
      service: labels['com.docker.compose.service'] ?? '',
      project: labels['com.docker.compose.project'] ?? '',
      image: c.Config?.Image ?? '',
      imageId: c.Image ?? '',
      status: c.State?.Status ?? 'unknown',
      healthLog: (health?.Log ?? []).map((entry) => ({
        start: entry.Start ?? '',
        end: entry.End ?? '',
        exitCode: entry.ExitCode ?? -1,
        output: entry.Output ?? '',
      })),
      failingStreak: health?.FailingStreak ?? 0,
      exitCode: c.State?.ExitCode ?? 0,
      restartCount: c.RestartCount ?? 0,
      restartPolicy: c.HostConfig?.RestartPolicy?.Name ?? '',
      startedAt: c.State?.StartedAt ?? '',
      oneOff: (labels['com.docker.compose.oneoff'] ?? '').toLowerCase() === 'true',
      number: Number(labels['com.docker.compose.container-number'] ?? '0') || 0,
      labels,
      bindSources: (c.Mounts ?? []).filter((m) => m.Type === 'bind' && m.Source).map((m) => m.Source as string),
    };
    if (health?.Status) state.health = health.Status;
    return state;
  });
  return states.sort(
    (a, b) => a.service.localeCompare(b.service) || a.number - b.number || a.container.localeCompare(b.container),
  );
}

/** Every container of the Compose project (including stopped and one-off ones). */
export async function readServiceStates(host: RemoteHost, project: string): Promise<ServiceState[]> {
  const result = await host.run(inspectProjectScript(project), { allowFailure: true, timeoutMs: 60_000 });
  // A failing `docker ps` (daemon down, no permission) leaves stdout empty and says why on stderr.
  if (result.code !== 0 || (!result.stdout.trim() && result.stderr.trim())) {
    throw new Error(
      `on ${host.label}: reading container state of project "${composeProjectName(project)}" failed (exit ${result.code}): ${result.stderr.trim().split('\n').slice(-5).join('\n')}`,
    );
  }
  return parseInspect(result.stdout);
}

/** The last `lines` lines a container wrote (stdout and stderr interleaved). */
export async function containerLogTail(host: RemoteHost, container: string, lines: number): Promise<string> {
  const result = await host.run(logTailScript(container, lines), { allowFailure: true, timeoutMs: 30_000 });
  const text = result.stdout.replace(/\s+$/, '');
  if (result.code !== 0)
    return `(docker logs failed with exit ${result.code}: ${text.split('\n').slice(-3).join(' ')})`;
  return text;
}

export type ServiceRequirement = 'healthy' | 'running';

export interface ServiceVerdict {
  ok: boolean;
  /** "healthy", "running", "starting", "unhealthy", "exited (1)", "restarting"… */
  status: string;
}

/**
 * Whether one container is up: with `healthy` a container that has a healthcheck must be
 * healthy, one without must be running; with `running` it only has to be running.
 * With `oneShotOk`, a container with restart policy "no" that exited 0 has done its job
 * ("completed") — for checks over every service of a project, where one-shot jobs
 * (migrations, seeders) would otherwise fail the check (the `up --wait` trap).
 */
export function serviceVerdict(
  state: ServiceState,
  require: ServiceRequirement = 'healthy',
  options: { oneShotOk?: boolean } = {},
): ServiceVerdict {
  if (
    options.oneShotOk &&
    state.status === 'exited' &&
    state.exitCode === 0 &&
    (state.restartPolicy === '' || state.restartPolicy === 'no')
  ) {
    return { ok: true, status: 'completed' };
  }
  if (state.status !== 'running') {
    const status =
      state.status === 'exited' || state.status === 'dead' ? `${state.status} (${state.exitCode})` : state.status;
    return { ok: false, status };
  }
  if (require === 'healthy' && state.health !== undefined) {
    return { ok: state.health === 'healthy', status: state.health };
  }
  return { ok: true, status: 'running' };
}
