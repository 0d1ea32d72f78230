// The ONE poller: every health wait in every action (health-gate, deploy-compose waiting
// for services, rolling-update) goes through pollUntil. Clock and sleep are injected so
// unit tests run on a fake clock and never wait for real.

import { realSleep } from '../retry.js';

/** What one attempt of a check found. */
export interface CheckOutcome {
  ok: boolean;
  /** Short status for reports: "200", "healthy", "connected", "timeout", "ECONNREFUSED"… */
  status: string;
  /** How long the attempt took (request round trip, connect time…). */
  latencyMs: number;
  /** Why the attempt failed (or a note on success), one line, already redacted. */
  detail?: string;
  /** A short excerpt of what was received (HTTP body…), already redacted. */
  excerpt?: string;
}

export interface AttemptContext {
  /** 1-based attempt number. */
  attempt: number;
  /** Time left before the overall deadline; a check caps its own per-attempt timeout by it. */
  remainingMs: number;
}

export type Check = (context: AttemptContext) => Promise<CheckOutcome>;

export interface AttemptRecord extends CheckOutcome {
  attempt: number;
  /** Consecutive passes so far, including this attempt. */
  streak: number;
  /** ms since the poll started (after the start delay counts too). */
  atMs: number;
}

export interface PollOptions {
  /** Overall deadline, measured from the call (the start delay counts against it). */
  deadlineMs: number;
  /** Time between the starts of two attempts. */
  intervalMs: number;
  /** Consecutive passes required (default 1). */
  successes?: number;
  /** Wait this long before the first attempt (default 0). */
  startDelayMs?: number;
  now?: () => number;
  sleep?: (ms: number) => Promise<void>;
  onAttempt?: (record: AttemptRecord) => void;
  /** Stops polling before the next attempt (the in-flight attempt is left to its own timeout). */
  signal?: AbortSignal;
}

export type PollEnd = 'passed' | 'deadline' | 'aborted';

export interface PollResult {
  passed: boolean;
  end: PollEnd;
  attempts: number;
  /** Passing attempts, in total (not only the final streak). */
  passes: number;
  /** Consecutive passes at the end. */
  streak: number;
  /** Latency of each passing attempt, in order. */
  passLatenciesMs: number[];
  /** Latency of every attempt, in order. */
  latenciesMs: number[];
  /** The last attempt's outcome (undefined only when no attempt ran). */
  last?: CheckOutcome;
  /** The last failing attempt's outcome, if any attempt failed. */
  lastFailure?: CheckOutcome;
  elapsedMs: number;
}

function outcomeOfError(error: unknown): CheckOutcome {
  const message = error instanceof Error ? error.message : String(error);
  return { ok: false, status: 'error', latencyMs: 0, detail: message.split('\n')[0] ?? message };
}

/**
 * Runs `check` until it passes `successes` times in a row or the deadline comes.
 * A check that throws counts as a failed attempt (status "error"). Polling stops early
 * when the required streak can no longer fit before the deadline.
 */
export async function pollUntil(check: Check, options: PollOptions): Promise<PollResult> {
  const successes = options.successes ?? 1;
  if (!Number.isInteger(successes) || successes < 1) throw new Error('pollUntil: successes must be >= 1');
  if (!(options.intervalMs >= 0)) throw new Error('pollUntil: intervalMs must be >= 0');
  if (!(options.deadlineMs >= 0)) throw new Error('pollUntil: deadlineMs must be >= 0');
  const now = options.now ?? Date.now;
  const sleep = options.sleep ?? realSleep;
  const started = now();
  const deadline = started + options.deadlineMs;

  const result: PollResult = {
    passed: false,
    end: 'deadline',
    attempts: 0,
    passes: 0,
    streak: 0,
    passLatenciesMs: [],
    latenciesMs: [],
    elapsedMs: 0,
  };
  const finish = (end: PollEnd): PollResult => {
    result.end = end;
    result.passed = end === 'passed';
    result.elapsedMs = now() - started;
    return result;
  };

  const startDelay = Math.max(0, options.startDelayMs ?? 0);
  if (startDelay > 0) {
    if (started + startDelay > deadline) return finish('deadline');
    await sleep(startDelay);
  }

  for (;;) {
    if (options.signal?.aborted) return finish('aborted');
    const attemptStart = now();
    const attempt = result.attempts + 1;
    let outcome: CheckOutcome;
    try {
      outcome = await check({ attempt, remainingMs: Math.max(0, deadline - attemptStart) });
    } catch (error) {
      outcome = outcomeOfError(error);
    }
    result.attempts = attempt;
    result.last = outcome;
    result.latenciesMs.push(outcome.latencyMs);
    if (outcome.ok) {
      result.passes += 1;
      result.streak += 1;
      result.passLatenciesMs.push(outcome.latencyMs);
    } else {
      result.streak = 0;
      result.lastFailure = outcome;
    }
    options.onAttempt?.({ ...outcome, attempt, streak: result.streak, atMs: now() - started });
    if (result.streak >= successes) return finish('passed');

    const nextStart = Math.max(attemptStart + options.intervalMs, now());
    // The streak still needed must fit: its last attempt has to start before the deadline.
    const needed = successes - result.streak;
    const lastStart = nextStart + (needed - 1) * options.intervalMs;
    if (lastStart > deadline) return finish('deadline');
    const wait = nextStart - now();
    if (wait > 0) await sleep(wait);
  }
}

/** Nearest-rank percentile (p in 0..100) of a list of numbers; undefined for an empty list. */
export function percentile(values: readonly number[], p: number): number | undefined {
  if (values.length === 0) return undefined;
  if (!(p >= 0 && p <= 100)) throw new Error(`percentile: p must be within 0..100, got ${p}`);
  const sorted = [...values].sort((a, b) => a - b);
  const rank = Math.max(1, Math.ceil((p / 100) * sorted.length));
  return sorted[rank - 1];
}

export const p50 = (values: readonly number[]): number | undefined => percentile(values, 50);
export const p95 = (values: readonly number[]): number | undefined => percentile(values, 95);
