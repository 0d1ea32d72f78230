// The SSH inputs every droplet-facing action shares (user, key, host keys, timeouts,
// jump host), read once into a typed object. Each action's inputs.ts calls readSshInputs
// with its InputReader; the action's deps turn the result into an SshPool.

import { ConfigurationError } from '../action/errors.js';
import type { InputReader } from '../action/inputs.js';
import type { Logger } from '../action/logger.js';
import { parseFingerprint } from '../action/parsers.js';
import { maskSecret } from '../action/secrets.js';
import { type HostKeyPolicy, parseKnownHosts } from './host-keys.js';
import { normalizePrivateKey } from './keys.js';
import type { SshSettings } from './node-ssh-host.js';
import { parseEndpoint, type SshEndpoint } from './target.js';

export interface SshInputs {
  user: string;
  port: number;
  privateKey: string;
  passphrase?: string;
  hostKeys: HostKeyPolicy;
  /** True when insecure-skip-host-key-check was set (the caller warns). */
  insecure: boolean;
  connectTimeoutMs: number;
  connectAttempts: number;
  commandTimeoutMs: number;
  keepaliveIntervalMs: number;
  jump?: SshEndpoint;
}

export const SSH_INPUT_NAMES = [
  'user',
  'ssh-port',
  'ssh-private-key',
  'ssh-passphrase',
  'known-hosts',
  'host-fingerprints',
  'insecure-skip-host-key-check',
  'jump-host',
  'connect-timeout',
  'connect-attempts',
  'command-timeout',
] as const;

export function readSshInputs(r: InputReader): SshInputs {
  const user = r.string('user', 'root');
  if (!/^[A-Za-z0-9._-]+$/.test(user))
    throw new ConfigurationError(`input "user" has ${JSON.stringify(user)}: not a user name`);
  const port = r.int('ssh-port', 22, { min: 1, max: 65535 });
  const passphrase = r.optional('ssh-passphrase');
  const key = normalizePrivateKey(r.raw('ssh-private-key'), passphrase, 'ssh-private-key');
  const insecure = r.bool('insecure-skip-host-key-check', false);
  const knownHosts = parseKnownHosts(r.lines('known-hosts').join('\n'), 'known-hosts');
  const fingerprints = r.list('host-fingerprints').map((f) => parseFingerprint('host-fingerprints', f));
  let hostKeys: HostKeyPolicy;
  if (insecure) {
    if (knownHosts.length || fingerprints.length) {
      throw new ConfigurationError(
        'input "insecure-skip-host-key-check" is true but "known-hosts"/"host-fingerprints" are given too: drop one',
      );
    }
    hostKeys = { kind: 'skip' };
  } else {
    if (!knownHosts.length && !fingerprints.length) {
      throw new ConfigurationError(
        'host keys are verified: give "known-hosts" (the output of `ssh-keyscan -t ed25519 <host>`) or "host-fingerprints" (SHA256:…); ' +
          '"insecure-skip-host-key-check: true" skips the check',
      );
    }
    hostKeys = { kind: 'verify', knownHosts, fingerprints };
  }
  const jumpSpec = r.optional('jump-host');
  return {
    user,
    port,
    privateKey: key.privateKey,
    ...(passphrase ? { passphrase } : {}),
    hostKeys,
    insecure,
    connectTimeoutMs: r.duration('connect-timeout', '20s', { minMs: 1000 }),
    connectAttempts: r.int('connect-attempts', 5, { min: 1, max: 20 }),
    commandTimeoutMs: r.duration('command-timeout', '10m', { minMs: 1000 }),
    keepaliveIntervalMs: 15_000,
    ...(jumpSpec ? { jump: parseEndpoint('jump-host', jumpSpec, user) } : {}),
  };
}

/**
 * Before any connection: the private key and its passphrase masked in the log, and a warning
 * when host keys are not verified. Every action that reads the SSH inputs calls this once.
 */
export function guardSshInputs(
  ssh: Pick<SshInputs, 'privateKey' | 'passphrase' | 'insecure'>,
  io: { setSecret(value: string): void; logger: Pick<Logger, 'warn'> },
): void {
  maskSecret((v) => io.setSecret(v), ssh.privateKey);
  if (ssh.passphrase) maskSecret((v) => io.setSecret(v), ssh.passphrase);
  if (ssh.insecure) {
    io.logger.warn(
      'host keys are NOT verified (insecure-skip-host-key-check: true): anyone on the path can impersonate the droplet',
    );
  }
}

export function sshSettings(inputs: SshInputs, logger: Logger, sleep?: (ms: number) => Promise<void>): SshSettings {
  return {
    privateKey: inputs.privateKey,
    ...(inputs.passphrase ? { passphrase: inputs.passphrase } : {}),
    hostKeys: inputs.hostKeys,
    connectTimeoutMs: inputs.connectTimeoutMs,
    connectAttempts: inputs.connectAttempts,
    commandTimeoutMs: inputs.commandTimeoutMs,
    keepaliveIntervalMs: inputs.keepaliveIntervalMs,
    ...(inputs.jump ? { jump: inputs.jump } : {}),
    logger,
    ...(sleep ? { sleep } : {}),
  };
}
