import type {
  AxiosAdapter,
  AxiosInstance,
  AxiosResponse,
  AxiosStatic,
  InternalAxiosRequestConfig,
  RawAxiosResponseHeaders,
  AxiosResponseHeaders,
} from 'axios';

import type { Logger } from '../action/logger.js';
import { formatDuration } from '../action/parsers.js';
import { realSleep, retry } from '../retry.js';
import { DigitalOceanApiError } from './errors.js';

export interface RetryPolicy {
  /** Total attempts per request, first included. Default 8. */
  attempts: number;
  /** Give up when the next wait would end more than this long after the first attempt. Default 5 min. */
  maxElapsedMs: number;
  /** Backoff when the API does not say how long to wait. Defaults 1 s doubling to 30 s. */
  baseDelayMs: number;
  maxDelayMs: number;
}

export const DEFAULT_RETRY_POLICY: RetryPolicy = {
  attempts: 8,
  maxElapsedMs: 5 * 60_000,
  baseDelayMs: 1000,
  maxDelayMs: 30_000,
};

export interface HttpOptions {
  /** Normalised base URL ending in /v2 (see normalizeApiEndpoint). */
  endpoint: string;
  token: string;
  /** Per-request timeout. Default 30 s. */
  timeoutMs?: number;
  retry?: Partial<RetryPolicy>;
  logger?: Logger;
  /** Transport under the retry layer (tests pass a fake); default axios' own adapter. */
  transport?: AxiosAdapter;
  sleep?: (ms: number) => Promise<void>;
  now?: () => number;
  random?: () => number;
}

/** The smallest wait honoured even when the API says `retry-after: 0`, so a storm is not hammered. */
const MIN_REQUESTED_DELAY_MS = 250;

/**
 * POSTs that are safe to send twice (adding tags, attaching droplets to something that
 * already has them). Other POSTs create billable things (droplets, snapshots, reserved IPs)
 * and are not retried on 5xx or a lost answer, because the first attempt may have
 * succeeded; their callers reconcile instead (provision-droplet re-lists by tag).
 * A 429 is always retried: DigitalOcean rejected the request without doing anything.
 */
const IDEMPOTENT_POSTS: readonly RegExp[] = [
  /^\/tags$/,
  /^\/tags\/[^/]+\/resources$/,
  /^\/firewalls\/[^/]+\/(tags|droplets|rules)$/,
  /^\/load_balancers\/[^/]+\/droplets$/,
];

export function isIdempotent(method: string, path: string): boolean {
  const m = method.toUpperCase();
  if (m === 'GET' || m === 'HEAD' || m === 'PUT' || m === 'DELETE' || m === 'OPTIONS') return true;
  return m === 'POST' && IDEMPOTENT_POSTS.some((re) => re.test(path));
}

/** A response or a transport failure, as the retry loop sees it. */
class AttemptFailure extends Error {
  constructor(
    readonly status: number,
    readonly headers: Record<string, string>,
    readonly body: unknown,
    readonly networkCode: string | undefined,
    message: string,
  ) {
    super(message);
  }
}

function headerMap(headers: RawAxiosResponseHeaders | AxiosResponseHeaders | undefined): Record<string, string> {
  const out: Record<string, string> = {};
  if (!headers) return out;
  const source =
    typeof (headers as AxiosResponseHeaders).toJSON === 'function'
      ? ((headers as AxiosResponseHeaders).toJSON() as Record<string, unknown>)
      : (headers as Record<string, unknown>);
  for (const [k, v] of Object.entries(source)) {
    if (v === undefined || v === null) continue;
    out[k.toLowerCase()] = Array.isArray(v) ? v.join(', ') : String(v);
  }
  return out;
}

function parseBody(data: unknown): unknown {
  if (typeof data === 'string') {
    try {
      return JSON.parse(data) as unknown;
    } catch {
      return data;
    }
  }
  if (Buffer.isBuffer(data)) return parseBody(data.toString('utf8'));
  return data;
}

/**
 * How long DigitalOcean asked us to wait: `retry-after` (seconds or an HTTP date), else
 * on a 429 `ratelimit-reset` (epoch seconds when the window resets). Undefined when neither.
 */
export function requestedDelayMs(status: number, headers: Record<string, string>, now: number): number | undefined {
  const retryAfter = headers['retry-after'];
  if (retryAfter !== undefined && retryAfter.trim() !== '') {
    const v = retryAfter.trim();
    if (/^\d+(\.\d+)?$/.test(v)) return Math.max(MIN_REQUESTED_DELAY_MS, Math.round(Number(v) * 1000));
    const date = Date.parse(v);
    if (!Number.isNaN(date)) return Math.max(MIN_REQUESTED_DELAY_MS, date - now);
  }
  const reset = headers['ratelimit-reset'];
  if (status === 429 && reset !== undefined && /^\d+$/.test(reset.trim())) {
    return Math.max(MIN_REQUESTED_DELAY_MS, Number(reset.trim()) * 1000 - now);
  }
  return undefined;
}

