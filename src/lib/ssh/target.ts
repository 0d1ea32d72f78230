import { ConfigurationError } from '../action/errors.js';

/** Where to connect: one droplet (or the jump host in front of it). */
export interface SshEndpoint {
  host: string;
  port: number;
  user: string;
}

/** A droplet to deploy to: its address and a friendly name for logs. */
export interface HostTarget extends SshEndpoint {
  /** e.g. "web-1 (203.0.113.7)" or just the address. */
  label: string;
}

const HOSTNAME = /^[A-Za-z0-9]([A-Za-z0-9-]*[A-Za-z0-9])?(\.[A-Za-z0-9]([A-Za-z0-9-]*[A-Za-z0-9])?)*$/;
const IPV4 = /^\d{1,3}(\.\d{1,3}){3}$/;

function parsePortPart(inputName: string, spec: string, text: string): number {
  if (!/^\d+$/.test(text) || Number(text) < 1 || Number(text) > 65535) {
    throw new ConfigurationError(`input "${inputName}" has ${JSON.stringify(spec)}: port must be 1-65535`);
  }
  return Number(text);
}

/**
 * `[user@]host[:port]` or `[user@][ipv6]:port`. The user defaults to `defaultUser`,
 * the port to 22.
 */
export function parseEndpoint(inputName: string, spec: string, defaultUser: string): SshEndpoint {
  const s = spec.trim();
  let user = defaultUser;
  let rest = s;
  const at = s.lastIndexOf('@');
  if (at >= 0) {
    user = s.slice(0, at);
    rest = s.slice(at + 1);
    if (!/^[A-Za-z0-9._-]+$/.test(user)) {
      throw new ConfigurationError(
        `input "${inputName}" has ${JSON.stringify(spec)}: ${JSON.stringify(user)} is not a user name`,
      );
    }
  }
  let host = rest;
  let port = 22;
  const bracket = /^\[([^\]]+)\](?::(.*))?$/.exec(rest);
  if (bracket) {
    host = bracket[1] as string;
    if (bracket[2] !== undefined) port = parsePortPart(inputName, spec, bracket[2]);
  } else if ((rest.match(/:/g) ?? []).length === 1) {
    const [h = '', p = ''] = rest.split(':');
    host = h;
    port = parsePortPart(inputName, spec, p);
  }
  const validHost = IPV4.test(host)
    ? host.split('.').every((o) => Number(o) <= 255)
    : HOSTNAME.test(host) || host.includes(':');
  if (!host || !validHost) {
    throw new ConfigurationError(`input "${inputName}" has ${JSON.stringify(spec)}: not a host name or IP address`);
  }
  return { host, port, user };
}

export function endpointLabel(e: { host: string; port: number }): string {
  return e.port === 22 ? e.host : `${e.host}:${e.port}`;
}
