import { ConfigurationError } from '../../lib/action/errors.js';
import type { InputGetter } from '../../lib/action/inputs.js';
import { InputReader } from '../../lib/action/inputs.js';
import {
  type CheckDefinition,
  type DefinitionDefaults,
  parseCheckList,
  shorthandDefinition,
} from '../../lib/health/definitions.js';
import { runsOnDroplet } from '../../lib/health/gate.js';
import { usesHostPlaceholder } from '../../lib/health/definitions.js';
import { readSshInputs, type SshInputs as SharedSshInputs } from '../../lib/ssh/inputs.js';
import { endpointLabel, type HostTarget, parseEndpoint } from '../../lib/ssh/target.js';

/** The droplets the in-droplet checks run on, and the shared SSH settings (src/lib/ssh/inputs.ts). */
export interface SshInputs {
  targets: HostTarget[];
  settings: SharedSshInputs;
}

export interface Inputs {
  checks: CheckDefinition[];
  /** Droplets from input host/hosts (for in-droplet checks and runner checks written with {host}). */
  targets: HostTarget[];
  /** Overall deadline (input `timeout`). */
  timeoutMs: number;
  /** Present when a check runs on droplets (container, or http with via: droplet). */
  ssh?: SshInputs;
  /** Values to mask and redact: secret header values, URL passwords. */
  secrets: string[];
  /** URLs holding credentials (masked in their derived forms too). */
  secretUrls: string[];
}

function readTargets(r: InputReader): HostTarget[] {
  if (r.has('host') && r.has('hosts'))
    throw new ConfigurationError('inputs "host" and "hosts" cannot be used together; give only one');
  const name = r.has('host') ? 'host' : 'hosts';
  const user = r.string('user', 'root');
  return r.list(name).map((spec): HostTarget => {
    const e = parseEndpoint(name, spec, user);
    return { ...e, label: endpointLabel(e) };
  });
}

function readSsh(r: InputReader, checks: readonly CheckDefinition[], targets: HostTarget[]): SshInputs | undefined {
  const droplet = checks.filter(runsOnDroplet);
  const templated = checks.find(usesHostPlaceholder);
  if (templated && targets.length === 0) {
    throw new ConfigurationError(
      `${templated.where} ("${templated.name}") uses {host}, so input "host" (or "hosts") is required`,
    );
  }
  if (droplet.length === 0) return undefined;
  const first = droplet[0] as CheckDefinition;
  if (targets.length === 0) {
    throw new ConfigurationError(
      `${first.where} ("${first.name}") runs on the droplet, so input "host" (or "hosts") is required`,
    );
  }
  if (!r.has('ssh-private-key'))
    throw new ConfigurationError(
      `${first.where} ("${first.name}") runs on the droplet, so input "ssh-private-key" is required`,
    );
  return { targets, settings: readSshInputs(r) };
}

export function readInputs(io: { getInput: InputGetter }): Inputs {
  const r = new InputReader((name) => io.getInput(name));
  for (const name of ['timeout', 'interval', 'start-delay', 'latency-budget']) {
    if (r.raw(name).startsWith('-'))
      throw new ConfigurationError(`input "${name}" has ${JSON.stringify(r.raw(name))}: must not be negative`);
  }
  const timeoutMs = r.duration('timeout', '2m', { minMs: 1 });
  const defaults: DefinitionDefaults = {
    intervalMs: r.duration('interval', '2s'),
    successes: r.int('successes', 1, { min: 1, max: 1000 }),
    timeoutMs,
    startDelayMs: r.duration('start-delay', '0s'),
    ...(r.has('latency-budget') ? { latencyBudgetMs: r.duration('latency-budget', '1s', { minMs: 1 }) } : {}),
    ...(r.has('app') ? { app: r.string('app') } : {}),
  };
  const checks = parseCheckList(r.raw('checks'), defaults, 'checks');
  if (r.has('url')) {
    const shorthand = shorthandDefinition(r.raw('url'), r.raw('expect-status'), defaults);
    if (checks.some((c) => c.name === shorthand.name))
      throw new ConfigurationError(`input "url" repeats the check "${shorthand.name}" from "checks"`);
    checks.push(shorthand);
  } else if (r.has('expect-status')) {
    throw new ConfigurationError(
      'input "expect-status" applies to input "url", which is not set (in "checks" use expect-status per check)',
    );
  }
  if (checks.length === 0) throw new ConfigurationError('no checks given: set input "url" or "checks"');

  const secrets: string[] = [];
  const secretUrls: string[] = [];
  for (const c of checks) {
    if (c.kind !== 'http') continue;
    for (const [name, value] of Object.entries(c.headers)) {
      if (c.secretHeaders.includes(name.toLowerCase())) {
        secrets.push(value);
        // "Bearer <token>" / "Basic <b64>": the credential alone too.
        const cred = /^\S+\s+(\S{3,})$/.exec(value);
        if (cred) secrets.push(cred[1] as string);
      }
    }
    const password = new URL(c.url.split('{host}').join('127.0.0.1')).password;
    if (password) {
      secretUrls.push(c.url);
      secrets.push(decodeURIComponent(password));
    }
  }
  const targets = readTargets(r);
  const ssh = readSsh(r, checks, targets);
  return { checks, targets, timeoutMs, ...(ssh ? { ssh } : {}), secrets, secretUrls };
}
