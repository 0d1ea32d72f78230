// rolling-update WITHOUT proxy-service: nginx finds web through Docker's DNS at request time
// (`resolver 127.0.0.11 valid=1s` + `set $up`), and nothing is reloaded. A request an OLD web
// container is answering when the switch happens must complete, never be cut without a reset
// (a container taken off a network loses its address at once: the request then hangs nginx
// for its 60 s read timeout, far past the clients' 20 s). Slow requests (/cgi-bin/slow?4) are
// started twice a second through the whole roll-out, a fast load runs beside them.
//  - the fixture's default network has an automatic subnet: Docker could not give an old
//    container its address back, so it must stay attached (and in DNS) until it is stopped
//    gracefully — it then refuses new connections (nginx re-sends them) and finishes the rest;
//    An app that exits at once on its stop signal (WEB_DRAIN=0) closes what it held: nginx
//    re-sends those requests (none hangs, none fails);
//  - with compose.subnet.yaml the network has a configured subnet: the old containers leave
//    DNS and rejoin at their address, and their requests in flight still complete.
import { randomBytes } from 'node:crypto';

import { beforeAll, describe, expect, it } from 'vitest';

import { type FixtureDroplet, useLab } from '../lab/fixture.js';
import { expectNoneLost, rollUnderLoad, webNames } from '../support/rolling-inflight.js';
import { buildRollingUpdate, containers, getText, rollingUpdate, ruInputs } from '../support/rolling-update-lab.js';

const lab = useLab();
const app = `rd${randomBytes(2).toString('hex')}`;
const appSubnet = `rs${randomBytes(2).toString('hex')}`;
let d: FixtureDroplet;
let d2: FixtureDroplet;

beforeAll(async () => {
  buildRollingUpdate();
  [d, d2] = await Promise.all([lab.createDroplet({ variant: 'trixie' }), lab.createDroplet({ variant: 'trixie' })]);
}, 300_000);

describe('rolling-update without proxy-service, network with an automatic subnet', () => {
  it('r1 from nothing serves the slow endpoint', async () => {
    const r = await rollingUpdate(ruInputs(lab, [d], app, 'r1'));
    expect(r.exitCode, r.log).toBe(0);
    expect(await getText(`http://${d.publicIpv4}/cgi-bin/slow?1`)).toEqual({ status: 200, body: 'slow r1' });
    // Docker reports the subnet it picked by itself like a configured one: the Compose file decides
    const ipam = await lab.exec(d, `docker network inspect ${app}_default --format '{{json .IPAM.Config}}'`);
    console.info(`${app}_default IPAM.Config as Docker reports it: ${ipam.stdout.trim()}`);
  });

  it('r2 with slow requests in flight: the old containers stay attached until stopped gracefully; none fails, none hangs', async () => {
    const before = webNames(await containers(lab, d, app));
    const run = await rollUnderLoad(d, ruInputs(lab, [d], app, 'r2'), 'in-flight (no proxy-service) e2e r2');
    // slow requests were answered by both releases: some by old containers during the switch
    expectNoneLost(run, ['slow r1', 'slow r2']);
    const { r } = run;
    expect(r.log).toContain(
      `web: ${app}_default: the 2 old container(s) stay attached and in DNS until they are stopped gracefully (no configured subnet`,
    );
    expect(r.log).not.toContain('network disconnect');
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

  it('r4 while the old r3 containers just exit where they stand: the requests they held are closed (not hung) and nginx re-sends them; none fails', async () => {
    const run = await rollUnderLoad(
      d,
      ruInputs(lab, [d], app, 'r4', 'WEB_DRAIN=0'),
      'in-flight (no proxy-service) e2e r4',
    );
    expectNoneLost(run, ['slow r4']);
    const { r, slowStats } = run;
    // at least one slow request was cut on an old container and answered again by a new one
    expect(slowStats.maxLatencyMs, JSON.stringify(slowStats)).toBeGreaterThan(4300);
    expect(r.log).not.toContain('network disconnect');
    expect(await getText(`http://${d.publicIpv4}/v.txt`)).toEqual({ status: 200, body: 'r4' });
  });
});

describe('rolling-update without proxy-service, network with a configured subnet (compose.subnet.yaml)', () => {
  const inputs = (release: string) => ({
    ...ruInputs(lab, [d2], appSubnet, release),
    'compose-files': 'compose.yaml, compose.subnet.yaml',
  });

  it('r1 from nothing on 10.213.7.0/24', async () => {
    const r = await rollingUpdate(inputs('r1'));
    expect(r.exitCode, r.log).toBe(0);
    expect(await getText(`http://${d2.publicIpv4}/v.txt`)).toEqual({ status: 200, body: 'r1' });
  });

  it('r2 with slow requests in flight: the old containers leave DNS at their address; none fails, none hangs', async () => {
    const run = await rollUnderLoad(d2, inputs('r2'), 'in-flight (no proxy-service, configured subnet) e2e r2');
    // slow requests were answered by both releases: some by old containers during the switch
    expectNoneLost(run, ['slow r1', 'slow r2']);
    const { r } = run;
    expect(r.log).toContain(
      `web: ${appSubnet}_default: 2 old container(s) left DNS and rejoined at their address (configured subnet 10.213.7.0/24)`,
    );
    expect(r.log).not.toContain('could not rejoin');
    expect(await getText(`http://${d2.publicIpv4}/v.txt`)).toEqual({ status: 200, body: 'r2' });
  });
});
