import { ConfigurationError } from './errors.js';

// Pure input parsers. Each throws a ConfigurationError naming the input and the bad value;
// none guesses a default for a value it does not understand (`parseInt(x) || 5` is the bug
// this module exists to prevent).

export interface ParseOptions {
  /** Hide the value in error messages (tokens, keys, passwords). */
  secret?: boolean;
}

export function invalid(name: string, value: string, reason: string, options: ParseOptions = {}): ConfigurationError {
  const shown = options.secret ? '(value hidden)' : JSON.stringify(value);
  return new ConfigurationError(`input "${name}" has ${shown}: ${reason}`);
}

export function parseBool(name: string, value: string): boolean {
  const v = value.trim();
  if (v === 'true' || v === 'True' || v === 'TRUE') return true;
  if (v === 'false' || v === 'False' || v === 'FALSE') return false;
  throw invalid(name, value, 'expected true or false');
}

export interface IntBounds {
  min?: number;
  max?: number;
}

export function parseInteger(name: string, value: string, bounds: IntBounds = {}): number {
  const v = value.trim();
  if (!/^[-+]?\d+$/.test(v)) throw invalid(name, value, 'expected a whole number');
  const n = Number(v);
  if (!Number.isSafeInteger(n)) throw invalid(name, value, 'number is too large');
  if (bounds.min !== undefined && n < bounds.min) throw invalid(name, value, `must be at least ${bounds.min}`);
  if (bounds.max !== undefined && n > bounds.max) throw invalid(name, value, `must be at most ${bounds.max}`);
  return n;
}

const DURATION_UNITS: Record<string, number> = { ms: 1, s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000 };

/** `90s`, `5m`, `1h30m`, `250ms`, `2d`, or plain seconds (`90`). Returns milliseconds. */
export function parseDuration(name: string, value: string, bounds: { minMs?: number; maxMs?: number } = {}): number {
  const v = value.trim();
  let ms: number;
  if (/^\d+(\.\d+)?$/.test(v)) {
    ms = Math.round(Number(v) * 1000);
  } else {
    if (!/^(\d+(\.\d+)?(ms|s|m|h|d))+$/.test(v)) {
      throw invalid(name, value, 'expected a duration such as 90s, 5m, 1h30m or a number of seconds');
    }
    ms = 0;
    for (const match of v.matchAll(/(\d+(?:\.\d+)?)(ms|s|m|h|d)/g)) {
      ms += Number(match[1]) * (DURATION_UNITS[match[2] as string] as number);
    }
    ms = Math.round(ms);
  }
  if (bounds.minMs !== undefined && ms < bounds.minMs)
    throw invalid(name, value, `must be at least ${formatDuration(bounds.minMs)}`);
  if (bounds.maxMs !== undefined && ms > bounds.maxMs)
    throw invalid(name, value, `must be at most ${formatDuration(bounds.maxMs)}`);
  return ms;
}

export function formatDuration(ms: number): string {
  if (ms < 1000) return `${ms}ms`;
  const s = Math.round(ms / 100) / 10;
  if (s < 60) return `${s}s`;
  const m = Math.floor(s / 60);
  const rest = Math.round(s - m * 60);
  return rest ? `${m}m${rest}s` : `${m}m`;
}

/** Newline- or comma-separated; items trimmed; empty items dropped. */
export function parseList(value: string): string[] {
  return value
    .split(/[\n,]/)
    .map((item) => item.trim())
    .filter((item) => item.length > 0);
}

/** Newline-separated only (items may contain commas, e.g. known_hosts lines or commands). */
export function parseLines(value: string): string[] {
  return value
    .split(/\r?\n/)
    .map((item) => item.trim())
    .filter((item) => item.length > 0 && !item.startsWith('#'));
}

