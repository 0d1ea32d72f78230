// rolling-update benchmarks on the lab (start it first: `npm run lab -- up`). Prints figures,
// asserts nothing. Every request goes to a loopback address (the droplet's published :80).
//
//   node --import tsx bench/rolling-update.ts one     zero downtime on one droplet: nginx → 2 × web + worker,
//                                                    60 req/s through nginx during 3 rolling updates, then the
//                                                    same load during 3 naive `docker compose up -d` of the same change
//   node --import tsx bench/rolling-update.ts scale   6 droplets, batch 2 ÷ (3 × one droplet)
import { randomBytes } from 'node:crypto';

import {
  buildRollingUpdate,
  containers,
  getText,
  rollingUpdate,
  ruInputs,
} from '../test/support/rolling-update-lab.js';
import type { FixtureDroplet } from '../test/lab/fixture.js';
import { benchLab } from './rolling-update-lab.js';
import { formatStats, type LoadStats, startLoad } from './rolling-update-load.js';

const RATE = 60;
const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

function load(d: FixtureDroplet) {
  return startLoad({
    url: `http://${d.publicIpv4}/v.txt`,
    ratePerSecond: RATE,
    timeoutMs: 2000,
    slowMs: 250,
    maxRequests: 20_000,
    maxDurationMs: 180_000,
  });
}

/** A control: the same droplet's nginx answering by itself, untouched by any rollout. */
function control(d: FixtureDroplet) {
  return startLoad({
    url: `http://${d.publicIpv4}/static`,
    ratePerSecond: 20,
    timeoutMs: 2000,
    slowMs: 250,
    maxRequests: 10_000,
    maxDurationMs: 180_000,
  });
}

function sum(list: LoadStats[]): { total: number; failed: number; slow: number; max: number } {
  return {
    total: list.reduce((a, s) => a + s.total, 0),
    failed: list.reduce((a, s) => a + s.failed, 0),
    slow: list.reduce((a, s) => a + s.slow, 0),
    max: Math.max(...list.map((s) => s.maxLatencyMs)),
  };
}

