import { createHash, createHmac } from 'node:crypto';

import { ConfigurationError } from '../action/errors.js';

// Host key verification: every connection checks the key the server presents against
// `known-hosts` lines (OpenSSH format, hashed hosts included) or SHA256 fingerprints.
// Skipping is explicit (`insecure-skip-host-key-check`) and warned about by the caller.

export interface KnownHostEntry {
  /** Host patterns as written (comma-separated field split), or [] for a bare "type key" line. */
  patterns: string[];
  type: string;
  /** The raw public key blob. */
  key: Buffer;
  revoked: boolean;
}

export type HostKeyPolicy =
  { kind: 'verify'; knownHosts: readonly KnownHostEntry[]; fingerprints: readonly string[] } | { kind: 'skip' };

export function fingerprintOf(key: Buffer): string {
  return `SHA256:${createHash('sha256').update(key).digest('base64').replace(/=+$/, '')}`;
}

/** The key type stored at the start of an SSH public key blob. */
export function keyTypeOf(key: Buffer): string {
  if (key.length < 4) return 'unknown';
  const n = key.readUInt32BE(0);
  if (n <= 0 || n + 4 > key.length) return 'unknown';
  return key.subarray(4, 4 + n).toString('latin1');
}

/** Parses `known-hosts` text (one entry a line, as `ssh-keyscan` prints). */
export function parseKnownHosts(text: string, inputName = 'known-hosts'): KnownHostEntry[] {
  const entries: KnownHostEntry[] = [];
  text.split(/\r?\n/).forEach((raw, index) => {
    const line = raw.trim();
    if (!line || line.startsWith('#')) return;
    let fields = line.split(/\s+/);
    let revoked = false;
    if (fields[0]?.startsWith('@')) {
      const marker = fields[0];
      if (marker === '@revoked') revoked = true;
      else if (marker === '@cert-authority') {
        throw new ConfigurationError(
          `input "${inputName}" line ${index + 1}: @cert-authority lines are not supported; list the host keys themselves`,
        );
      } else {
        throw new ConfigurationError(`input "${inputName}" line ${index + 1}: unknown marker ${marker}`);
      }
      fields = fields.slice(1);
    }
    let patterns: string[] = [];
    let type: string;
    let data: string;
    if (looksLikeKeyType(fields[0] ?? '')) {
      [type = '', data = ''] = fields;
    } else {
      patterns = (fields[0] ?? '').split(',').filter(Boolean);
      [, type = '', data = ''] = fields;
    }
    if (!looksLikeKeyType(type) || !/^[A-Za-z0-9+/]+={0,2}$/.test(data)) {
      throw new ConfigurationError(
        `input "${inputName}" line ${index + 1} is not a known_hosts line ("host key-type base64-key", as ssh-keyscan prints)`,
      );
    }
    const key = Buffer.from(data, 'base64');
    if (keyTypeOf(key) !== type) {
      throw new ConfigurationError(`input "${inputName}" line ${index + 1}: the key data does not hold a ${type} key`);
    }
    entries.push({ patterns, type, key, revoked });
  });
  return entries;
}

function looksLikeKeyType(s: string): boolean {
  return /^(ssh-(ed25519|rsa|dss)|ecdsa-sha2-nistp\d+|sk-\S+@openssh\.com)$/.test(s);
}

function globMatch(pattern: string, value: string): boolean {
  const re = new RegExp(
    `^${pattern
      .split('')
      .map((c) => (c === '*' ? '.*' : c === '?' ? '.' : c.replace(/[.+^${}()|[\]\\]/g, '\\$&')))
      .join('')}$`,
    'i',
  );
  return re.test(value);
}

/** Whether a known_hosts host field matches host:port (plain, [host]:port, wildcards, negation, hashed). */
export function hostMatches(patterns: readonly string[], host: string, port: number): boolean {
  if (patterns.length === 0) return true;
  const name = port === 22 ? host : `[${host}]:${port}`;
  let matched = false;
  for (const p of patterns) {
    const negated = p.startsWith('!');
    const pattern = negated ? p.slice(1) : p;
    let hit: boolean;
    if (pattern.startsWith('|1|')) {
      const [, , salt = '', hash = ''] = pattern.split('|');
      const digest = createHmac('sha1', Buffer.from(salt, 'base64')).update(name).digest('base64');
      hit = digest === hash;
    } else {
      hit = globMatch(pattern, name);
    }
    if (hit && negated) return false;
    if (hit) matched = true;
  }
  return matched;
}

export interface PresentedKey {
  type: string;
  fingerprint: string;
}

export interface HostKeyCheck {
  /** ssh2 hostVerifier: gets the raw key blob. */
  verify(key: Buffer): boolean;
  /** What the server presented (for the mismatch message). */
  presented(): PresentedKey | undefined;
  /** Host key algorithms to offer first, from the known-hosts types for this host. */
  preferredAlgorithms(): string[] | undefined;
}

export function hostKeyCheck(policy: HostKeyPolicy, host: string, port: number): HostKeyCheck {
  let seen: PresentedKey | undefined;
  const entries = policy.kind === 'verify' ? policy.knownHosts.filter((e) => hostMatches(e.patterns, host, port)) : [];
  return {
    verify(key) {
      seen = { type: keyTypeOf(key), fingerprint: fingerprintOf(key) };
      if (policy.kind === 'skip') return true;
      if (entries.some((e) => e.revoked && e.key.equals(key))) return false;
      if (entries.some((e) => !e.revoked && e.key.equals(key))) return true;
      return policy.fingerprints.includes(seen.fingerprint);
    },
    presented: () => seen,
    preferredAlgorithms() {
      if (policy.kind === 'skip' || policy.fingerprints.length > 0) return undefined;
      const types = [...new Set(entries.filter((e) => !e.revoked).map((e) => e.type))];
      if (types.length === 0) return undefined;
      return types.flatMap((t) => (t === 'ssh-rsa' ? ['rsa-sha2-512', 'rsa-sha2-256', 'ssh-rsa'] : [t]));
    },
  };
}

/** Describes what the policy trusts for a host (for error messages; fingerprints only). */
export function trustedFingerprints(policy: HostKeyPolicy, host: string, port: number): string[] {
  if (policy.kind === 'skip') return [];
  const fromLines = policy.knownHosts
    .filter((e) => !e.revoked && hostMatches(e.patterns, host, port))
    .map((e) => `${e.type} ${fingerprintOf(e.key)}`);
  return [...fromLines, ...policy.fingerprints];
}

export class HostKeyMismatchError extends Error {
  override readonly name = 'HostKeyMismatchError';
  constructor(
    readonly host: string,
    readonly port: number,
    readonly presented: PresentedKey | undefined,
    readonly trusted: string[],
  ) {
    const where = port === 22 ? host : `${host}:${port}`;
    const seen = presented ? `${presented.type} ${presented.fingerprint}` : 'no key';
    const listed = trusted.length
      ? `the trusted keys are ${trusted.join(', ')}`
      : `no line in "known-hosts" is for ${where} and no "host-fingerprints" were given`;
    super(
      `host key verification failed for ${where}: it presented ${seen}; ${listed}. ` +
        `If the droplet was rebuilt, update "known-hosts" (ssh-keyscan -t ed25519 ${host}) or "host-fingerprints".`,
    );
  }
}
