// Remote commands of the rolling update, as data (rendered and quoted in src/lib/commands).
//
// Start-first on one droplet, per service:
//   1. scaleUp: `compose up -d --no-deps --no-recreate --scale svc=<old+desired> svc` — Compose
//      keeps the old containers (--no-recreate) and creates the new ones from the NEW release's
//      files, so only the new ones carry the new config hash;
//   2. the new containers are gated (Docker health / running);
//   3a. with a proxy to reload (proxy-service), the old containers are never taken off a
//      network while they may be answering: `docker network disconnect` removes a container's
//      address at once, and a request it is still answering is then cut WITHOUT a reset (no
//      RST ever comes back), so the proxy waits out its read timeout (nginx: 60 s). Instead:
//        reloadProxies — the proxy learns the new containers (a static upstream resolves the
//          service name again: old and new; a resolver cache starts empty);
//        drain-time — the proxy settles on the new containers while the old ones still serve;
//        stopContainers — graceful stop WHILE STILL ATTACHED: the app gets its stop_signal,
//          finishes what is in flight and stops listening (new connections to it are refused
//          at once, which a proxy re-sends: nginx's default `proxy_next_upstream error`); an
//          app that just exits closes its connections (reset/FIN: re-sent at once as well).
//          A stopped container leaves Docker's DNS by itself;
//        reloadProxies again — the proxy forgets the old addresses (a static upstream, or a
//          resolver cache still holding them);
//        removeContainers.
//      If the first reload fails, nothing has changed for the old containers: the new ones are
//      removed and the old release keeps serving.
//   3b. without a proxy to reload (a proxy that resolves the service name at request time, or
//      clients that reach it some other way), nothing is ever disconnected where Docker could
//      not give the address back (same reason as 3a). Decided per network BEFORE anything is
//      disconnected, from the release's resolved Compose config (networks.ts):
//        - a network with a configured subnet holding the container's address: dropFromDns —
//          it leaves and joins again at the SAME address with no aliases: Docker's DNS stops
//          answering the service name with it, while requests in flight and clients holding a
//          cached answer still reach it;
//        - any other network (an automatic subnet: Docker accepts `--ip` only on networks with
//          a user-configured one, and `docker network inspect` shows both alike; an external
//          network, whose subnet the file does not give): it stays attached, and in DNS;
//      then drain-time (a resolver learns the new containers, caches of the old answer
//      expire), then stopRemove: the graceful stop happens where they stand — the app stops
//      listening (a resolver-based proxy re-sends a refused connect), finishes what is in
//      flight, and a stopped container leaves Docker's DNS by itself;
//   4. scaleTo(desired) leaves Compose's view coherent.
import { parse as parseShellWords } from 'shell-quote';

import { ConfigurationError } from '../action/errors.js';
import { and, cmd, type Cmd, or, redirect, type Script, seq } from '../commands/cmd.js';
import { composeBase, type ComposeProject } from '../compose/compose.js';

/** `compose config --hash '*'`: one `service hash` line per service (Compose v2 and v1.25+). */
export function configHashes(p: ComposeProject): Cmd {
  return cmd(composeBase(p), 'config', '--hash', '*');
}

/** Starts new containers beside the old ones: the service ends up with `total` containers. */
export function scaleUp(p: ComposeProject, service: string, total: number): Cmd {
  return cmd(
    composeBase(p),
    'up',
    '--detach',
    '--no-deps',
    '--no-recreate',
    '--no-build',
    '--scale',
    `${service}=${total}`,
    service,
  );
}

/** After the old containers are gone: the same count Compose would keep, nothing recreated. */
export function scaleTo(p: ComposeProject, service: string, count: number): Cmd {
  return scaleUp(p, service, count);
}

/** Recreate strategy: Compose stops the old containers and starts the new ones (a brief gap). */
export function recreate(p: ComposeProject, service: string, count: number | undefined): Cmd {
  return cmd(
    composeBase(p),
    'up',
    '--detach',
    '--no-deps',
    '--no-build',
    count === undefined ? [] : ['--scale', `${service}=${count}`],
    service,
  );
}

export interface NetworkAttachment {
  network: string;
  ipv4?: string;
  ipv6?: string;
}

export const RECONNECT_FAILED = '__ROLLOUT_RECONNECT_FAILED__';

/**
 * Takes a container out of Docker's DNS for its service name while keeping its addresses:
 * disconnect, then connect again at the same IPv4/IPv6 with no aliases (only the container
 * name resolves). Only for networks with a configured subnet (networks.ts): elsewhere Docker
 * refuses the fixed address. If connecting again fails even so, prints the error and
 * `RECONNECT_FAILED <network> <container>` (the container is then off that network) and goes on.
 */