function isRetryable(failure: AttemptFailure, method: string, path: string): boolean {
  if (failure.status === 429) return true;
  if (failure.status >= 500) return isIdempotent(method, path);
  if (failure.status === 0) {
    // Connection refused: nothing was sent, any method may go again.
    if (failure.networkCode === 'ECONNREFUSED') return true;
    return isIdempotent(method, path);
  }
  return false;
}

/** The path below the API base, for messages and the retry rules (`/droplets/1`). */
export function pathBelowBase(endpoint: string, url: string | undefined): string {
  const u = url ?? '';
  const base = new URL(endpoint);
  let path: string;
  try {
    const full = new URL(u, `${endpoint}/`);
    path = full.pathname;
  } catch {
    path = u;
  }
  if (path.startsWith(base.pathname)) path = path.slice(base.pathname.length);
  return path.startsWith('/') ? path : `/${path}`;
}

function toApiError(failure: AttemptFailure, method: string, path: string, attempts: number): DigitalOceanApiError {
  const body = failure.body as { id?: unknown; message?: unknown; request_id?: unknown } | undefined;
  const errorId = body && typeof body === 'object' && typeof body.id === 'string' ? body.id : undefined;
  let message: string;
  if (body && typeof body === 'object' && typeof body.message === 'string') message = body.message;
  else if (failure.status === 0) message = failure.message;
  else if (typeof failure.body === 'string' && failure.body.trim()) message = failure.body.trim().slice(0, 300);
  else message = 'no error message in the response';
  const requestId =
    (body && typeof body === 'object' && typeof body.request_id === 'string' ? body.request_id : undefined) ??
    failure.headers['x-request-id'];
  return new DigitalOceanApiError(method, path, failure.status, errorId, message, requestId, attempts);
}

/**
 * The axios instance every DigitalOcean call goes through (dots-wrapper's and our raw
 * calls alike): base URL, bearer token, timeout, and an adapter that retries 429/5xx with
 * backoff honouring `retry-after` / `ratelimit-reset`, bounded in attempts and total time,
 * and turns every failure into a DigitalOceanApiError (which never holds the token).
 */
export function createHttpClient(axios: AxiosStatic, options: HttpOptions): AxiosInstance {
  const policy: RetryPolicy = { ...DEFAULT_RETRY_POLICY, ...options.retry };
  const now = options.now ?? Date.now;
  const sleep = options.sleep ?? realSleep;
  const transport: AxiosAdapter = options.transport ?? axios.getAdapter(['http', 'fetch']);

  const adapter: AxiosAdapter = async (config: InternalAxiosRequestConfig): Promise<AxiosResponse> => {
    const method = (config.method ?? 'get').toUpperCase();
    const path = pathBelowBase(options.endpoint, config.url);
    let attempts = 0;
    try {
      return await retry(
        async (attempt) => {
          attempts = attempt;
          let response: AxiosResponse;
          try {
            response = await transport({ ...config, validateStatus: () => true });
          } catch (error) {
            const e = error as { code?: string; message?: string };
            throw new AttemptFailure(
              0,
              {},
              undefined,
              e.code,
              `${e.code ?? 'network error'}: ${e.message ?? ''}`.trim(),
            );
          }
          if (response.status >= 200 && response.status < 300) return response;
          throw new AttemptFailure(
            response.status,
            headerMap(response.headers),
            parseBody(response.data),
            undefined,
            `HTTP ${response.status}`,
          );
        },
        {
          attempts: policy.attempts,
          baseDelayMs: policy.baseDelayMs,
          maxDelayMs: policy.maxDelayMs,
          maxElapsedMs: policy.maxElapsedMs,
          retryable: (e) => e instanceof AttemptFailure && isRetryable(e, method, path),
          requestedDelayMs: (e) =>
            e instanceof AttemptFailure ? requestedDelayMs(e.status, e.headers, now()) : undefined,
          onRetry: ({ attempt, error, delayMs }) => {
            const f = error as AttemptFailure;
            const what = f.status ? `HTTP ${f.status}` : f.message;
            options.logger?.info(
              `DigitalOcean API ${method} ${path}: ${what}; retrying in ${formatDuration(delayMs)} (attempt ${attempt + 1} of ${policy.attempts})`,
            );
          },
          sleep,
          now,
          ...(options.random ? { random: options.random } : {}),
        },
      );
    } catch (error) {
      if (error instanceof AttemptFailure) throw toApiError(error, method, path, attempts);
      throw error;
    }
  };

  return axios.create({
    baseURL: options.endpoint,
    timeout: options.timeoutMs ?? 30_000,
    headers: {
      Authorization: `Bearer ${options.token}`,
      'Content-Type': 'application/json',
      'User-Agent': 'droplet-deploy',
    },
    adapter,
  });
}
