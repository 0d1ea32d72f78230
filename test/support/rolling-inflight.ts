// The in-flight harness of the rolling-update e2e files (rolling-update-inflight*.e2e.test.ts):
// a roll-out run while slow requests (/cgi-bin/slow?4 answers after 4 s, twice a second) and a
// fast load (20 req/s) go through the droplet's nginx, so several slow requests are in flight
// on every old container when it is taken out.
import { expect } from 'vitest';

import { type LoadStats, startLoad } from '../../bench/rolling-update-load.js';
import type { FixtureDroplet } from '../lab/fixture.js';
import { type ContainerRow, rollingUpdate } from './rolling-update-lab.js';
import type { ActionRunResult } from './run-action.js';

/** Names of the app's `web` containers. */
export function webNames(rows: readonly ContainerRow[]): string[] {
  return rows.filter((c) => c.service === 'web').map((c) => c.name);
}

/** Rolls the service web with `inputs` under the slow and fast loads; logs and returns both counts. */
export async function rollUnderLoad(
  droplet: FixtureDroplet,
  inputs: Record<string, string>,
  label: string,
): Promise<{ r: ActionRunResult; slowStats: LoadStats; fastStats: LoadStats }> {
  const slow = startLoad({
    url: `http://${droplet.publicIpv4}/cgi-bin/slow?4`,
    ratePerSecond: 2,
    timeoutMs: 20_000,
    slowMs: 12_000,
    maxRequests: 400,
    maxDurationMs: 120_000,
  });
  const fast = startLoad({
    url: `http://${droplet.publicIpv4}/v.txt`,
    ratePerSecond: 20,
    timeoutMs: 20_000,
    slowMs: 1000,
    maxRequests: 4000,
    maxDurationMs: 120_000,
  });
  // the slow requests fill every container before the roll-out starts
  await new Promise((res) => setTimeout(res, 2000));
  const r = await rollingUpdate({ ...inputs, services: 'web' });
  await new Promise((res) => setTimeout(res, 1000));
  const [slowStats, fastStats] = await Promise.all([slow.stop(), fast.stop()]);
  const brief = (s: LoadStats) => ({
    total: s.total,
    failed: s.failed,
    failures: s.failures,
    bodies: s.bodies,
    maxLatencyMs: s.maxLatencyMs,
  });
  console.info(`${label}: slow ${JSON.stringify(brief(slowStats))}; fast ${JSON.stringify(brief(fastStats))}`);
  return { r, slowStats, fastStats };
}

/**
 * The roll-out succeeded and no request was lost: none of either load failed (a request cut
 * without a reset hangs past the clients' 20 s timeout), and slow requests were answered with
 * each of `bodies` (e.g. `slow r1` by an old container during the switch, `slow r2` by a new one).
 */
export function expectNoneLost(
  run: { r: ActionRunResult; slowStats: LoadStats; fastStats: LoadStats },
  bodies: readonly string[],
): void {
  const { r, slowStats, fastStats } = run;
  expect(r.exitCode, r.log).toBe(0);
  expect(slowStats.failed, JSON.stringify(slowStats)).toBe(0);
  expect(fastStats.failed, JSON.stringify(fastStats)).toBe(0);
  for (const body of bodies) expect(slowStats.bodies[body], JSON.stringify(slowStats)).toBeGreaterThan(0);
}
