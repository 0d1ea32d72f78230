import { describe, expect, it } from 'vitest';

import { type CheckOutcome, type AttemptRecord, p50, p95, percentile, pollUntil } from './poll.js';
import { fakeClock } from '../../../test/support/fake-clock.js';

/** A check that plays back a script of outcomes ('+' pass, '-' fail), each taking `latency` ms. */
function scripted(clock: ReturnType<typeof fakeClock>, script: string, latency = 10) {
  let i = 0;
  return () => {
    const c = script[Math.min(i, script.length - 1)];
    i += 1;
    clock.advance(latency);
    const outcome: CheckOutcome = { ok: c === '+', status: c === '+' ? '200' : '500', latencyMs: latency };
    return Promise.resolve(outcome);
  };
}

describe('pollUntil', () => {
  it.each([
    // script, successes, deadline, interval, passed, attempts
    { script: '+', successes: 1, passed: true, attempts: 1 },
    { script: '---+', successes: 1, passed: true, attempts: 4 },
    { script: '-+++', successes: 3, passed: true, attempts: 4 },
    { script: '+-+-+-+-+-+-+-+-+-+-+-', successes: 3, passed: false, attempts: 10 },
    { script: '++-++-+++', successes: 3, passed: true, attempts: 9 },
    { script: '-', successes: 1, passed: false, attempts: 11 },
  ])('$script with successes=$successes → passed=$passed after $attempts attempts', (row) => {
    const clock = fakeClock(1_000_000);
    return pollUntil(scripted(clock, row.script), {
      deadlineMs: 10_000,
      intervalMs: 1_000,
      successes: row.successes,
      now: clock.now,
      sleep: clock.sleep,
    }).then((result) => {
      expect(result.passed).toBe(row.passed);
      expect(result.attempts).toBe(row.attempts);
      expect(result.end).toBe(row.passed ? 'passed' : 'deadline');
    });
  });

  it('keeps attempt starts on the interval grid (sleep = interval - check time) and never passes the deadline', async () => {
    const clock = fakeClock(0);
    const starts: number[] = [];
    const result = await pollUntil(
      (ctx) => {
        starts.push(clock.now());
        expect(ctx.remainingMs).toBe(5_000 - clock.now());
        clock.advance(300);
        return Promise.resolve({ ok: false, status: 'ECONNREFUSED', latencyMs: 300 });
      },
      { deadlineMs: 5_000, intervalMs: 1_000, now: clock.now, sleep: clock.sleep },
    );
    expect(starts).toEqual([0, 1000, 2000, 3000, 4000, 5000]);
    expect(clock.sleeps).toEqual([700, 700, 700, 700, 700]);
    expect(result.passed).toBe(false);
    expect(result.elapsedMs).toBe(5_300);
    expect(result.last?.status).toBe('ECONNREFUSED');
  });

  it('stops early once the required streak can no longer fit before the deadline', async () => {
    const clock = fakeClock(0);
    const result = await pollUntil(scripted(clock, '-', 0), {
      deadlineMs: 10_000,
      intervalMs: 1_000,
      successes: 3,
      now: clock.now,
      sleep: clock.sleep,
    });
    // attempts at 0..8s; after the failure at 8s, passes at 9s, 10s, 11s would overrun 10s.
    expect(result.attempts).toBe(9);
    expect(clock.now()).toBe(8_000);
  });

  it('waits the start delay first, and it counts against the deadline', async () => {
    const clock = fakeClock(0);
    const seen: number[] = [];
    const result = await pollUntil(
      () => {
        seen.push(clock.now());
        return Promise.resolve({ ok: true, status: '200', latencyMs: 5 });
      },
      { deadlineMs: 10_000, intervalMs: 1_000, startDelayMs: 4_000, now: clock.now, sleep: clock.sleep },
    );
    expect(seen).toEqual([4_000]);
    expect(result.passed).toBe(true);

    const late = await pollUntil(() => Promise.reject(new Error('must not run')), {
      deadlineMs: 1_000,
      intervalMs: 100,
      startDelayMs: 2_000,
      now: clock.now,
      sleep: clock.sleep,
    });
    expect(late).toMatchObject({ passed: false, attempts: 0, end: 'deadline' });
  });

  it('counts a throwing check as a failed attempt with status "error"', async () => {
    const clock = fakeClock(0);
    let n = 0;
    const result = await pollUntil(
      () => {
        n += 1;
        if (n < 3) return Promise.reject(new Error('socket hang up\nstack…'));
        return Promise.resolve({ ok: true, status: '204', latencyMs: 12 });
      },
      { deadlineMs: 10_000, intervalMs: 500, now: clock.now, sleep: clock.sleep },
    );
    expect(result).toMatchObject({ passed: true, attempts: 3, passes: 1, streak: 1 });
    expect(result.lastFailure).toEqual({ ok: false, status: 'error', latencyMs: 0, detail: 'socket hang up' });
  });

  it('reports every attempt to onAttempt with the running streak, and records latencies', async () => {
    const clock = fakeClock(0);
    const records: AttemptRecord[] = [];
    let i = 0;
    const latencies = [40, 10, 20, 30];
    const result = await pollUntil(
      () => {
        const latencyMs = latencies[i] as number;
        i += 1;
        clock.advance(latencyMs);
        return Promise.resolve({ ok: i !== 1, status: i !== 1 ? '200' : '503', latencyMs });
      },
      {
        deadlineMs: 60_000,
        intervalMs: 2_000,
        successes: 3,
        now: clock.now,
        sleep: clock.sleep,
        onAttempt: (r) => records.push(r),
      },
    );
    expect(records.map((r) => [r.attempt, r.status, r.streak, r.atMs])).toEqual([
      [1, '503', 0, 40],
      [2, '200', 1, 2010],
      [3, '200', 2, 4020],
      [4, '200', 3, 6030],
    ]);
    expect(result.latenciesMs).toEqual([40, 10, 20, 30]);
    expect(result.passLatenciesMs).toEqual([10, 20, 30]);
    expect(result.passes).toBe(3);
  });

  it('stops before the next attempt when aborted', async () => {
    const clock = fakeClock(0);
    const controller = new AbortController();
    const result = await pollUntil(
      () => {
        controller.abort();
        return Promise.resolve({ ok: false, status: '500', latencyMs: 1 });
      },
      { deadlineMs: 10_000, intervalMs: 100, now: clock.now, sleep: clock.sleep, signal: controller.signal },
    );
    expect(result).toMatchObject({ passed: false, end: 'aborted', attempts: 1 });
  });

  it('rejects nonsense options', async () => {
    const check = () => Promise.resolve({ ok: true, status: 'x', latencyMs: 0 });
    await expect(pollUntil(check, { deadlineMs: 1, intervalMs: 1, successes: 0 })).rejects.toThrow(/successes/);
    await expect(pollUntil(check, { deadlineMs: 1, intervalMs: -1 })).rejects.toThrow(/intervalMs/);
    await expect(pollUntil(check, { deadlineMs: Number.NaN, intervalMs: 1 })).rejects.toThrow(/deadlineMs/);
  });
});

describe('percentiles (nearest rank)', () => {
  it.each([
    { values: [], p: 50, expected: undefined },
    { values: [7], p: 95, expected: 7 },
    { values: [3, 1, 2], p: 50, expected: 2 },
    { values: [1, 2, 3, 4], p: 50, expected: 2 },
    { values: [1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16, 17, 18, 19, 100], p: 95, expected: 19 },
    { values: [1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16, 17, 18, 19, 100], p: 100, expected: 100 },
    { values: [5, 1], p: 0, expected: 1 },
  ])('p$p of $values = $expected', ({ values, p, expected }) => {
    expect(percentile(values, p)).toBe(expected);
  });

  it('p50/p95 shorthands', () => {
    expect(p50([10, 30, 20])).toBe(20);
    expect(p95([10, 30, 20])).toBe(30);
    expect(() => percentile([1], 101)).toThrow(/0\.\.100/);
  });
});
