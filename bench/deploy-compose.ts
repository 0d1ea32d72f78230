// deploy-compose benchmarks on the lab (start it first: `npm run lab -- up`). Prints figures;
// asserts nothing about time.
//
// (a) wall time of the BUNDLED action deploying a change (the moving tag switched v1 ↔ v2 in
//     the lab registry) ÷ a bare `ssh host 'docker compose pull && docker compose up -d'` plus a
//     shell loop polling health, for the same change on the same droplet, alternating order.
// (b) bytes sent by a second `transfer` push of an image with one changed layer ÷ that layer's
//     size, next to a whole `docker save | ssh docker load` of the same image.
//
// Usage: node --import tsx bench/deploy-compose.ts [runs=4] [--profile]
//   --profile: after (a), one more deploy with RUNNER_DEBUG=1, its log lines printed with the
//   time since the action started and since the previous line (where the wall time goes).
import { spawn, spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Transform } from 'node:stream';

import type { Logger } from '../src/lib/action/logger.js';
import { localDocker, transferImage } from '../src/lib/images/transfer.js';
import { parseKnownHosts } from '../src/lib/ssh/host-keys.js';
import { SshPool } from '../src/lib/ssh/pool.js';
import type { FixtureDroplet } from '../test/lab/fixture.js';
import {
  baseInputs,
  buildBundle,
  deploy,
  docker,
  DOCKER,
  FIXTURE_DIR,
  httpGet,
  prepareApp,
} from '../test/support/deploy-compose-lab.js';
import { REPO_ROOT } from '../test/support/run-action.js';
import { benchLab } from './rolling-update-lab.js';
import { median } from './median.js';

const runs = Math.min(Math.max(Number(process.argv[2] ?? 4) || 4, 1), 20);
const profile = process.argv.includes('--profile');
const quietLogger: Logger = {
  info: () => undefined,
  warn: (m) => console.error(m),
  error: (m) => console.error(m),
  debug: () => undefined,
  group: (_n, fn) => fn(),
};

function sh(
  cmd: string,
  args: string[],
  input?: NodeJS.ReadableStream,
  countStdin = false,
): Promise<{ code: number; out: string; bytes: number }> {
  return new Promise((resolve, reject) => {
    const child = spawn(cmd, args, { stdio: ['pipe', 'pipe', 'pipe'] });
    let out = '';
    let bytes = 0;
    child.stdout.on('data', (d: Buffer) => (out += d.toString()));
    child.stderr.on('data', (d: Buffer) => (out += d.toString()));
    child.on('error', reject);
    child.on('close', (code) => resolve({ code: code ?? 1, out, bytes }));
    if (input) {
      const counter = new Transform({
        transform(chunk: Buffer, _e, done) {
          if (countStdin) bytes += chunk.length;
          done(null, chunk);
        },
      });
      input.pipe(counter).pipe(child.stdin);
    } else child.stdin.end();
  });
}

