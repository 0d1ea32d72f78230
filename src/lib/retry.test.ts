import { describe, expect, it } from 'vitest';

import { backoffDelay, retry } from './retry.js';
import { fakeClock } from '../../test/support/fake-clock.js';

describe('retry', () => {
  it('retries until success with growing delays', async () => {
    const clock = fakeClock();
    let calls = 0;
    const result = await retry(
      async () => {
        calls += 1;
        if (calls < 4) throw new Error(`fail ${calls}`);
        return 'ok';
      },
      { attempts: 5, baseDelayMs: 100, random: () => 1, ...clock },
    );
    expect(result).toBe('ok');
    expect(calls).toBe(4);
    expect(clock.sleeps).toEqual([100, 200, 400]);
  });

  it('gives up after the last attempt with the last error', async () => {
    const clock = fakeClock();
    let calls = 0;
    await expect(
      retry(
        async () => {
          calls += 1;
          throw new Error(`fail ${calls}`);
        },
        { attempts: 3, baseDelayMs: 10, ...clock },
      ),
    ).rejects.toThrow('fail 3');
    expect(calls).toBe(3);
  });

  it('stops at once on a non-retryable error', async () => {
    const clock = fakeClock();
    await expect(
      retry(
        async () => {
          throw new Error('401');
        },
        { attempts: 5, retryable: () => false, ...clock },
      ),
    ).rejects.toThrow('401');
    expect(clock.sleeps).toEqual([]);
  });

  it('uses the delay the server asked for', async () => {
    const clock = fakeClock();
    let calls = 0;
    await retry(
      async () => {
        calls += 1;
        if (calls === 1) throw Object.assign(new Error('429'), { retryAfterMs: 3000 });
      },
      { attempts: 2, requestedDelayMs: (e) => (e as { retryAfterMs?: number }).retryAfterMs, ...clock },
    );
    expect(clock.sleeps).toEqual([3000]);
  });

  it('respects the total time budget', async () => {
    const clock = fakeClock();
    let calls = 0;
    await expect(
      retry(
        async () => {
          calls += 1;
          throw new Error('busy');
        },
        { attempts: 100, baseDelayMs: 1000, maxDelayMs: 1000, random: () => 1, maxElapsedMs: 3500, ...clock },
      ),
    ).rejects.toThrow('busy');
    expect(calls).toBe(4);
  });

  it('backoff is capped and jittered within [ceiling/2, ceiling]', () => {
    expect(backoffDelay(10, { baseDelayMs: 100, maxDelayMs: 1000 }, () => 0)).toBe(500);
    expect(backoffDelay(10, { baseDelayMs: 100, maxDelayMs: 1000 }, () => 1)).toBe(1000);
    expect(backoffDelay(1, { baseDelayMs: 100 }, () => 0.5)).toBe(75);
  });
});