/** `KEY=value` lines; keys kept exactly as written; `#` comment lines and blank lines skipped. */
export function parseMap(name: string, value: string, options: ParseOptions = {}): Map<string, string> {
  const map = new Map<string, string>();
  const lines = value.split(/\r?\n/);
  lines.forEach((rawLine, index) => {
    const line = rawLine.trim();
    if (!line || line.startsWith('#')) return;
    const eq = line.indexOf('=');
    const where = `line ${index + 1}`;
    if (eq <= 0) {
      throw invalid(name, options.secret ? '' : line, `${where} is not KEY=value`, options);
    }
    const key = line.slice(0, eq).trim();
    if (!/^[A-Za-z_][A-Za-z0-9_.-]*$/.test(key)) {
      throw new ConfigurationError(
        `input "${name}": ${where} has key ${JSON.stringify(key)}, which is not a valid variable name`,
      );
    }
    if (map.has(key)) throw new ConfigurationError(`input "${name}": key ${JSON.stringify(key)} appears twice`);
    map.set(key, line.slice(eq + 1));
  });
  return map;
}

export function parseJson(name: string, value: string): unknown {
  try {
    return JSON.parse(value) as unknown;
  } catch (error) {
    throw invalid(
      name,
      value.length > 80 ? `${value.slice(0, 77)}...` : value,
      `not valid JSON (${(error as Error).message})`,
    );
  }
}

export function parseEnum<T extends string>(name: string, value: string, allowed: readonly T[]): T {
  const v = value.trim();
  if ((allowed as readonly string[]).includes(v)) return v as T;
  throw invalid(name, value, `expected one of ${allowed.join(', ')}`);
}

export function parseUrl(
  name: string,
  value: string,
  protocols: readonly string[] = ['http:', 'https:'],
  options: ParseOptions = {},
): URL {
  let url: URL;
  try {
    url = new URL(value.trim());
  } catch {
    throw invalid(name, value, 'not a valid URL', options);
  }
  if (!protocols.includes(url.protocol)) {
    throw invalid(name, value, `URL must use ${protocols.map((p) => p.replace(/:$/, '')).join(' or ')}`, options);
  }
  return url;
}

export function parsePort(name: string, value: string): number {
  const v = value.trim();
  if (!/^\d+$/.test(v)) throw invalid(name, value, 'expected a port number (1-65535)');
  const n = Number(v);
  if (n < 1 || n > 65535) throw invalid(name, value, 'port must be between 1 and 65535');
  return n;
}

const SSH_KEY_TYPES = [
  'ssh-ed25519',
  'ssh-rsa',
  'ecdsa-sha2-nistp256',
  'ecdsa-sha2-nistp384',
  'ecdsa-sha2-nistp521',
  'sk-ssh-ed25519@openssh.com',
  'sk-ecdsa-sha2-nistp256@openssh.com',
];

export interface SshPublicKey {
  type: string;
  /** base64 of the key blob */
  data: string;
  comment: string;
  /** `type data` without the comment */
  line: string;
}

/** An OpenSSH public key line: `ssh-ed25519 AAAA… comment`. */
export function parseSshPublicKey(name: string, value: string): SshPublicKey {
  const v = value.trim();
  if (v.includes('PRIVATE KEY'))
    throw invalid(name, '', 'this is a private key; paste the public key (the .pub file)', { secret: true });
  const [type = '', data = '', ...rest] = v.split(/\s+/);
  if (!SSH_KEY_TYPES.includes(type))
    throw invalid(name, value, `key type ${JSON.stringify(type)} is not one of ${SSH_KEY_TYPES.join(', ')}`);
  if (!/^[A-Za-z0-9+/]+={0,2}$/.test(data)) throw invalid(name, value, 'key data is not base64');
  const blob = Buffer.from(data, 'base64');
  const typeLength = blob.length >= 4 ? blob.readUInt32BE(0) : -1;
  const embedded =
    typeLength > 0 && typeLength + 4 <= blob.length ? blob.subarray(4, 4 + typeLength).toString('latin1') : '';
  if (embedded !== type) throw invalid(name, value, `key data does not hold a ${type} key`);
  return { type, data, comment: rest.join(' '), line: `${type} ${data}` };
}

/** An OpenSSH SHA256 fingerprint: `SHA256:` followed by 43 unpadded base64 characters. */
export function parseFingerprint(name: string, value: string): string {
  const v = value.trim();
  if (!/^SHA256:[A-Za-z0-9+/]{43}$/.test(v)) {
    throw invalid(
      name,
      value,
      'expected an OpenSSH SHA256 fingerprint such as SHA256:uNiVztksCsDhcc0u9e8BujQXVUpKZIDTMczCvj3tD2s',
    );
  }
  return v;
}