async function main(): Promise<void> {
  const lab = benchLab();
  const dir = mkdtempSync(join(tmpdir(), 'dd-bench-'));
  const keyFile = join(dir, 'key');
  const knownFile = join(dir, 'known_hosts');
  writeFileSync(keyFile, lab.identity.privateKey, { mode: 0o600 });
  let d: FixtureDroplet | undefined;
  const ns = randomBytes(3).toString('hex');
  const app = prepareApp(lab, ns);
  try {
    buildBundle();
    d = await lab.createDroplet({ variant: 'trixie' });
    const droplet = d;
    writeFileSync(knownFile, `${d.publicIpv4} ${d.hostKey}\n`);
    const ssh = (script: string): Promise<{ code: number; out: string; bytes: number }> =>
      sh('ssh', [
        '-i',
        keyFile,
        '-o',
        `UserKnownHostsFile=${knownFile}`,
        '-o',
        'StrictHostKeyChecking=yes',
        '-o',
        'BatchMode=yes',
        `root@${droplet.publicIpv4}`,
        script,
      ]);

    // ---- (a) wall time --------------------------------------------------------------------
    const inputs: Record<string, string> = { ...baseInputs(lab, d, app, 'benchdc'), 'keep-releases': '3' };
    inputs['env'] = `${inputs['env']}\nHTTP_PORT=80`;
    // the bare baseline: same compose file and nginx.conf, project "bare" on port 443
    const compose = join(REPO_ROOT, FIXTURE_DIR, 'deploy');
    await ssh('mkdir -p /root/bare');
    for (const f of ['compose.yaml', 'nginx.conf']) {
      const up = await sh('scp', [
        '-q',
        '-i',
        keyFile,
        '-o',
        `UserKnownHostsFile=${knownFile}`,
        join(compose, f),
        `root@${d.publicIpv4}:/root/bare/${f}`,
      ]);
      if (up.code !== 0) throw new Error(up.out);
    }
    await ssh(
      `printf 'WEB_IMAGE=%s\\nNGINX_IMAGE=%s\\nHTTP_PORT=443\\n' '${app.webRef}' '${app.nginxRef}' > /root/bare/.env`,
    );
    const bare =
      'cd /root/bare && docker compose -p bare pull -q && docker compose -p bare up -d -q 2>/dev/null || docker compose -p bare up -d; ' +
      'until [ "$(docker inspect -f "{{.State.Health.Status}}" bare-web-1)" = healthy ]; do sleep 1; done';

    app.publish('v1');
    const warm = await deploy(inputs);
    if (warm.exitCode !== 0) throw new Error(warm.log);
    const warmBare = await ssh(bare);
    if (warmBare.code !== 0) throw new Error(warmBare.out);

    const dc: number[] = [];
    const bareTimes: number[] = [];
    for (let i = 0; i < runs; i += 1) {
      const version = i % 2 === 0 ? 'v2' : 'v1';
      app.publish(version);
      const order = i % 2 === 0 ? ['dc', 'bare'] : ['bare', 'dc'];
      for (const which of order) {
        const t0 = performance.now();
        if (which === 'dc') {
          const r = await deploy(inputs);
          if (r.exitCode !== 0) throw new Error(r.log);
          dc.push(performance.now() - t0);
        } else {
          const r = await ssh(bare);
          if (r.code !== 0) throw new Error(r.out);
          bareTimes.push(performance.now() - t0);
        }
      }
      const seen = await httpGet(droplet, '/version.txt');
      if (seen.body !== `version ${version}`) throw new Error(`port 80 shows ${seen.body}, expected ${version}`);
    }
    const ratio = median(dc) / median(bareTimes);
    console.log('(a) deploy of a change (moving tag v1 <-> v2, web + nginx), trixie droplet, Compose v2');
    console.log(
      `    deploy-compose (bundled action, child process): ${dc.map((x) => (x / 1000).toFixed(2)).join(' ')} s  median ${(median(dc) / 1000).toFixed(2)} s`,
    );
    console.log(
      `    bare ssh pull + up -d + health loop:            ${bareTimes.map((x) => (x / 1000).toFixed(2)).join(' ')} s  median ${(median(bareTimes) / 1000).toFixed(2)} s`,
    );
    console.log(`    ratio: ${ratio.toFixed(2)}x (goal <= 1.3x)`);
    if (profile) {
      app.publish(runs % 2 === 0 ? 'v2' : 'v1');
      const t0 = performance.now();
      let last = t0;
      const lines: string[] = [];
      const r = await deploy(inputs, {
        env: { RUNNER_DEBUG: '1' },
        onLine: (line) => {
          const t = performance.now();
          if (!line.startsWith('::add-mask::')) {
            lines.push(`${((t - t0) / 1000).toFixed(3)} +${((t - last) / 1000).toFixed(3)}  ${line.slice(0, 200)}`);
          }
          last = t;
        },
      });
      if (r.exitCode !== 0) throw new Error(r.log);
      console.log(`    profile of one more deploy (RUNNER_DEBUG=1), s since spawn / since the previous line:`);
      for (const l of lines) console.log(`      ${l}`);
      console.log(`      ${((performance.now() - t0) / 1000).toFixed(3)} exit`);
    }

    // ---- (b) transfer bytes -----------------------------------------------------------------
    const base = lab.info.images.web;
    const name = `ddlab-bench-${ns}/tx`;
    const big = randomBytes(20_000_000);
    const mk = (tag: string, small: Buffer): void => {
      const c = join(dir, `ctx-${tag}`);
      rmSync(c, { recursive: true, force: true });
      mkdirSync(c, { recursive: true });
      writeFileSync(join(c, 'big.bin'), big);
      writeFileSync(join(c, 'small.bin'), small);
      writeFileSync(join(c, 'Dockerfile'), `FROM ${base}\nCOPY big.bin /big.bin\nCOPY small.bin /small.bin\n`);
      docker(['build', '-q', '-t', `${name}:${tag}`, c]);
    };
    mk('a', randomBytes(5_000_000));
    mk('b', randomBytes(5_000_000));
    const pool = new SshPool({
      privateKey: lab.identity.privateKey,
      hostKeys: { kind: 'verify', knownHosts: parseKnownHosts(`${d.publicIpv4} ${d.hostKey}`), fingerprints: [] },
      connectTimeoutMs: 20_000,
      connectAttempts: 3,
      commandTimeoutMs: 600_000,
      keepaliveIntervalMs: 15_000,
      logger: quietLogger,
    });
    const host = await pool.connect({ host: d.publicIpv4, port: 22, user: 'root', label: d.publicIpv4 });
    const ld = localDocker(DOCKER);
    const first = await transferImage(host, `${name}:a`, quietLogger, { docker: ld });
    const second = await transferImage(host, `${name}:b`, quietLogger, { docker: ld });
    await host.run({ kind: 'cmd', argv: ['docker', 'image', 'rm', `${name}:b`] });
    const secondRaw = await transferImage(host, `${name}:b`, quietLogger, { docker: ld, gzipLevel: 0 });
    await pool.closeAll();
    const save = spawn(DOCKER, ['save', `${name}:b`], { stdio: ['ignore', 'pipe', 'ignore'] });
    const whole = await sh(
      'ssh',
      [
        '-i',
        keyFile,
        '-o',
        `UserKnownHostsFile=${knownFile}`,
        '-o',
        'BatchMode=yes',
        `root@${d.publicIpv4}`,
        'docker load -q',
      ],
      save.stdout,
      true,
    );
    if (whole.code !== 0) throw new Error(whole.out);
    console.log(
      '(b) transfer of image b = base (2 MB) + 20 MB layer + 5 MB layer; a differs from b only in the 5 MB layer',
    );
    console.log(
      `    first push of a (droplet had the base):       ${first.bytesSent} bytes sent (${first.layersSent} layers)`,
    );
    console.log(
      `    second push, b (gzip -1):                       ${second.bytesSent} bytes sent for a ${second.layerBytesSent}-byte layer: ${(second.bytesSent / second.layerBytesSent).toFixed(3)}x (goal <= 1.1x)`,
    );
    console.log(
      `    second push, b (no compression):                ${secondRaw.bytesSent} bytes: ${(secondRaw.bytesSent / secondRaw.layerBytesSent).toFixed(3)}x`,
    );
    console.log(
      `    whole docker save | ssh docker load of b:       ${whole.bytes} bytes: ${(whole.bytes / second.layerBytesSent).toFixed(2)}x the layer`,
    );
    spawnSync(DOCKER, ['rmi', `${name}:a`, `${name}:b`], { stdio: 'ignore' });
  } finally {
    app.cleanup();
    await lab.destroyAll();
    rmSync(dir, { recursive: true, force: true });
  }
}

await main();
