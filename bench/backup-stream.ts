// Benchmark: a ≥ 500 MB PostgreSQL dump streamed droplet → runner → S3 by the BUNDLED
// snapshot-and-backup action, on the lab (a real droplet container with its own ext4 disk,
// PostgreSQL 15 in Compose, the lab's S3 server). Prints, side by side, in one run:
//   - the action process's peak RSS (VmHWM; goal ≤ 150 MB),
//   - the droplet disk's growth during the backup (df of the droplet's own disk, sampled
//     every 0.5 s; goal 0),
//   - throughput of the backup vs a raw `ssh host cat <file>` of the same size (goal ≥ 0.8×),
//     plus the dump command alone over ssh (`ssh host <pg_dump> > /dev/null`) to show where
//     the time goes.
// Variants (BENCH_VARIANTS=id,id,… picks some; default all):
//   pg-fc      postgres, every input at its default (pg_dump -Fc: the droplet compresses)
//   pg-z0-gz1  postgres `compress-level: 0` + gzip level 1 on the runner
//   pg-fc-5x1  postgres default, 5 MiB parts × 1 (the low-memory setting)
//   vol-none   kind volume, a file of random bytes, compression none: the dump tool (tar) is
//              not the bottleneck, so this measures the pipeline itself (ssh2 → meter →
//              sha256 → multipart upload) against `ssh cat`
//   vol-gz1    the same with gzip level 1 on the runner
//   vol-gz     the same with the default compression for volumes (gzip, default level)
//   vol-gz6    the same with gzip level 6 (the default before level 1)
//   txt-none   kind volume, a file of SQL-like text (INSERT lines: ids, names, prices, hex,
//              words; compresses like a real dump), compression none
//   txt-gz1    the text with gzip level 1 on the runner
//   txt-gz6    the text with gzip level 6 on the runner
//   txt-gz     the text with the default compression
// Also printed once: the cipher ssh2 negotiates with the droplet's sshd (the bundle has no
// native addon, so AES-GCM via node:crypto is what we want; chacha20-poly1305 would be JS).
//
//   npm run lab -- up            # once
//   node scripts/build.mjs snapshot-and-backup
//   flock -x /tmp/dd-quiet.lock node --import tsx bench/backup-stream.ts [MB]   (default 560)
//   BENCH_VARIANTS=vol-none BENCH_REPEAT=2 BENCH_AGAINST=/tmp/old/dist/snapshot-and-backup/index.js …
//
// Figures only; nothing here asserts a time.
import { execFileSync, spawn, spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { cpus, tmpdir } from 'node:os';
import { join } from 'node:path';
import { Readable } from 'node:stream';

import { Client } from 'ssh2';

import { S3Store } from '../src/lib/backup/store.js';
import { DockerDropletBackend } from '../test/lab/droplets.js';
import { type LabInfo, readState } from '../test/lab/lab.js';

const MB = Number(process.argv[2] ?? 560);
// BENCH_BUNDLE=<path>: measure another build (e.g. of an older commit) with the same lab steps;
// BENCH_AGAINST=<path>: a second build, run right after the first on every variant (side by
// side in one run); BENCH_REPEAT=N: every variant (and build) N times
const bundles: [label: string, path: string][] = [
  ['', process.env['BENCH_BUNDLE'] ?? join(process.cwd(), 'dist/snapshot-and-backup/index.js')],
];
if (process.env['BENCH_AGAINST']) bundles.push([' [against]', process.env['BENCH_AGAINST']]);
const repeat = Math.min(Math.max(Number(process.env['BENCH_REPEAT'] ?? 1) || 1, 1), 10);
const APP = 'bench';
const state = readState();
if (!state?.env || state.status !== 'ready') throw new Error('no ready lab: run `npm run lab -- up` first');
const env = state.env;
const info = state.info as LabInfo;
const dir = mkdtempSync(join(tmpdir(), 'dd-bench-backup-'));
const keygen = (name: string): { privateKey: string; publicKey: string; path: string } => {
  const path = join(dir, name);
  execFileSync('ssh-keygen', ['-q', '-t', 'ed25519', '-N', '', '-C', name, '-f', path]);
  return { privateKey: readFileSync(path, 'utf8'), publicKey: readFileSync(`${path}.pub`, 'utf8').trim(), path };
};
const client = keygen('client');
const hostKey = keygen('host');
const backend = new DockerDropletBackend({
  prefix: `${info.prefix}bench${Math.random().toString(16).slice(2, 6)}-`,
  network: info.network.name,
  netmask: info.network.netmask,
  gateway: info.network.gateway,
  images: info.images.droplet,
  insecureRegistries: info.insecureRegistries,
  dataDir: info.dataDir,
});

function log(message: string): void {
  process.stderr.write(`[bench ${new Date().toISOString().slice(11, 19)}] ${message}\n`);
}

async function main(): Promise<void> {
  log(`creating a droplet`);
  const d = await backend.create({
    name: 'bench-db',
    variant: 'trixie',
    authorizedKeys: [client.publicKey],
    hostKeys: { ssh_host_ed25519_key: hostKey.privateKey, 'ssh_host_ed25519_key.pub': `${hostKey.publicKey}\n` },
  } as Parameters<DockerDropletBackend['create']>[0]);
  const knownHosts = join(dir, 'known_hosts');
  writeFileSync(knownHosts, `${d.publicIpv4} ${hostKey.publicKey}\n`);
  const sshArgs = [
    '-i',
    client.path,
    '-o',
    `UserKnownHostsFile=${knownHosts}`,
    '-o',
    'StrictHostKeyChecking=yes',
    '-o',
    'BatchMode=yes',
    `root@${d.publicIpv4}`,
  ];
  const ssh = (command: string, input?: string): string =>
    execFileSync('ssh', [...sshArgs, command], { input: input ?? '', maxBuffer: 64 * 1024 * 1024 })
      .toString()
      .trim();
  const reg = env.LAB_REGISTRY;
  const db =
    '$(docker ps -q --filter label=com.docker.compose.project=bench --filter label=com.docker.compose.service=db)';
  try {
    log('starting PostgreSQL in Compose');
    ssh(
      `docker pull -q ${reg}/ddlab/services:latest >/dev/null && mkdir -p /root/stack && cat > /root/stack/compose.yaml`,
      `services:
  db:
    image: ${reg}/ddlab/services:latest
    command: ["postgres"]
    environment: { POSTGRES_PASSWORD: bench-pw, POSTGRES_DB: bench }
    volumes: [pgdata:/var/lib/postgresql/data, blob:/blob, text:/text]
volumes: { pgdata: {}, blob: {}, text: {} }
`,
    );
    ssh(`docker compose -p ${APP} -f /root/stack/compose.yaml up -d --quiet-pull 2>&1`);
    for (let i = 0; i < 120; i += 1) {
      const r = spawnSync('ssh', [
        ...sshArgs,
        `docker exec ${db} sh -c 'PGPASSWORD=$POSTGRES_PASSWORD psql -X -At -h 127.0.0.1 -U postgres -d bench -c "select 1"'`,
      ]);
      if (r.status === 0) break;
      await new Promise((res) => setTimeout(res, 500));
    }
    const picked = process.env['BENCH_VARIANTS']?.split(',').map((v) => v.trim());
    const wants = (prefix: string): boolean => !picked || picked.some((v) => v.startsWith(prefix));
    if (wants('pg-')) log(`filling ${MB} MB of incompressible rows (pgcrypto gen_random_bytes)`);
    const rows = Math.ceil((MB * 1024 * 1024) / 1024);
    if (wants('pg-'))
      ssh(
        `docker exec -i ${db} sh -c 'PGPASSWORD=$POSTGRES_PASSWORD psql -X -q -v ON_ERROR_STOP=1 -U postgres -d bench'`,
        `CREATE EXTENSION IF NOT EXISTS pgcrypto; CREATE TABLE blobs (id int PRIMARY KEY, b bytea); ALTER TABLE blobs ALTER COLUMN b SET STORAGE EXTERNAL;
       INSERT INTO blobs SELECT g, gen_random_bytes(1024) FROM generate_series(1, ${rows}) g; CHECKPOINT;`,
      );
    log(`writing ${MB} MB of random bytes into the volume "blob"`);
    if (wants('vol-'))
      ssh(`docker exec ${db} sh -c 'head -c ${MB * 1024 * 1024} /dev/urandom > /blob/random.bin && sync'`);
    if (wants('txt-')) {
      log(`writing ${MB} MB of SQL-like text into the volume "text"`);
      await pipeTo(
        spawn('ssh', [...sshArgs, `docker exec -i ${db} sh -c 'cat > /text/dump.sql && sync'`], {
          stdio: ['pipe', 'ignore', 'inherit'],
        }),
        sqlText(MB * 1024 * 1024),
      );
    }
    const cipher = await negotiatedCipher(d.publicIpv4, client.privateKey);
    log(`ssh2 negotiates: ${cipher}`);
    // the lab's S3 server runs in the lab's process: whoever listens on its port
    const s3Port = new URL(env.LAB_S3_ENDPOINT).port;
    const s3Pid = Number(/pid=(\d+)/.exec(execFileSync('ss', ['-Hltnp', `sport = :${s3Port}`]).toString())?.[1] ?? 0);
    const results: Record<string, string | number>[] = [];
    // the S3 server's own ceiling: the same store code uploading MB MiB from memory
    const s3Alone = await (async () => {
      const store = new S3Store({
        endpoint: env.LAB_S3_ENDPOINT,
        bucket: env.LAB_S3_BUCKET,
        accessKeyId: env.LAB_S3_ACCESS_KEY_ID,
        secretAccessKey: env.LAB_S3_SECRET_ACCESS_KEY,
      });
      const block = randomBytes(1024 * 1024);
      const t0 = Date.now();
      const key = `bench-s3-alone-${Date.now()}`;
      await store.upload(
        key,
        Readable.from(
          (function* () {
            for (let i = 0; i < MB; i += 1) yield block;
          })(),
        ),
        { contentType: 'application/octet-stream' },
      );
      const ms = Date.now() - t0;
      await store.delete(key);
      store.client.destroy();
      return Math.round((MB / (ms / 1000)) * 10) / 10;
    })();
    log(`S3 server alone (S3Store uploading ${MB} MiB from memory, 8 MiB x 2): ${s3Alone} MB/s`);
    const image = `${reg}/ddlab/services:latest`;
    const pgDump = (z0: boolean): string =>
      `docker exec ${db} sh -c 'PGPASSWORD=$POSTGRES_PASSWORD exec pg_dump -U postgres -d bench --format=custom${z0 ? ' --compress=0' : ''}'`;
    const volTar = `docker run --rm --log-driver none --network none -v ${APP}_blob:/volume:ro --entrypoint sh ${image} -c 'exec tar -C /volume -cf - .'`;
    const pg = '- name: db\n  kind: postgres\n  service: db\n';
    const vol = `- name: files\n  kind: volume\n  volume: blob\n  image: ${image}\n`;
    const txt = `- name: text\n  kind: volume\n  volume: text\n  image: ${image}\n`;
    const txtTar = volTar.replace(`${APP}_blob:`, `${APP}_text:`);
    const all: { id: string; label: string; dumps: string; alone: string; extra: Record<string, string> }[] = [
      {
        id: 'pg-fc',
        label: 'pg_dump -Fc (droplet compresses), all defaults',
        dumps: pg,
        alone: pgDump(false),
        extra: {},
      },
      {
        id: 'pg-z0-gz1',
        label: 'pg_dump -Z0 + gzip -1 on runner',
        dumps: `${pg}  compress-level: 0\n  compression: gzip\n`,
        alone: pgDump(true),
        extra: { 'gzip-level': '1' },
      },
      {
        id: 'pg-fc-5x1',
        label: 'pg_dump -Fc, 5 MiB x 1 (low memory)',
        dumps: pg,
        alone: pgDump(false),
        extra: { 'upload-part-size-mb': '5', 'upload-concurrency': '1' },
      },
      {
        id: 'vol-none',
        label: 'volume tar, compression none',
        dumps: `${vol}  compression: none\n`,
        alone: volTar,
        extra: {},
      },
      {
        id: 'vol-gz1',
        label: 'volume tar, gzip -1 on runner',
        dumps: `${vol}  compression: gzip\n`,
        alone: volTar,
        extra: { 'gzip-level': '1' },
      },
      { id: 'vol-gz', label: 'volume tar, default compression', dumps: vol, alone: volTar, extra: {} },
      {
        id: 'vol-gz6',
        label: 'volume tar, gzip -6 on runner',
        dumps: `${vol}  compression: gzip\n`,
        alone: volTar,
        extra: { 'gzip-level': '6' },
      },
      {
        id: 'txt-none',
        label: 'SQL text, compression none',
        dumps: `${txt}  compression: none\n`,
        alone: txtTar,
        extra: {},
      },
      {
        id: 'txt-gz1',
        label: 'SQL text, gzip -1 on runner',
        dumps: `${txt}  compression: gzip\n`,
        alone: txtTar,
        extra: { 'gzip-level': '1' },
      },
      {
        id: 'txt-gz6',
        label: 'SQL text, gzip -6 on runner',
        dumps: `${txt}  compression: gzip\n`,
        alone: txtTar,
        extra: { 'gzip-level': '6' },
      },
      { id: 'txt-gz', label: 'SQL text, default compression', dumps: txt, alone: txtTar, extra: {} },
    ];
    const variants = picked ? all.filter((v) => picked.includes(v.id)) : all;
    const runs = Array.from({ length: repeat }, (_, rep) =>
      variants.flatMap((v) =>
        bundles.map(([tag, bundle]) => ({ ...v, id: `${v.id}${tag}${repeat > 1 ? ` #${rep + 1}` : ''}`, bundle })),
      ),
    ).flat();
    for (const variant of runs) {
      const dumps = variant.dumps;
      const dfUsed = (): number =>
        Number(
          execFileSync('docker', ['exec', d.container, 'df', '-B1', '--output=used', '/var/lib/docker'])
            .toString()
            .trim()
            .split('\n')
            .pop(),
        );
      const before = dfUsed();
      let maxUsed = before;
      const sampler = setInterval(() => {
        try {
          maxUsed = Math.max(maxUsed, dfUsed());
        } catch {
          /* droplet busy */
        }
      }, 500);
      const outFile = join(dir, 'out');
      writeFileSync(outFile, '');
      const inputs: Record<string, string> = {
        app: APP,
        dumps,
        hosts: d.publicIpv4,
        'ssh-private-key': client.privateKey,
        'known-hosts': `${d.publicIpv4} ${hostKey.publicKey}`,
        'spaces-endpoint': env.LAB_S3_ENDPOINT,
        'spaces-bucket': env.LAB_S3_BUCKET,
        'spaces-prefix': `bench-${Date.now()}`,
        'spaces-access-key-id': env.LAB_S3_ACCESS_KEY_ID,
        'spaces-secret-access-key': env.LAB_S3_SECRET_ACCESS_KEY,
        ...variant.extra,
      };
      const childEnv: NodeJS.ProcessEnv = {
        PATH: process.env['PATH'],
        HOME: dir,
        GITHUB_OUTPUT: outFile,
        RUNNER_TEMP: dir,
      };
      for (const [k, v] of Object.entries(inputs)) childEnv[`INPUT_${k.toUpperCase()}`] = v;
      log(`backup: ${variant.label}`);
      const started = Date.now();
      // BENCH_NODE_ARGS: experiments only (e.g. --cpu-prof); a runner starts the action without any
      const nodeArgs = process.env['BENCH_NODE_ARGS']?.split(' ').filter(Boolean) ?? [];
      // /usr/bin/time reports the action's own peak RSS (the kernel's maxrss) and CPU seconds
      const timeFile = join(dir, 'time');
      const cpuBefore = { s3: procCpuSeconds(s3Pid), droplet: cgroupCpuSeconds(d.container) };
      const child = spawn(
        '/usr/bin/time',
        ['-o', timeFile, '-f', '%M %U %S', process.execPath, ...nodeArgs, variant.bundle],
        {
          env: childEnv,
          stdio: ['ignore', 'pipe', 'pipe'],
        },
      );
      let out = '';
      child.stdout.on('data', (c: Buffer) => (out += c.toString()));
      child.stderr.on('data', (c: Buffer) => (out += c.toString()));
      const code = await new Promise<number | null>((res) => child.on('close', res));
      const wallMs = Date.now() - started;
      const cpu = {
        s3: procCpuSeconds(s3Pid) - cpuBefore.s3,
        droplet: cgroupCpuSeconds(d.container) - cpuBefore.droplet,
      };
      const [maxRssKb, userS, sysS] = readFileSync(timeFile, 'utf8').trim().split('\n').pop()!.split(' ').map(Number);
      const peakKb = maxRssKb ?? 0;
      const actionCpu = (userS ?? 0) + (sysS ?? 0);
      clearInterval(sampler);
      maxUsed = Math.max(maxUsed, dfUsed());
      if (code !== 0) throw new Error(`action failed (${code}):\n${out}`);
      const outputs = readFileSync(outFile, 'utf8');
      const json = /backups<<(.+)\n([\s\S]*?)\n\1/.exec(outputs)?.[2] ?? '[]';
      const manifest = (JSON.parse(json) as { rawSize: number; size: number; durationMs: number }[])[0];
      if (!manifest) throw new Error(`no manifest in outputs:\n${outputs}`);

      // baselines of the same size, over OpenSSH: the dump command alone, and a raw file
      const dumpCmd = variant.alone;
      let t = Date.now();
      execFileSync('sh', [
        '-c',
        `ssh ${sshArgs.map((a) => `'${a}'`).join(' ')} "${dumpCmd.replace(/"/g, '\\"').replace(/\$/g, '\\$')}" > /dev/null`,
      ]);
      const dumpOnlyMs = Date.now() - t;
      ssh(`head -c ${manifest.rawSize} /dev/urandom > /root/raw.bin`);
      t = Date.now();
      execFileSync('sh', ['-c', `ssh ${sshArgs.map((a) => `'${a}'`).join(' ')} cat /root/raw.bin > /dev/null`]);
      const rawMs = Date.now() - t;
      ssh('rm -f /root/raw.bin');
      const mbps = (bytes: number, ms: number): number => Math.round((bytes / 1048576 / (ms / 1000)) * 10) / 10;
      const pipeMbps = mbps(manifest.rawSize, manifest.durationMs);
      const catMbps = mbps(manifest.rawSize, rawMs);
      const aloneMbps = mbps(manifest.rawSize, dumpOnlyMs);
      const vsCat = Math.round((rawMs / manifest.durationMs) * 100) / 100;
      const vsAlone = Math.round((dumpOnlyMs / manifest.durationMs) * 100) / 100;
      // what limits it: the dump tool (measured alone over OpenSSH), the S3 server (measured
      // alone), runner-side gzip, or — none of them alone — the 2 CPUs everything shares here
      const gzip =
        variant.dumps.includes('compression: gzip') ||
        (variant.dumps.includes('kind: volume') && !variant.dumps.includes('compression: none'));
      const limit =
        vsAlone >= 0.8 && aloneMbps < catMbps * 0.8
          ? `the dump tool (alone ${aloneMbps} MB/s)`
          : pipeMbps >= 0.8 * s3Alone
            ? `the S3 server (alone ${s3Alone} MB/s)`
            : gzip
              ? 'gzip on the runner (one thread), with droplet, S3 server and action on the same 2 CPUs (see CPU)'
              : 'the 2 CPUs shared by droplet (docker attach, sshd, docker-proxy), S3 server and action (see CPU)';
      results.push({
        variant: `${variant.id}: ${variant.label}`,
        'dump bytes': manifest.rawSize,
        'stored bytes': manifest.size,
        'pipeline MB/s (dump bytes / stream time)': pipeMbps,
        'ssh cat same size MB/s': catMbps,
        'ratio vs ssh cat (goal ≥ 0.8)': vsCat,
        'dump alone over ssh > /dev/null MB/s': aloneMbps,
        'ratio vs the dump alone': vsAlone,
        'limited by': limit,
        'action wall s': Math.round(wallMs / 100) / 10,
        'CPU s during the action: action / S3 server / droplet (incl. its dockerd, sshd)': `${actionCpu.toFixed(1)} / ${cpu.s3.toFixed(1)} / ${cpu.droplet.toFixed(1)} (of ${((wallMs / 1000) * cpus().length).toFixed(1)} available)`,
        'peak RSS MB (goal ≤ 150)': Math.round(peakKb / 1024),
        'droplet disk growth during backup, bytes (goal 0)': maxUsed - before,
      });
    }
    const keys = Object.keys(results[0] ?? {});
    const width = Math.max(...keys.map((k) => k.length));
    console.log(
      `\nbackup-stream bench: ${MB} MB of random bytea, lab droplet ${d.publicIpv4}, S3 ${env.LAB_S3_ENDPOINT}, load average ${readFileSync('/proc/loadavg', 'utf8').split(' ').slice(0, 3).join(' ')} on ${cpus().length} CPUs\n`,
    );
    console.log(`ssh2 cipher negotiated with the droplet: ${cipher}`);
    console.log(`S3 server alone (the store uploading ${MB} MiB from memory, 8 MiB x 2): ${s3Alone} MB/s\n`);
    for (const r of results) {
      console.log(`--- ${String(r['variant'])}`);
      for (const k of keys.slice(1)) console.log(`  ${k.padEnd(width)}  ${String(r[k])}`);
    }
  } finally {
    await backend.destroy(d.container).catch(() => undefined);
    rmSync(dir, { recursive: true, force: true });
  }
}

/** `bytes` of SQL-like text: INSERT lines with ids, names, prices, random hex and words (deterministic). */
function* sqlText(bytes: number): Generator<Buffer> {
  const words = [
    'alpha',
    'bravo',
    'café',
    'delta',
    'echo',
    'naïve',
    'golf',
    'hotel',
    'india',
    'juliet',
    'kilo',
    'lima',
  ];
  let seed = 12345;
  const rand = (): number => {
    seed = (seed * 1103515245 + 12345) % 2147483648;
    return seed;
  };
  let sent = 0;
  let n = 0;
  while (sent < bytes) {
    const lines: string[] = [];
    for (let i = 0; i < 2000; i += 1) {
      n += 1;
      const hex = rand().toString(16).padStart(8, '0') + rand().toString(16).padStart(8, '0');
      const note = `${words[rand() % words.length]} ${words[rand() % words.length]} ${words[rand() % words.length]}`;
      lines.push(
        `INSERT INTO \`items\` VALUES (${n},'item ${n}',${rand() % 100000}.${rand() % 100},0x${hex},'${note} ${n % 977}');\n`,
      );
    }
    const chunk = Buffer.from(lines.join(''));
    const part = chunk.subarray(0, Math.min(chunk.length, bytes - sent));
    sent += part.length;
    yield part;
  }
}

/** Writes chunks to a child's stdin with backpressure; resolves when the child exits 0. */
async function pipeTo(child: ReturnType<typeof spawn>, chunks: Iterable<Buffer>): Promise<void> {
  const exited = new Promise<number | null>((res) => child.on('close', res));
  const stdin = child.stdin!;
  for (const chunk of chunks) {
    if (!stdin.write(chunk)) await new Promise((res) => stdin.once('drain', res));
  }
  stdin.end();
  const code = await exited;
  if (code !== 0) throw new Error(`writing the text file exited with ${code}`);
}

/** user+system CPU seconds of a process (0 if unknown). */
function procCpuSeconds(pid: number | undefined): number {
  if (!pid) return 0;
  try {
    const fields = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]?.split(' ') ?? [];
    return (Number(fields[11]) + Number(fields[12])) / 100;
  } catch {
    return 0;
  }
}

/** CPU seconds of a droplet container and everything in it (cgroup v1 cpuacct, or v2 cpu.stat). */
function cgroupCpuSeconds(container: string): number {
  try {
    const id = execFileSync('/usr/bin/docker', ['inspect', '-f', '{{.Id}}', container]).toString().trim();
    try {
      return Number(readFileSync(`/sys/fs/cgroup/cpuacct/docker/${id}/cpuacct.usage`, 'utf8')) / 1e9;
    } catch {
      const stat = readFileSync(`/sys/fs/cgroup/system.slice/docker-${id}.scope/cpu.stat`, 'utf8');
      return Number(/usage_usec (\d+)/.exec(stat)?.[1] ?? 0) / 1e6;
    }
  } catch {
    return 0;
  }
}

/** The cipher ssh2 (as bundled: pure JS, no native addon) agrees on with the droplet's sshd. */
function negotiatedCipher(host: string, privateKey: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const c = new Client();
    c.on('handshake', (n) => {
      resolve(`${n.sc.cipher} (server→client), kex ${n.kex}`);
      c.end();
    });
    c.on('error', reject);
    c.connect({
      host,
      port: 22,
      username: 'root',
      privateKey,
      hostVerifier: () => true,
      readyTimeout: 20_000,
      // node_modules' ssh2 has its native addon; the bundle has not, and then offers exactly this
      // (ssh2 1.17 lib/protocol/constants.js, no binding, no cpu-features): offer the same
      algorithms: {
        cipher: [
          'aes128-gcm@openssh.com',
          'aes256-gcm@openssh.com',
          'aes128-ctr',
          'aes192-ctr',
          'aes256-ctr',
          'chacha20-poly1305@openssh.com',
        ],
      },
    });
  });
}

await main();
