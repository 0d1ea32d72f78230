// What an HTTP check expects of a response, and the one function that judges a response
// against it. Shared by the runner-side check (node:http/https) and the in-droplet one (curl).

import { type StatusSpec, statusMatches } from './status.js';

export interface JsonExpectation {
  /** As written: `$.status`, `checks[0].ok`, `db.connected`. */
  path: string;
  /** Parsed segments. */
  segments: (string | number)[];
  equals: unknown;
}

export interface HttpExpectations {
  status: StatusSpec;
  contains: string[];
  regex?: RegExp;
  json: JsonExpectation[];
  /** The server certificate must be valid for at least this many more days (https only). */
  certMinDays?: number;
}

export interface HttpResponseFacts {
  status: number;
  body: string;
  /** Days until the peer certificate expires (negative when expired); undefined when not https/unknown. */
  certDaysLeft?: number;
  /** True when the URL is https (cert-min-days then needs certDaysLeft). */
  https: boolean;
}

export interface Verdict {
  ok: boolean;
  /** One line: why it failed. */
  reason?: string;
}

/** `$.a.b[0]["c d"]` / `a.b[0]` → ['a','b',0,'c d']; throws on syntax it does not understand. */
export function parseJsonPath(path: string): (string | number)[] {
  let rest = path.trim();
  if (rest.startsWith('$')) rest = rest.slice(1);
  const segments: (string | number)[] = [];
  const re = /^(?:\.?([A-Za-z_$][\w$-]*)|\[(\d+)\]|\["((?:[^"\\]|\\.)*)"\]|\['([^']*)'\])/;
  if (rest === '') throw new Error('path is empty');
  while (rest.length > 0) {
    const m = re.exec(rest);
    if (!m) throw new Error(`cannot read the path at ${JSON.stringify(rest)}`);
    if (m[1] !== undefined) segments.push(m[1]);
    else if (m[2] !== undefined) segments.push(Number(m[2]));
    else if (m[3] !== undefined) segments.push(JSON.parse(`"${m[3]}"`) as string);
    else segments.push(m[4] as string);
    rest = rest.slice(m[0].length);
  }
  return segments;
}

export function lookupJson(
  value: unknown,
  segments: readonly (string | number)[],
): { found: boolean; value?: unknown } {
  let current: unknown = value;
  for (const segment of segments) {
    if (typeof segment === 'number') {
      if (!Array.isArray(current) || segment >= current.length) return { found: false };
      current = current[segment] as unknown;
    } else {
      if (current === null || typeof current !== 'object' || Array.isArray(current)) return { found: false };
      if (!Object.prototype.hasOwnProperty.call(current, segment)) return { found: false };
      current = (current as Record<string, unknown>)[segment];
    }
  }
  return { found: true, value: current };
}

function deepEqual(a: unknown, b: unknown): boolean {
  return JSON.stringify(a) === JSON.stringify(b);
}

/** Judges one response. The first unmet expectation is the reason. */
export function judgeResponse(expect: HttpExpectations, facts: HttpResponseFacts): Verdict {
  if (!statusMatches(expect.status, facts.status)) {
    return { ok: false, reason: `status ${facts.status} is not one of ${expect.status.text}` };
  }
  for (const needle of expect.contains) {
    if (!facts.body.includes(needle)) return { ok: false, reason: `body does not contain ${JSON.stringify(needle)}` };
  }
  if (expect.regex && !expect.regex.test(facts.body)) {
    return { ok: false, reason: `body does not match /${expect.regex.source}/${expect.regex.flags}` };
  }
  if (expect.json.length > 0) {
    let parsed: unknown;
    try {
      parsed = JSON.parse(facts.body);
    } catch {
      return { ok: false, reason: 'body is not JSON' };
    }
    for (const j of expect.json) {
      const found = lookupJson(parsed, j.segments);
      if (!found.found) return { ok: false, reason: `JSON ${j.path} is missing` };
      if (!deepEqual(found.value, j.equals)) {
        return {
          ok: false,
          reason: `JSON ${j.path} is ${JSON.stringify(found.value)}, expected ${JSON.stringify(j.equals)}`,
        };
      }
    }
  }
  if (expect.certMinDays !== undefined && facts.https) {
    if (facts.certDaysLeft === undefined) return { ok: false, reason: 'the server certificate could not be read' };
    if (facts.certDaysLeft < expect.certMinDays) {
      const when =
        facts.certDaysLeft < 0
          ? `expired ${Math.ceil(-facts.certDaysLeft)} day(s) ago`
          : `expires in ${Math.floor(facts.certDaysLeft)} day(s)`;
      return { ok: false, reason: `certificate ${when}; at least ${expect.certMinDays} day(s) required` };
    }
  }
  return { ok: true };
}

/** A short one-line excerpt of a body for reports (caller redacts). */
export function excerpt(body: string, max = 200): string {
  const flat = body.replace(/\s+/g, ' ').trim();
  return flat.length > max ? `${flat.slice(0, max - 1)}…` : flat;
}
