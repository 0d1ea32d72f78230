// Swarm mode: the release's Compose file deployed as a stack; Swarm rolls each service with
// its own update_config (parallelism, delay, order: start-first, failure_action: rollback,
// monitor). Commands as data; parsing of `docker service inspect` into an update verdict.
import { and, cmd, type Cmd, redirect, type Script, sensitive, sh } from '../commands/cmd.js';
import { untarStdin } from '../release/tar.js';

/** `docker info` → "<LocalNodeState> <ControlAvailable> <NodeID>" */
export function swarmState(): Cmd {
  return cmd('docker', 'info', '--format', '{{.Swarm.LocalNodeState}} {{.Swarm.ControlAvailable}} {{.Swarm.NodeID}}');
}

export function parseSwarmState(stdout: string): { state: string; manager: boolean; nodeId: string } {
  const [state = '', control = '', nodeId = ''] = stdout.trim().split(/\s+/);
  return { state, manager: control === 'true', nodeId };
}

/** The address a route to the outside leaves from (no packet is sent). */
export function defaultSourceAddress(): Cmd {
  return cmd('ip', '-4', 'route', 'get', '192.0.2.1');
}

export function parseRouteSource(stdout: string): string | undefined {
  return /\bsrc\s+(\d+\.\d+\.\d+\.\d+)/.exec(stdout)?.[1];
}

export function swarmInit(advertise: string): Cmd {
  return cmd('docker', 'swarm', 'init', '--advertise-addr', advertise, '--listen-addr', `${advertise}:2377`);
}

export function joinToken(): Cmd {
  return cmd('docker', 'swarm', 'join-token', '--quiet', 'worker');
}

/** The token is a secret: it reaches the command as a Sensitive argument (redacted in logs). */
export function swarmJoin(token: string, manager: string, advertise: string): Cmd {
  return cmd('docker', 'swarm', 'join', '--token', sensitive(token), '--advertise-addr', advertise, `${manager}:2377`);
}

/**
 * The release's folder on the manager, its files (compose files, extra files, the 0600 .env)
 * unpacked from ONE archive on stdin (src/lib/release/tar.ts, as deploy-compose uploads a
 * release): one round trip for all of them, the secrets never in argv. tar creates the
 * sub-folders the paths name.
 */
export function unpackRelease(dir: string): Script {
  return and(cmd('mkdir', '-p', dir), untarStdin(dir));
}

/**
 * `docker stack deploy` with the release's .env loaded into the environment (stack deploy
 * interpolates from the environment only); values come from the 0600 file, never argv.
 */
export function stackDeploy(opts: { dir: string; files: readonly string[]; envFile: string; stack: string }): Cmd {
  const deploy = cmd(
    'docker',
    'stack',
    'deploy',
    opts.files.flatMap((f) => ['--compose-file', f]),
    '--prune',
    '--with-registry-auth',
    '--resolve-image',
    'always',
    opts.stack,
  );
  return sh(
    and(cmd('cd', opts.dir), cmd('set', '-a'), cmd('.', opts.envFile), cmd('set', '+a'), redirect(deploy, '2>&1')),
  );
}

export function listStackServices(stack: string): Cmd {
  return cmd(
    'docker',
    'service',
    'ls',
    '--filter',
    `label=com.docker.stack.namespace=${stack}`,
    '--format',
    '{{.ID}} {{.Name}} {{.Replicas}}',
  );
}

export function inspectServices(ids: readonly string[]): Cmd {
  return cmd('docker', 'service', 'inspect', ...ids);
}

export function serviceTasks(service: string): Cmd {
  return cmd(
    'docker',
    'service',
    'ps',
    service,
    '--no-trunc',
    '--format',
    '{{.Name}}|{{.Image}}|{{.DesiredState}}|{{.CurrentState}}|{{.Error}}',
  );
}

export function dropletNow(): Cmd {
  return cmd('date', '+%s');
}

