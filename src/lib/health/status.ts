// Expected HTTP statuses: `200`, `200,204`, `2xx`, `200-299`, `2xx,301,400-404`.

export interface StatusRange {
  min: number;
  max: number;
}

export interface StatusSpec {
  /** As written (normalised spacing), for messages. */
  text: string;
  ranges: StatusRange[];
}

/** Thrown with the offending token; callers turn it into a ConfigurationError naming the field. */
export class StatusSpecError extends Error {
  override readonly name = 'StatusSpecError';
}

function code(token: string, whole: string): number {
  if (!/^\d{3}$/.test(token)) throw new StatusSpecError(`"${whole}" is not a status code or range`);
  const n = Number(token);
  if (n < 100 || n > 599) throw new StatusSpecError(`${n} is not an HTTP status code (100-599)`);
  return n;
}

/** Parses a status list; throws StatusSpecError naming the bad item. Accepts numbers from YAML too. */
export function parseStatusSpec(value: string | number | readonly (string | number)[]): StatusSpec {
  const items = (Array.isArray(value) ? value : String(value).split(','))
    .map((item) => String(item).trim())
    .filter((item) => item !== '');
  if (items.length === 0) throw new StatusSpecError('no status codes given');
  const ranges: StatusRange[] = [];
  for (const item of items) {
    const lower = item.toLowerCase();
    const family = /^([1-5])xx$/.exec(lower);
    if (family) {
      const base = Number(family[1]) * 100;
      ranges.push({ min: base, max: base + 99 });
      continue;
    }
    const range = /^(\d+)\s*-\s*(\d+)$/.exec(lower);
    if (range) {
      const min = code(range[1] as string, item);
      const max = code(range[2] as string, item);
      if (min > max) throw new StatusSpecError(`"${item}" is an empty range (${min} > ${max})`);
      ranges.push({ min, max });
      continue;
    }
    const n = code(lower, item);
    ranges.push({ min: n, max: n });
  }
  return { text: items.join(','), ranges };
}

export function statusMatches(spec: StatusSpec, status: number): boolean {
  return spec.ranges.some((r) => status >= r.min && status <= r.max);
}