async function one(): Promise<void> {
  const lab = benchLab();
  const app = `rb${randomBytes(2).toString('hex')}`;
  try {
    buildRollingUpdate();
    const d = await lab.createDroplet({ variant: 'trixie' });
    const first = await rollingUpdate(ruInputs(lab, [d], app, 'r1'));
    if (first.exitCode !== 0) throw new Error(`first release failed:\n${first.log.slice(-3000)}`);
    console.log(`droplet ${d.publicIpv4}: r1 up (${first.outputs['duration-seconds']}s)`);

    const rolling: LoadStats[] = [];
    const controls: { rolling: LoadStats[]; naive: LoadStats[] } = { rolling: [], naive: [] };
    for (let i = 2; i <= 4; i += 1) {
      const l = load(d);
      const c = control(d);
      await sleep(1000);
      const r = await rollingUpdate({
        ...ruInputs(lab, [d], app, `r${i}`),
        services: 'web, worker',
        'proxy-service': 'nginx',
        'proxy-reload': 'nginx -s reload',
      });
      await sleep(1000);
      const s = await l.stop();
      controls.rolling.push(await c.stop());
      if (r.exitCode !== 0) throw new Error(`rolling update r${i} failed:\n${r.log.slice(-3000)}`);
      rolling.push(s);
      console.log(
        `${formatStats(`rolling-update r${i - 1}→r${i} (${r.outputs['duration-seconds']}s)`, s)} answered by ${JSON.stringify(s.bodies)}`,
      );
    }

    // the same change, the naive way: `docker compose up -d` in the serving release
    const naive: LoadStats[] = [];
    for (let i = 1; i <= 3; i += 1) {
      const l = load(d);
      const c = control(d);
      await sleep(1000);
      const t0 = Date.now();
      const up = await lab.exec(
        d,
        `cd /opt/${app}/current && RELEASE=n${i} docker compose --project-name ${app} --file compose.yaml --file release.pinned.yml --env-file .env up -d web worker 2>&1`,
      );
      if (up.code !== 0) throw new Error(`naive up failed: ${up.stdout}`);
      for (let k = 0; k < 120; k += 1) {
        const web = (await containers(lab, d, app)).filter((c) => c.service === 'web');
        if (web.length === 2 && web.every((c) => c.status.includes('(healthy)'))) break;
        await sleep(250);
      }
      const took = (Date.now() - t0) / 1000;
      await sleep(1000);
      const s = await l.stop();
      controls.naive.push(await c.stop());
      naive.push(s);
      console.log(
        `${formatStats(`naive compose up -d →n${i} (${took.toFixed(1)}s)`, s)} answered by ${JSON.stringify(s.bodies)}`,
      );
    }
    console.log(`final: ${JSON.stringify(await getText(`http://${d.publicIpv4}/v.txt`))}`);
    const a = sum(rolling);
    const b = sum(naive);
    console.log('\nzero downtime on one droplet (nginx → 2 × web + worker, 60 req/s, 2 s timeout, slow = > 250 ms):');
    console.log(`  rolling-update ×3:        total=${a.total} failed=${a.failed} slow=${a.slow} max=${a.max}ms`);
    console.log(`  naive compose up -d ×3:   total=${b.total} failed=${b.failed} slow=${b.slow} max=${b.max}ms`);
    const ca = sum(controls.rolling);
    const cb = sum(controls.naive);
    console.log(
      `  control (nginx alone, 20 req/s) during rolling: total=${ca.total} failed=${ca.failed} slow=${ca.slow} max=${ca.max}ms; during naive: total=${cb.total} failed=${cb.failed} slow=${cb.slow} max=${cb.max}ms`,
    );
    for (const [k, s] of rolling.entries())
      console.log(
        `  rolling update ${k + 1} incidents (ms since load start, latency, outcome): ${JSON.stringify(s.incidents.slice(0, 30))}`,
      );
  } finally {
    await lab.destroyAll();
  }
}

async function scale(): Promise<void> {
  const lab = benchLab();
  const app = `rs${randomBytes(2).toString('hex')}`;
  try {
    buildRollingUpdate();
    const fleet = await Promise.all(Array.from({ length: 6 }, () => lab.createDroplet({ variant: 'trixie' })));
    const all = await rollingUpdate({ ...ruInputs(lab, fleet, app, 'r1'), 'batch-size': '6' });
    if (all.exitCode !== 0) throw new Error(`r1 failed:\n${all.log.slice(-3000)}`);
    const inputs = (release: string, ds: FixtureDroplet[], batch: string) => ({
      ...ruInputs(lab, ds, app, release),
      services: 'web, worker',
      'batch-size': batch,
    });
    const times: { one: number[]; six: number[] } = { one: [], six: [] };
    for (let round = 2; round <= 3; round += 1) {
      let t0 = Date.now();
      const r1 = await rollingUpdate(inputs(`r${round}a`, [fleet[0] as FixtureDroplet], '1'));
      times.one.push((Date.now() - t0) / 1000);
      if (r1.exitCode !== 0) throw new Error(r1.log.slice(-3000));
      t0 = Date.now();
      const r6 = await rollingUpdate(inputs(`r${round}b`, fleet, '2'));
      times.six.push((Date.now() - t0) / 1000);
      if (r6.exitCode !== 0) throw new Error(r6.log.slice(-3000));
      console.log(
        `round ${round}: one droplet ${times.one.at(-1)?.toFixed(1)}s, 6 droplets batch 2 ${times.six.at(-1)?.toFixed(1)}s (${r6.outputs['updated-count']} updated)`,
      );
    }
    const med = (xs: number[]) => [...xs].sort((x, y) => x - y)[Math.floor(xs.length / 2)] as number;
    const ratio = med(times.six) / (3 * med(times.one));
    console.log(
      `\nscaling: 6 droplets batch 2 = ${med(times.six).toFixed(1)}s; one droplet = ${med(times.one).toFixed(1)}s; ratio 6/(3×1) = ${ratio.toFixed(2)} (goal ≤ 1.1)`,
    );
  } finally {
    await lab.destroyAll();
  }
}

const which = process.argv[2] ?? 'one';
if (which === 'one') await one();
else if (which === 'scale') await scale();
else throw new Error(`unknown bench ${which}: one | scale`);
