// Small HTTP helpers of the API fake: errors in DigitalOcean's shape, pagination, ids.
import { randomUUID } from 'node:crypto';

export class ApiError extends Error {
  constructor(
    readonly status: number,
    readonly id: string,
    message: string,
    readonly headers: Record<string, string> = {},
  ) {
    super(message);
  }
}

export const notFound = (): ApiError =>
  new ApiError(404, 'not_found', 'The resource you were accessing could not be found.');
export const unprocessable = (message: string): ApiError => new ApiError(422, 'unprocessable_entity', message);
export const badRequest = (message: string): ApiError => new ApiError(400, 'bad_request', message);

export interface Reply {
  status: number;
  body?: unknown;
  headers?: Record<string, string>;
}

export function errorBody(id: string, message: string, requestId: string = randomUUID()): Record<string, string> {
  return { id, message, request_id: requestId };
}

export type Query = Record<string, string | string[]>;

export function q1(query: Query, name: string): string | undefined {
  const v = query[name];
  return Array.isArray(v) ? v[0] : v;
}

/** DigitalOcean pagination: `page` (1-based), `per_page` (default 20, max 200); links.pages + meta.total. */
export function paginate<T>(
  items: T[],
  query: Query,
  baseUrl: string,
  path: string,
): { page: T[]; links: { pages: Record<string, string> }; meta: { total: number } } {
  const perPage = Math.min(200, Math.max(1, Number(q1(query, 'per_page') ?? 20) || 20));
  const page = Math.max(1, Number(q1(query, 'page') ?? 1) || 1);
  const total = items.length;
  const last = Math.max(1, Math.ceil(total / perPage));
  const url = (p: number) => {
    const u = new URL(baseUrl + path);
    for (const [k, v] of Object.entries(query)) if (k !== 'page' && k !== 'per_page') u.searchParams.set(k, String(v));
    u.searchParams.set('page', String(p));
    u.searchParams.set('per_page', String(perPage));
    return u.toString();
  };
  const pages: Record<string, string> = {};
  if (page > 1) {
    pages.first = url(1);
    pages.prev = url(Math.min(page - 1, last));
  }
  if (page < last) {
    pages.next = url(page + 1);
    pages.last = url(last);
  }
  return { page: items.slice((page - 1) * perPage, page * perPage), links: { pages }, meta: { total } };
}

export const now = (): string => new Date().toISOString().replace(/\.\d{3}Z$/, 'Z');
