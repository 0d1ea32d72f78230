// What one SSH exec costs on a lab droplet, side by side in one run: ssh2 connecting on its
// own (Nagle's algorithm on, as ssh2 leaves it) versus our connectWithRetry (the TCP
// connection opened with TCP_NODELAY, src/lib/ssh/node-ssh-host.ts). Prints medians and the
// ratio; asserts nothing about time. Start the lab first: `npm run lab -- up`.
//
// Usage: node --import tsx bench/ssh-exec.ts [execs=15] [connects=5]
import { NodeSSH } from 'node-ssh';

import type { Logger } from '../src/lib/action/logger.js';
import { parseKnownHosts } from '../src/lib/ssh/host-keys.js';
import { connectWithRetry, type SshSettings } from '../src/lib/ssh/node-ssh-host.js';
import { benchLab } from './rolling-update-lab.js';
import { median } from './median.js';

const execs = Math.min(Math.max(Number(process.argv[2] ?? 15) || 15, 3), 200);
const connects = Math.min(Math.max(Number(process.argv[3] ?? 5) || 5, 1), 50);
const quiet: Logger = {
  info: () => undefined,
  warn: () => undefined,
  error: (m) => console.error(m),
  debug: () => undefined,
  group: (_n, fn) => fn(),
};

async function timed(fn: () => Promise<unknown>): Promise<number> {
  const t0 = performance.now();
  await fn();
  return performance.now() - t0;
}

async function main(): Promise<void> {
  const lab = benchLab();
  try {
    const d = await lab.createDroplet({ variant: 'trixie' });
    const settings: SshSettings = {
      privateKey: lab.identity.privateKey,
      hostKeys: { kind: 'verify', knownHosts: parseKnownHosts(`${d.publicIpv4} ${d.hostKey}`), fingerprints: [] },
      connectTimeoutMs: 20_000,
      connectAttempts: 1,
      commandTimeoutMs: 60_000,
      keepaliveIntervalMs: 0,
      logger: quiet,
    };
    const endpoint = { user: 'root', host: d.publicIpv4, port: 22 };
    const plain = async (): Promise<NodeSSH> =>
      new NodeSSH().connect({ host: d.publicIpv4, port: 22, username: 'root', privateKey: lab.identity.privateKey });
    const ours = (): Promise<NodeSSH> => connectWithRetry(endpoint, settings);

    const rows: { name: string; connect: number; exec: number }[] = [];
    // alternating, so drift in the machine's load hits both alike
    const connectTimes: Record<string, number[]> = { plain: [], ours: [] };
    for (let i = 0; i < connects; i += 1) {
      for (const [name, open] of [
        ['plain', plain],
        ['ours', ours],
      ] as const) {
        let ssh: NodeSSH | undefined;
        connectTimes[name]?.push(await timed(async () => (ssh = await open())));
        ssh?.dispose();
      }
    }
    for (const [name, open] of [
      ['plain', plain],
      ['ours', ours],
    ] as const) {
      const ssh = await open();
      const times: number[] = [];
      for (let i = 0; i < execs; i += 1) times.push(await timed(() => ssh.execCommand('true')));
      ssh.dispose();
      rows.push({ name, connect: median(connectTimes[name] ?? []), exec: median(times) });
    }
    const [a, b] = rows as [(typeof rows)[0], (typeof rows)[0]];
    console.log(`SSH to a lab droplet: median of ${connects} connects and ${execs} execs of \`true\``);
    console.log(
      `  ssh2 on its own (Nagle on):          connect ${a.connect.toFixed(1)} ms, exec ${a.exec.toFixed(1)} ms`,
    );
    console.log(
      `  connectWithRetry (TCP_NODELAY):      connect ${b.connect.toFixed(1)} ms, exec ${b.exec.toFixed(1)} ms`,
    );
    console.log(
      `  ratio (ours / plain): connect ${(b.connect / a.connect).toFixed(2)}x, exec ${(b.exec / a.exec).toFixed(2)}x`,
    );
  } finally {
    await lab.destroyAll();
  }
}

await main();