export interface ServiceUpdate {
  id: string;
  name: string;
  /** "running/desired" from service ls, e.g. "2/2". */
  replicas: string;
  /** UpdateStatus.State: updating, paused, completed, rollback_started, rollback_paused, rollback_completed; "" when never updated. */
  state: string;
  message: string;
  startedAt?: number;
  /** This deploy changed an existing service's spec (an update must run). */
  updated?: boolean;
}

export function parseServiceList(stdout: string): { id: string; name: string; replicas: string }[] {
  return stdout
    .trim()
    .split('\n')
    .filter(Boolean)
    .map((l) => {
      const [id = '', name = '', replicas = ''] = l.trim().split(/\s+/);
      return { id, name, replicas };
    });
}

export interface InspectedService {
  state: string;
  message: string;
  startedAt?: number;
  version: number;
}

export function parseUpdateStatus(json: string): Map<string, InspectedService> {
  const out = new Map<string, InspectedService>();
  const raw = JSON.parse(json.trim() || '[]') as {
    ID?: string;
    Version?: { Index?: number };
    UpdateStatus?: { State?: string; Message?: string; StartedAt?: string };
  }[];
  for (const s of raw) {
    if (!s.ID) continue;
    const u = s.UpdateStatus;
    const started = u?.StartedAt ? Date.parse(u.StartedAt) : NaN;
    out.set(s.ID, {
      state: u?.State ?? '',
      message: u?.Message ?? '',
      version: s.Version?.Index ?? 0,
      ...(Number.isFinite(started) ? { startedAt: Math.floor(started / 1000) } : {}),
    });
  }
  return out;
}

function replicasDone(replicas: string): boolean {
  const m = /^(\d+)\/(\d+)/.exec(replicas);
  return m !== null && m[1] === m[2];
}

export type StackVerdict =
  | { kind: 'converged' }
  | { kind: 'waiting'; detail: string }
  | { kind: 'rolled-back'; services: ServiceUpdate[] }
  | { kind: 'paused'; services: ServiceUpdate[] };

/**
 * Whether the stack has converged after a deploy made at `since` (droplet clock, seconds):
 * services updated by this deploy must reach `completed`; a rollback or a pause is a failure;
 * every service needs all its replicas running.
 */
export function stackVerdict(services: readonly ServiceUpdate[], since: number, graceOver = true): StackVerdict {
  // an UpdateStatus from before this deploy says nothing about it
  const current = services.map((s) =>
    s.startedAt !== undefined && s.startedAt >= since ? s : { ...s, state: '', message: '' },
  );
  const rolled = current.filter((s) => s.state.startsWith('rollback'));
  if (rolled.length > 0 && rolled.every((s) => s.state === 'rollback_completed' || s.state === 'rollback_paused')) {
    return { kind: 'rolled-back', services: rolled };
  }
  const paused = current.filter((s) => s.state === 'paused');
  if (paused.length > 0) return { kind: 'paused', services: paused };
  const busy = current.filter(
    (s) =>
      s.state === 'updating' ||
      s.state === 'rollback_started' ||
      !replicasDone(s.replicas) ||
      // Swarm starts the update asynchronously: wait for it to show up
      (s.updated === true && s.state === '' && !graceOver),
  );
  if (busy.length > 0) {
    return {
      kind: 'waiting',
      detail: busy
        .map((s) => `${s.name}: ${s.state || (s.updated ? 'update not started' : 'starting')} ${s.replicas}`)
        .join('; '),
    };
  }
  return { kind: 'converged' };
}

/** Task errors worth showing: tasks that failed or were rejected, newest first. */
export function parseTaskErrors(stdout: string, limit = 5): string[] {
  return stdout
    .trim()
    .split('\n')
    .filter(Boolean)
    .map((l) => l.split('|'))
    .filter(([, , , state = '', error = '']) => error.trim() !== '' || /^(Failed|Rejected)/.test(state))
    .slice(0, limit)
    .map(
      ([name = '', image = '', , state = '', error = '']) =>
        `${name} (${image.split('@')[0] ?? image}): ${state.trim()}${error.trim() ? ` — ${error.trim()}` : ''}`,
    );
}
