// rolling-update with proxy-service: a request an OLD web container is answering when the
// switch happens must complete (or at worst be reset so nginx re-sends it at once), never be
// cut without a reset. The fixture's nginx keeps nginx's default read timeout (60 s): a
// black-holed request would hang far past the clients' 20 s timeout, so one such request
// fails the test. Slow requests (/cgi-bin/slow?4 answers after 4 s) are started twice a
// second for the whole roll-out, so several are in flight on each old container when it is
// taken out; a fast load runs beside them. Twice: with a web that drains on SIGTERM (the
// requests finish on the old containers) and with one that just exits (they are closed at
// once, and nginx re-sends them).
import { randomBytes } from 'node:crypto';

import { beforeAll, describe, expect, it } from 'vitest';

import { type FixtureDroplet, useLab } from '../lab/fixture.js';
import { expectNoneLost, rollUnderLoad, webNames } from '../support/rolling-inflight.js';
import { buildRollingUpdate, containers, getText, rollingUpdate, ruInputs } from '../support/rolling-update-lab.js';

const lab = useLab();
const app = `ri${randomBytes(2).toString('hex')}`;
let d: FixtureDroplet;

/** The action's inputs for `release`, with nginx as proxy-service. */
function proxied(release: string, extraEnv = ''): Record<string, string> {
  return {
    ...ruInputs(lab, [d], app, release, extraEnv),
    'proxy-service': 'nginx',
    'proxy-reload': 'nginx -s reload',
  };
}

beforeAll(async () => {
  buildRollingUpdate();
  d = await lab.createDroplet({ variant: 'trixie' });
}, 300_000);

describe('rolling-update through nginx: requests in flight on the old containers', () => {
  it('r1 from nothing serves the slow endpoint', async () => {
    const r = await rollingUpdate(ruInputs(lab, [d], app, 'r1'));
    expect(r.exitCode, r.log).toBe(0);
    expect(await getText(`http://${d.publicIpv4}/cgi-bin/slow?1`)).toEqual({ status: 200, body: 'slow r1' });
  });

  it('r2 start-first with slow requests in flight (nginx default read timeout): none fails, none hangs', async () => {
    const before = webNames(await containers(lab, d, app));
    const run = await rollUnderLoad(d, proxied('r2'), 'in-flight e2e r2');
    // slow requests were answered by both releases: some by old containers during the switch
    expectNoneLost(run, ['slow r1', 'slow r2']);
    expect(await getText(`http://${d.publicIpv4}/v.txt`)).toEqual({ status: 200, body: 'r2' });
    const web = webNames(await containers(lab, d, app));
    expect(web).toHaveLength(2);
    expect(web.filter((n) => before.includes(n))).toEqual([]);
  });

  it('r3: a web that exits at once on SIGTERM (WEB_DRAIN=0)', async () => {
    const r = await rollingUpdate(ruInputs(lab, [d], app, 'r3', 'WEB_DRAIN=0'));
    expect(r.exitCode, r.log).toBe(0);
    expect(await getText(`http://${d.publicIpv4}/v.txt`)).toEqual({ status: 200, body: 'r3' });
  });

  it('r4 while the old r3 containers just exit: the requests they held are closed (not hung) and nginx re-sends them; none fails', async () => {
    const run = await rollUnderLoad(d, proxied('r4', 'WEB_DRAIN=0'), 'in-flight e2e r4');
    expectNoneLost(run, ['slow r4']);
    const { slowStats } = run;
    // at least one slow request was cut on an old container and answered again by a new one
    expect(slowStats.maxLatencyMs, JSON.stringify(slowStats)).toBeGreaterThan(4300);
    expect(await getText(`http://${d.publicIpv4}/v.txt`)).toEqual({ status: 200, body: 'r4' });
  });
});
