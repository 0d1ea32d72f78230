import type { CheckKind, PollSettings } from './definitions.js';
import type { Check } from './poll.js';

/** A check ready to poll: one definition bound to where it runs (the runner, or one droplet). */
export interface HealthCheck {
  /** Unique in a gate; per-droplet copies get ` @ <host>` appended. */
  name: string;
  kind: CheckKind;
  /** What it probes, for reports (URL without password, host:port, app@host). */
  target: string;
  poll: PollSettings;
  attempt: Check;
  /** Extra information after a failure (container health log, log tail). */
  diagnose?: () => Promise<string | undefined>;
}

/** Content-Type for a body the user did not label: JSON when it parses as JSON. */
export function defaultContentType(body: string): string {
  try {
    JSON.parse(body);
    return 'application/json';
  } catch {
    return 'text/plain; charset=utf-8';
  }
}

export function hasHeader(headers: Record<string, string>, name: string): boolean {
  const lower = name.toLowerCase();
  return Object.keys(headers).some((h) => h.toLowerCase() === lower);
}

/** Days from `now` until a certificate's notAfter (negative when already expired). */
export function daysUntil(notAfter: string, now: number): number | undefined {
  const t = Date.parse(notAfter);
  if (Number.isNaN(t)) return undefined;
  return (t - now) / 86_400_000;
}

/** The least time an attempt gets, even when it starts right at the deadline. */
export const MIN_ATTEMPT_MS = 500;

/**
 * Time one attempt may take: its own timeout, capped by what is left before the deadline
 * (but at least MIN_ATTEMPT_MS), so a gate never runs much past its `timeout`.
 */
export function attemptBudget(attemptTimeoutMs: number, remainingMs: number): number {
  return Math.max(1, Math.min(attemptTimeoutMs, Math.max(remainingMs, MIN_ATTEMPT_MS)));
}
