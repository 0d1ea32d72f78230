import { ActionFailedError, ActionTimeoutError } from './errors.js';
import type { Action } from './types.js';

export interface WaitForActionOptions {
  timeoutMs: number;
  /** First poll interval; grows by half each poll up to maxIntervalMs. Default 2 s → 10 s. */
  intervalMs?: number;
  maxIntervalMs?: number;
  /** How the resource is named in errors, e.g. "droplet web-1". */
  label?: string;
  /** Called after every poll that is not final. */
  onProgress?: (action: Action, waitedMs: number) => void;
  sleep: (ms: number) => Promise<void>;
  now: () => number;
}

/**
 * Polls GET /actions/{id} until the action is `completed`. `errored` throws
 * ActionFailedError; still in progress at the deadline throws ActionTimeoutError.
 */
export async function waitForAction(
  getAction: (id: number) => Promise<Action>,
  id: number,
  options: WaitForActionOptions,
): Promise<Action> {
  const started = options.now();
  const maxInterval = options.maxIntervalMs ?? 10_000;
  let interval = options.intervalMs ?? 2000;
  for (;;) {
    const action = await getAction(id);
    const label = options.label ?? `${action.resource_type ?? 'resource'} ${action.resource_id ?? '?'}`;
    if (action.status === 'completed') return action;
    if (action.status === 'errored') throw new ActionFailedError(id, action.type, label);
    const waited = options.now() - started;
    if (waited >= options.timeoutMs) throw new ActionTimeoutError(id, action.type, label, action.status, waited);
    options.onProgress?.(action, waited);
    await options.sleep(Math.min(interval, Math.max(1, options.timeoutMs - waited)));
    interval = Math.min(maxInterval, Math.round(interval * 1.5));
  }
}
