// Measures, on a warm machine (images built): `npm run lab -- up` + 3 droplets active through
// the API (create with `names`, poll until `active`), then `npm run lab -- down`. Runs N times
// (default 3) in its own LAB_DIR and prints the figures and medians as JSON on stdout.
//   node --import tsx test/lab/bench-up.ts [runs]
import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { generateKeyPair } from './fixture-keys.js';
import { sleep } from './util.js';

const CLI = fileURLToPath(new URL('./cli.ts', import.meta.url));
const LAB_DIR = process.env.BENCH_LAB_DIR ?? '/tmp/ddlab-bench';

function cli(cmd: string): string {
  const r = spawnSync(process.execPath, ['--import', 'tsx', CLI, cmd], {
    env: { ...process.env, LAB_DIR, LAB_QUIET: '1' },
    encoding: 'utf8',
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  if (r.status !== 0) throw new Error(`lab ${cmd} exited ${r.status}`);
  return r.stdout;
}

async function api<T>(url: string, token: string, method: string, path: string, body?: unknown): Promise<T> {
  const res = await fetch(`${url}${path}`, {
    method,
    headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  if (!res.ok) throw new Error(`${method} ${path}: ${res.status} ${await res.text()}`);
  return (await res.json()) as T;
}

const median = (xs: number[]): number => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;

const runs = Number(process.argv[2] ?? 3);
const rows: { up: number; droplets: number; total: number; down: number }[] = [];
cli('down');
for (let i = 0; i < runs; i++) {
  const t0 = Date.now();
  const env = Object.fromEntries(
    cli('up')
      .trim()
      .split('\n')
      .map((l) => [l.slice(0, l.indexOf('=')), l.slice(l.indexOf('=') + 1)]),
  ) as Record<string, string>;
  const t1 = Date.now();
  const url = env.DIGITALOCEAN_API_URL!;
  const token = env.DIGITALOCEAN_TOKEN!;
  const key = await api<{ ssh_key: { id: number } }>(url, token, 'POST', '/account/keys', {
    name: 'bench',
    public_key: generateKeyPair('bench').publicKey,
  });
  const created = await api<{ droplets: { id: number }[] }>(url, token, 'POST', '/droplets', {
    names: ['bench-1', 'bench-2', 'bench-3'],
    region: 'nyc3',
    size: 's-1vcpu-1gb',
    image: 'ubuntu-24-04-x64',
    ssh_keys: [key.ssh_key.id],
  });
  for (let n = 0; n < 600; n++) {
    const st = await Promise.all(
      created.droplets.map((d) => api<{ droplet: { status: string } }>(url, token, 'GET', `/droplets/${d.id}`)),
    );
    if (st.every((s) => s.droplet.status === 'active')) break;
    await sleep(200);
  }
  const t2 = Date.now();
  cli('down');
  const t3 = Date.now();
  rows.push({ up: (t1 - t0) / 1000, droplets: (t2 - t1) / 1000, total: (t2 - t0) / 1000, down: (t3 - t2) / 1000 });
  process.stderr.write(`run ${i + 1}: ${JSON.stringify(rows[i])}\n`);
}
process.stdout.write(
  `${JSON.stringify({ runs: rows, median: { up: median(rows.map((r) => r.up)), droplets: median(rows.map((r) => r.droplets)), total: median(rows.map((r) => r.total)), down: median(rows.map((r) => r.down)) } }, null, 2)}\n`,
);
