import { ConfigurationError } from './errors.js';
import {
  type IntBounds,
  type ParseOptions,
  parseBool,
  parseDuration,
  parseEnum,
  parseInteger,
  parseJson,
  parseLines,
  parseList,
  parseMap,
} from './parsers.js';

/** Raw input lookup: '' when the input is absent (the contract of core.getInput). */
export type InputGetter = (name: string) => string;

/**
 * Typed access to an action's inputs. Each action's inputs.ts is the only place that
 * reads inputs; it turns them into a typed object with these methods.
 */
export class InputReader {
  constructor(private readonly getter: InputGetter) {}

  /** Trimmed raw value ('' when absent). */
  raw(name: string): string {
    return this.getter(name).trim();
  }

  has(name: string): boolean {
    return this.raw(name) !== '';
  }

  required(name: string): string {
    const value = this.raw(name);
    if (!value) throw new ConfigurationError(`input "${name}" is required and was not supplied`);
    return value;
  }

  string(name: string, fallback = ''): string {
    return this.raw(name) || fallback;
  }

  optional(name: string): string | undefined {
    return this.raw(name) || undefined;
  }

  bool(name: string, fallback: boolean): boolean {
    const value = this.raw(name);
    return value ? parseBool(name, value) : fallback;
  }

  int(name: string, fallback: number, bounds?: IntBounds): number {
    const value = this.raw(name);
    return value ? parseInteger(name, value, bounds) : fallback;
  }

  /** Milliseconds. */
  duration(name: string, fallback: string, bounds?: { minMs?: number; maxMs?: number }): number {
    return parseDuration(name, this.raw(name) || fallback, bounds);
  }

  list(name: string): string[] {
    return parseList(this.raw(name));
  }

  lines(name: string): string[] {
    return parseLines(this.getter(name));
  }

  map(name: string, options?: ParseOptions): Map<string, string> {
    return parseMap(name, this.getter(name), options);
  }

  json(name: string): unknown {
    const value = this.raw(name);
    return value ? parseJson(name, value) : undefined;
  }

  enum<T extends string>(name: string, allowed: readonly T[], fallback: T): T {
    const value = this.raw(name);
    return value ? parseEnum(name, value, allowed) : fallback;
  }
}

/** Exactly one of a set of alternative inputs (e.g. hosts / droplet-tag / droplet-ids). */
export function requireOneOf(reader: InputReader, names: readonly string[]): string {
  const given = names.filter((n) => reader.has(n));
  if (given.length === 0)
    throw new ConfigurationError(`one of the inputs ${names.map((n) => `"${n}"`).join(', ')} is required`);
  if (given.length > 1)
    throw new ConfigurationError(
      `inputs ${given.map((n) => `"${n}"`).join(' and ')} cannot be used together; give only one`,
    );
  return given[0] as string;
}
