// Retry with exponential backoff and full jitter, bounded in attempts and total time.
// Clock, sleep and randomness are injectable so tests never wait for real.

export interface RetryContext {
  attempt: number;
  error: unknown;
  delayMs: number;
}

export interface RetryOptions {
  /** Total attempts including the first (>= 1). */
  attempts: number;
  baseDelayMs?: number;
  maxDelayMs?: number;
  factor?: number;
  /** Give up when the next wait would end after this many ms since the first attempt. */
  maxElapsedMs?: number;
  /** Whether this error is worth another attempt (default: always). */
  retryable?: (error: unknown) => boolean;
  /** A delay the other side asked for (Retry-After), used instead of backoff when given. */
  requestedDelayMs?: (error: unknown) => number | undefined;
  onRetry?: (context: RetryContext) => void;
  sleep?: (ms: number) => Promise<void>;
  now?: () => number;
  random?: () => number;
}

export const realSleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

export function backoffDelay(
  attempt: number,
  options: Pick<RetryOptions, 'baseDelayMs' | 'maxDelayMs' | 'factor'>,
  random: () => number,
): number {
  const base = options.baseDelayMs ?? 500;
  const cap = options.maxDelayMs ?? 30_000;
  const ceiling = Math.min(cap, base * (options.factor ?? 2) ** (attempt - 1));
  // full jitter, but never less than half the ceiling so progress is steady
  return Math.round(ceiling / 2 + random() * (ceiling / 2));
}

export async function retry<T>(fn: (attempt: number) => Promise<T>, options: RetryOptions): Promise<T> {
  if (!Number.isInteger(options.attempts) || options.attempts < 1) throw new Error('retry: attempts must be >= 1');
  const sleep = options.sleep ?? realSleep;
  const now = options.now ?? Date.now;
  const random = options.random ?? Math.random;
  const started = now();
  for (let attempt = 1; ; attempt += 1) {
    try {
      return await fn(attempt);
    } catch (error) {
      if (attempt >= options.attempts) throw error;
      if (options.retryable && !options.retryable(error)) throw error;
      const requested = options.requestedDelayMs?.(error);
      const delayMs = requested !== undefined ? Math.max(0, requested) : backoffDelay(attempt, options, random);
      if (options.maxElapsedMs !== undefined && now() - started + delayMs > options.maxElapsedMs) throw error;
      options.onRetry?.({ attempt, error, delayMs });
      await sleep(delayMs);
    }
  }
}