export function dropFromDns(container: string, attachments: readonly NetworkAttachment[]): Script {
  if (attachments.length === 0) throw new Error('dropFromDns: the container has no network');
  return seq(
    ...attachments.map((a) =>
      and(
        cmd('docker', 'network', 'disconnect', a.network, container),
        or(
          redirect(
            cmd(
              'docker',
              'network',
              'connect',
              a.ipv4 ? ['--ip', a.ipv4] : [],
              a.ipv6 ? ['--ip6', a.ipv6] : [],
              a.network,
              container,
            ),
            '2>&1',
          ),
          cmd('echo', `${RECONNECT_FAILED} ${a.network} ${container}`),
        ),
      ),
    ),
  );
}

/**
 * The proxy's reload, in every running proxy container by id (`docker exec`: much quicker
 * than `compose exec`). Each container's command must succeed.
 */
export function reloadProxies(proxyIds: readonly string[], reload: readonly string[]): Script {
  if (proxyIds.length === 0) throw new Error('reloadProxies: no proxy container');
  if (reload.length === 0) throw new Error('reloadProxies: no reload command');
  return and(...proxyIds.map((id) => cmd('docker', 'exec', id, ...reload)));
}

/** Graceful stop only (stop_signal, then SIGKILL after `timeoutSeconds`): the containers stay attached while they stop. */
export function stopContainers(ids: readonly string[], timeoutSeconds: number): Cmd {
  if (ids.length === 0) throw new Error('stopContainers: no containers');
  return cmd('docker', 'stop', '--time', String(Math.max(0, Math.round(timeoutSeconds))), ...ids);
}

/** `docker rm` of stopped containers, by id. */
export function removeContainers(ids: readonly string[]): Cmd {
  if (ids.length === 0) throw new Error('removeContainers: no containers');
  return cmd('docker', 'rm', ...ids);
}

/** Graceful stop (stop_signal, then SIGKILL after `timeoutSeconds`), then remove. By id. */
export function stopRemove(ids: readonly string[], timeoutSeconds: number): Script {
  if (ids.length === 0) throw new Error('stopRemove: no containers');
  return and(stopContainers(ids, timeoutSeconds), removeContainers(ids));
}

/** `docker inspect <ids>` (the full JSON; parsed by parseNetworks). */
export function inspectContainers(ids: readonly string[]): Cmd {
  return cmd('docker', 'inspect', ...ids);
}

/** The proxy's reload command run inside it: `compose exec -T <service> <argv>`. */
export function proxyReload(p: ComposeProject, service: string, argv: readonly string[]): Cmd {
  return cmd(composeBase(p), 'exec', '-T', service, ...argv);
}

/**
 * Splits a user's reload command (`nginx -s reload`) into argv. Only plain words are
 * accepted: pipes, redirections and substitutions belong in a script inside the image.
 */
export function parseReloadCommand(inputName: string, text: string): string[] {
  const words = parseShellWords(text.trim());
  const argv: string[] = [];
  for (const w of words) {
    if (typeof w !== 'string') {
      throw new ConfigurationError(
        `input "${inputName}" has ${JSON.stringify(text)}: only a command and its arguments are allowed (no operators, globs or comments); put a script in the image for more`,
      );
    }
    argv.push(w);
  }
  if (argv.length === 0) throw new ConfigurationError(`input "${inputName}" is empty`);
  return argv;
}

/** Parses `compose config --hash '*'` output: service → hash. */
export function parseConfigHashes(stdout: string): Map<string, string> {
  const map = new Map<string, string>();
  for (const line of stdout.split('\n')) {
    const m = /^(\S+)\s+([0-9a-f]{16,})\s*$/.exec(line.trim());
    if (m) map.set(m[1] as string, m[2] as string);
  }
  return map;
}

/** Network attachments of each container from `docker inspect` JSON: id → attachments. */
export function parseNetworks(json: string): Map<string, NetworkAttachment[]> {
  const out = new Map<string, NetworkAttachment[]>();
  const raw = JSON.parse(json.trim() || '[]') as {
    Id?: string;
    NetworkSettings?: { Networks?: Record<string, { IPAddress?: string; GlobalIPv6Address?: string } | null> | null };
  }[];
  for (const c of raw) {
    const list: NetworkAttachment[] = [];
    for (const [network, n] of Object.entries(c.NetworkSettings?.Networks ?? {})) {
      const a: NetworkAttachment = { network };
      if (n?.IPAddress) a.ipv4 = n.IPAddress;
      if (n?.GlobalIPv6Address) a.ipv6 = n.GlobalIPv6Address;
      list.push(a);
    }
    if (c.Id)
      out.set(
        c.Id,
        list.sort((x, y) => x.network.localeCompare(y.network)),
      );
  }
  return out;
}
