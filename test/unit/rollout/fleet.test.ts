import { describe, expect, it } from 'vitest';

import type { Logger } from '../../../src/lib/action/logger.js';
import { rollFleet, type FleetDeps, type FleetMember } from '../../../src/lib/rollout/fleet.js';

const quiet: Logger = { info: () => {}, warn: () => {}, error: () => {}, debug: () => {}, group: (_n, fn) => fn() };

function fleet(n: number): FleetMember[] {
  return Array.from({ length: n }, (_, i) => ({ id: 100 + i, name: `web-${i + 1}` }));
}

/** Records every step in order; `failOn` names droplets whose update throws. */
function harness(opts: { failOn?: string[]; lbUnhealthy?: number[]; withLb?: boolean } = {}) {
  const events: string[] = [];
  const serving = new Map<string, string>();
  const deps: FleetDeps<FleetMember> = {
    async update(m) {
      events.push(`update ${m.name}`);
      if (opts.failOn?.includes(m.name)) throw new Error('service "web" failed: unhealthy');
      serving.set(m.name, 'v2');
      return { before: 'v1', after: 'v2' };
    },
    async revert(m) {
      events.push(`revert ${m.name}`);
      serving.set(m.name, 'v1');
      return { before: 'v2', after: 'v1' };
    },
    lbDrainMs: 5000,
    sleep: async (ms) => {
      events.push(`sleep ${ms}`);
    },
    logger: quiet,
  };
  if (opts.withLb !== false) {
    deps.lb = {
      remove: async (ids) => void events.push(`lb remove ${ids.join(',')}`),
      add: async (ids) => void events.push(`lb add ${ids.join(',')}`),
      waitHealthy: async (ids) => {
        events.push(`lb wait ${ids.join(',')}`);
        if (ids.some((id) => opts.lbUnhealthy?.includes(id)))
          throw new Error(`droplet ${ids[0]} never became healthy in the load balancer`);
      },
    };
  }
  return { deps, events, serving };
}

describe('rollFleet', () => {
  it('4 droplets, batch 2: out of the LB, drain, update in parallel, back in, wait healthy', async () => {
    const h = harness();
    const out = await rollFleet(fleet(4), { kind: 'count', count: 2 }, true, h.deps);
    expect(out.ok).toBe(true);
    expect(out.updatedCount).toBe(4);
    expect(h.events).toEqual([
      'lb remove 100,101',
      'sleep 5000',
      'update web-1',
      'update web-2',
      'lb add 100,101',
      'lb wait 100,101',
      'lb remove 102,103',
      'sleep 5000',
      'update web-3',
      'update web-4',
      'lb add 102,103',
      'lb wait 102,103',
    ]);
    expect(out.droplets.map((d) => [d.name, d.batch, d.result, d.before, d.after])).toEqual([
      ['web-1', 1, 'updated', 'v1', 'v2'],
      ['web-2', 1, 'updated', 'v1', 'v2'],
      ['web-3', 2, 'updated', 'v1', 'v2'],
      ['web-4', 2, 'updated', 'v1', 'v2'],
    ]);
  });

  it('a failing first batch stops there: its updated droplet reverts, nothing else is touched', async () => {
    const h = harness({ failOn: ['web-2'] });
    const out = await rollFleet(fleet(4), { kind: 'count', count: 2 }, true, h.deps);
    expect(out.ok).toBe(false);
    expect(out.error).toBe('batch 1/2: web-2: service "web" failed: unhealthy');
    expect(h.events).toEqual([
      'lb remove 100,101',
      'sleep 5000',
      'update web-1',
      'update web-2',
      'revert web-1',
      'lb add 100,101',
      'lb wait 100,101',
    ]);
    expect(out.droplets.map((d) => d.result)).toEqual(['reverted', 'failed', 'not-started', 'not-started']);
    expect(out.updatedCount).toBe(0);
    expect([...h.serving.values()].every((v) => v === 'v1')).toBe(true);
  });

  it('a failure in batch 3 returns batches 2 and 1 too (revert-on-failure), newest first', async () => {
    const h = harness({ failOn: ['web-5'], withLb: false });
    const out = await rollFleet(fleet(6), { kind: 'count', count: 2 }, true, h.deps);
    expect(out.ok).toBe(false);
    expect(h.events).toEqual([
      'update web-1',
      'update web-2',
      'update web-3',
      'update web-4',
      'update web-5',
      'update web-6',
      'revert web-6',
      'revert web-3',
      'revert web-4',
      'revert web-1',
      'revert web-2',
    ]);
    expect(out.droplets.map((d) => d.result)).toEqual([
      'reverted',
      'reverted',
      'reverted',
      'reverted',
      'failed',
      'reverted',
    ]);
    expect([...h.serving.values()].every((v) => v === 'v1')).toBe(true);
  });

  it('revert-on-failure false leaves earlier batches on the new release', async () => {
    const h = harness({ failOn: ['web-3'], withLb: false });
    const out = await rollFleet(fleet(4), { kind: 'percent', percent: 50 }, false, h.deps);
    expect(out.droplets.map((d) => d.result)).toEqual(['updated', 'updated', 'failed', 'reverted']);
    expect(out.updatedCount).toBe(2);
  });

  it('a batch the LB never calls healthy counts as failed and is reverted', async () => {
    const h = harness({ lbUnhealthy: [102] });
    const out = await rollFleet(fleet(4), { kind: 'count', count: 2 }, true, h.deps);
    expect(out.ok).toBe(false);
    expect(out.error).toBe('batch 2/2: droplet 102 never became healthy in the load balancer');
    expect(out.droplets.map((d) => d.result)).toEqual(['reverted', 'reverted', 'reverted', 'reverted']);
    expect(h.events.slice(-12)).toEqual([
      'lb add 102,103',
      'lb wait 102,103',
      'revert web-3',
      'revert web-4',
      'lb add 102,103',
      'lb wait 102,103',
      'lb remove 100,101',
      'sleep 5000',
      'revert web-1',
      'revert web-2',
      'lb add 100,101',
      'lb wait 100,101',
    ]);
  });
});
