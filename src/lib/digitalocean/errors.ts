/**
 * A request DigitalOcean answered with an error (after retries, if it was retryable), or
 * one that never got an answer (status 0). Carries what a user needs to act on it or to
 * quote to DigitalOcean support: HTTP status, DigitalOcean's error id and message, and the
 * request id. Never the token: nothing from the request's headers is kept.
 */
export class DigitalOceanApiError extends Error {
  override readonly name = 'DigitalOceanApiError';
  constructor(
    readonly method: string,
    /** Path below the API base, e.g. /droplets/123 */
    readonly path: string,
    /** HTTP status; 0 when there was no response (network error, timeout). */
    readonly status: number,
    /** DigitalOcean's error id, e.g. "not_found", "too_many_requests". */
    readonly errorId: string | undefined,
    /** DigitalOcean's message (or the network error). */
    readonly apiMessage: string,
    readonly requestId: string | undefined,
    /** How many attempts were made before giving up. */
    readonly attempts: number,
  ) {
    const what = status ? `HTTP ${status}${errorId ? ` ${errorId}` : ''}` : 'no response';
    const tries = attempts > 1 ? ` after ${attempts} attempts` : '';
    const rid = requestId ? ` (request_id ${requestId})` : '';
    super(`DigitalOcean API ${method} ${path} failed${tries}: ${what}: ${apiMessage}${rid}${hint(status)}`);
  }

  get isNotFound(): boolean {
    return this.status === 404;
  }
}

function hint(status: number): string {
  if (status === 401) return '. Check the API token (input "token"): it is missing, mistyped, revoked or expired';
  if (status === 403) return '. The API token lacks the scope for this call: give it read and write access';
  return '';
}

export function isNotFound(error: unknown): boolean {
  return error instanceof DigitalOceanApiError && error.status === 404;
}

/** A DigitalOcean action (create, snapshot, power_off…) that ended `errored`. */
export class ActionFailedError extends Error {
  override readonly name = 'ActionFailedError';
  constructor(
    readonly actionId: number,
    readonly actionType: string,
    readonly resource: string,
  ) {
    super(`DigitalOcean action ${actionId} (${actionType} on ${resource}) ended with status "errored"`);
  }
}

/** A DigitalOcean action still not completed when the wait ran out. */
export class ActionTimeoutError extends Error {
  override readonly name = 'ActionTimeoutError';
  constructor(
    readonly actionId: number,
    readonly actionType: string,
    readonly resource: string,
    readonly lastStatus: string,
    readonly waitedMs: number,
  ) {
    super(
      `DigitalOcean action ${actionId} (${actionType} on ${resource}) was still "${lastStatus}" after ${Math.round(waitedMs / 1000)}s`,
    );
  }
}
