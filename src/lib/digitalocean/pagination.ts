import type { AxiosInstance } from 'axios';

/** The part of a DigitalOcean list response pagination needs. */
export interface PageLinks {
  links?: { pages?: { next?: string } };
}

/** At most this many pages are followed (200 items each: 100 000 items), so a looping `next` cannot hang us. */
export const MAX_PAGES = 500;

/**
 * Turns `links.pages.next` into a request on our own client: the path and query are kept,
 * scheme/host/port come from the configured endpoint, so a `next` URL can never send the
 * token to another host.
 */
export function nextPageUrl(endpoint: string, next: string): string {
  const base = new URL(endpoint);
  const target = new URL(next, `${endpoint}/`);
  let path = target.pathname;
  if (path.startsWith(base.pathname)) path = path.slice(base.pathname.length);
  return `${path.startsWith('/') ? path : `/${path}`}${target.search}`;
}

/**
 * Every item of a paginated list: takes the first page (from dots-wrapper or a raw call),
 * then follows `links.pages.next` through the same axios instance until there is none.
 */
export async function collectPages<K extends string, T>(
  http: AxiosInstance,
  endpoint: string,
  key: K,
  firstPage: () => Promise<{ data: unknown }>,
): Promise<T[]> {
  type Page = PageLinks & { [P in K]?: T[] };
  const items: T[] = [];
  let page = (await firstPage()).data as Page;
  const seen = new Set<string>();
  for (let n = 1; ; n += 1) {
    items.push(...(page[key] ?? []));
    const next = page.links?.pages?.next;
    if (!next) return items;
    const url = nextPageUrl(endpoint, next);
    if (seen.has(url)) throw new Error(`DigitalOcean API pagination of ${key} loops at ${url}`);
    if (n >= MAX_PAGES) throw new Error(`DigitalOcean API pagination of ${key}: more than ${MAX_PAGES} pages`);
    seen.add(url);
    page = (await http.get<Page>(url)).data;
  }
}
