import { describe, expect, it } from 'vitest';

import { FakeHost } from '../../../test/support/fake-host.js';
import { parseInspect, type ServiceState } from './state.js';
import { waitForServices } from './wait.js';
import { fakeClock } from '../../../test/support/fake-clock.js';

// waitForServices on a fake droplet: the states the up script read are judged first (no
// round trip when they are fine), a terminal state ends the wait at once, a finished
// one-shot job counts as up, and a missing service is waited for until the deadline.

interface Spec {
  service: string;
  status?: string;
  health?: string;
  exitCode?: number;
  healthOutput?: string;
}

function inspectJson(specs: readonly Spec[]): string {
  return JSON.stringify(
    specs.map((s) => ({
      Id: `id-${s.service}`,
      Name: `/shop-${s.service}-1`,
      State: {
        Status: s.status ?? 'running',
        ExitCode: s.exitCode ?? 0,
        ...(s.health
          ? { Health: { Status: s.health, Log: [{ ExitCode: 1, Output: s.healthOutput ?? '', End: 't1' }] } }
          : {}),
      },
      Config: {
        Image: `${s.service}:1`,
        Labels: { 'com.docker.compose.project': 'shop', 'com.docker.compose.service': s.service },
      },
    })),
  );
}

const states = (specs: readonly Spec[]): ServiceState[] => parseInspect(inspectJson(specs));

/** A droplet answering each read of the project's containers with the next of `reads` (the last one repeats). */
function droplet(reads: readonly Spec[][], logs = 'last line\n'): FakeHost {
  let i = 0;
  return new FakeHost()
    .on(/^docker ps -aq/, () => ({ stdout: inspectJson(reads[Math.min(i++, reads.length - 1)] ?? []) }))
    .on(/^docker logs/, { stdout: logs });
}

describe('waitForServices', () => {
  it('judges the states read after up first: all healthy means no round trip at all', async () => {
    const host = droplet([]);
    const result = await waitForServices(host, {
      app: 'shop',
      services: ['web', 'db'],
      deadlineMs: 10_000,
      firstStates: states([{ service: 'web', health: 'healthy' }, { service: 'db' }]),
      ...fakeClock(),
    });
    expect(result.ok).toBe(true);
    expect(result.states.map((s) => s.service)).toEqual(['db', 'web']);
    expect(host.commands()).toEqual([]);
  });

  it('reads the droplet again while a healthcheck is still starting', async () => {
    const host = droplet([[{ service: 'web', health: 'healthy' }]]);
    const result = await waitForServices(host, {
      app: 'shop',
      services: ['web'],
      deadlineMs: 10_000,
      firstStates: states([{ service: 'web', health: 'starting' }]),
      ...fakeClock(),
    });
    expect(result.ok).toBe(true);
    expect(host.commands().filter((c) => c.startsWith('docker ps'))).toHaveLength(1);
  });

  it('an unhealthy service ends the wait at once, named, with its health log and log tail', async () => {
    const host = droplet([], 'boom\n');
    const result = await waitForServices(host, {
      app: 'shop',
      services: ['web', 'db'],
      deadlineMs: 60_000,
      firstStates: states([
        { service: 'web', health: 'unhealthy', healthOutput: 'HTTP 500' },
        { service: 'db', health: 'healthy' },
      ]),
      ...fakeClock(),
    });
    expect(result.ok).toBe(false);
    expect(result.problem).toBe('service web is unhealthy');
    expect(result.diagnostics).toContain('exit 1 at t1: HTTP 500');
    expect(result.diagnostics).toContain('    boom');
    // no further reading of the state: only the log tail was asked for
    expect(host.commands().map((c) => c.split(' ').slice(0, 2).join(' '))).toEqual(['docker logs']);
  });

  it('a service that exited non-zero ends the wait; a one-shot job that exited 0 counts as up', async () => {
    const failed = await waitForServices(droplet([]), {
      app: 'shop',
      services: ['web'],
      deadlineMs: 60_000,
      firstStates: states([{ service: 'web', status: 'exited', exitCode: 3 }]),
      ...fakeClock(),
    });
    expect(failed).toMatchObject({ ok: false, problem: 'service web is exited (exit 3)' });

    const job = await waitForServices(droplet([]), {
      app: 'shop',
      services: ['web', 'migrate'],
      deadlineMs: 60_000,
      firstStates: states([
        { service: 'web', health: 'healthy' },
        { service: 'migrate', status: 'exited', exitCode: 0 },
      ]),
      ...fakeClock(),
    });
    expect(job.ok).toBe(true);
  });

  it('a missing service is waited for until the deadline, then reported', async () => {
    const host = droplet([[{ service: 'web', health: 'healthy' }]]);
    const c = fakeClock();
    const result = await waitForServices(host, {
      app: 'shop',
      services: ['web', 'worker'],
      deadlineMs: 3000,
      intervalMs: 1000,
      ...c,
    });
    expect(result.ok).toBe(false);
    expect(result.problem).toBe('not every service was up within 3s: worker: no container');
    expect(host.commands().filter((c2) => c2.startsWith('docker ps')).length).toBeGreaterThanOrEqual(3);
    expect(c.now()).toBeGreaterThanOrEqual(3000);
  });
});
