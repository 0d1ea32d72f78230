import ssh2 from 'ssh2';

import { ConfigurationError } from '../../lib/action/errors.js';
import { type InputGetter, InputReader } from '../../lib/action/inputs.js';
import { invalid, parseSshPublicKey } from '../../lib/action/parsers.js';
import { parseSizeToBytes } from '../../lib/cloud-init/cloud-config.js';
import { normalizeApiEndpoint } from '../../lib/digitalocean/endpoint.js';
import { type KnownHostEntry, parseKnownHosts } from '../../lib/ssh/host-keys.js';
import { normalizePrivateKey } from '../../lib/ssh/keys.js';

export type SwapSetting = { kind: 'auto' } | { kind: 'off' } | { kind: 'size'; bytes: number; text: string };

export type ReservedIpSetting = { kind: 'none' } | { kind: 'create' } | { kind: 'assign'; ip: string };

export interface FirewallPort {
  protocol: 'tcp' | 'udp';
  ports: string;
}

export interface Inputs {
  token: string;
  endpoint: string;
  /** The app name; also the tag every droplet of the fleet carries. */
  app: string;
  names: string[];
  region: string;
  size: string;
  image: string | number;
  /** Extra tags from the `tags` input (the app tag and host key tags are added by the action). */
  tags: string[];
  vpcUuid?: string;
  monitoring: boolean;
  backups: boolean;
  ipv6: boolean;
  /**
   * The public half of ssh-private-key (ssh-public-key, when given, must equal it): authorised
   * for the deploy user, and registered/reused in the account for root unless ssh-key-ids is given.
   */
  sshPublicKey: string;
  /** Existing account keys by id or MD5 fingerprint (for root, instead of registering sshPublicKey). */
  sshKeyIds: (number | string)[];
  sshKeyName: string;
  /** Used to check readiness over SSH as the deploy user. */
  sshPrivateKey: string;
  sshPassphrase?: string;
  userData?: string;
  deployUser: string;
  swap: SwapSetting;
  firewall: boolean;
  sshAllow: string[];
  firewallPorts: FirewallPort[];
  reservedIp: ReservedIpSetting;
  waitTimeoutMs: number;
  cleanupOnFailure: boolean;
  knownHosts: KnownHostEntry[];
}

const HOST_LABEL = /^[A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?$/;
const REGION = /^[a-z]{3}[0-9]$/;
const SIZE = /^[a-z0-9]+(-[a-z0-9]+)*$/;
const IMAGE_SLUG = /^[a-z0-9]([a-z0-9.-]*[a-z0-9])?$/;
const TAG = /^[A-Za-z0-9_:-]{1,255}$/;
const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;
const MD5_FINGERPRINT = /^[0-9a-f]{2}(:[0-9a-f]{2}){15}$/;
const USER = /^[a-z_][a-z0-9_-]{0,31}$/;
const IPV4 = /^(25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)(\.(25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)){3}$/;

function validName(input: string, name: string): string {
  if (name.length > 253 || !name.split('.').every((label) => HOST_LABEL.test(label))) {
    throw invalid(
      input,
      name,
      'not a valid hostname (letters, digits and hyphens; labels of 1-63 characters separated by dots; no leading or trailing hyphen)',
    );
  }
  return name;
}

function cidr(input: string, value: string): string {
  const [addr = '', bits, ...rest] = value.split('/');
  const v4 = IPV4.test(addr);
  const v6 = !v4 && /^[0-9a-fA-F:]+$/.test(addr) && addr.includes(':');
  const max = v4 ? 32 : 128;
  const okBits = bits === undefined || (/^\d{1,3}$/.test(bits) && Number(bits) <= max);
  if ((!v4 && !v6) || !okBits || rest.length > 0) {
    throw invalid(input, value, 'expected an IP address or CIDR range such as 203.0.113.0/24 or ::/0');
  }
  return value;
}

function firewallPort(input: string, value: string): FirewallPort {
  const m = /^(\d{1,5})(?:-(\d{1,5}))?(?:\/(tcp|udp))?$/.exec(value);
  const lo = Number(m?.[1]);
  const hi = m?.[2] !== undefined ? Number(m[2]) : lo;
  if (!m || lo < 1 || hi > 65535 || hi < lo) {
    throw invalid(input, value, 'expected a port or range with an optional protocol: 8080, 8000-8100, 53/udp');
  }
  return { protocol: (m[3] as 'tcp' | 'udp' | undefined) ?? 'tcp', ports: m[2] ? `${lo}-${hi}` : String(lo) };
}

function publicKeyOfPrivate(privateKey: string, passphrase: string | undefined): string {
  const parsed = ssh2.utils.parseKey(privateKey, passphrase);
  if (parsed instanceof Error)
    throw new ConfigurationError(`input "ssh-private-key" could not be read: ${parsed.message}`);
  const key = Array.isArray(parsed) ? (parsed[0] as ssh2.ParsedKey) : parsed;
  return `${key.type} ${key.getPublicSSH().toString('base64')}`;
}

/** Reads and checks every input; throws a ConfigurationError naming the input and value before any API call. */
export function readInputs(io: { getInput: InputGetter }): Inputs {
  const r = new InputReader((name) => io.getInput(name));
  const token = r.required('token');
  const endpoint = normalizeApiEndpoint(r.raw('api-endpoint'));
  const waitTimeoutMs = r.duration('wait-timeout', '10m', { minMs: 10_000, maxMs: 2 * 3_600_000 });

  const mode = ((): 'one' | 'fleet' => {
    if (r.has('name') && r.has('name-prefix')) {
      throw new ConfigurationError('inputs "name" and "name-prefix" cannot be used together; give only one');
    }
    if (r.has('name')) {
      // count: 1 is harmless with name (and what a default would pass); anything else is a mistake
      if (r.has('count') && r.raw('count') !== '1') {
        throw new ConfigurationError(
          'input "count" goes with "name-prefix", not with "name" (which makes one droplet)',
        );
      }
      return 'one';
    }
    if (r.has('name-prefix')) return 'fleet';
    throw new ConfigurationError(
      'one of the inputs "name" (one droplet) or "name-prefix" with "count" (a fleet) is required',
    );
  })();
  let names: string[];
  let defaultApp: string;
  if (mode === 'one') {
    const name = validName('name', r.raw('name'));
    names = [name];
    defaultApp = name.split('.')[0] as string;
  } else {
    const prefix = r.raw('name-prefix');
    validName('name-prefix', `${prefix}-1`);
    if (!HOST_LABEL.test(`${prefix}-100`) && !prefix.includes('.')) {
      throw invalid('name-prefix', prefix, 'too long: names are <prefix>-<n> and must stay within 63 characters');
    }
    const count = r.int('count', 1, { min: 1, max: 100 });
    names = Array.from({ length: count }, (_, i) => `${prefix}-${i + 1}`);
    names.forEach((n) => validName('name-prefix', n));
    defaultApp = prefix;
  }

  const app = r.string('app', defaultApp.toLowerCase());
  if (!/^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$/.test(app)) {
    throw invalid('app', app, 'expected lowercase letters, digits and hyphens (it names the app tag and /opt/<app>)');
  }

  const region = r.string('region', 'nyc3');
  if (!REGION.test(region)) throw invalid('region', region, 'not a region slug such as nyc3, fra1, sgp1');
  const size = r.string('size', 's-1vcpu-1gb');
  if (!SIZE.test(size)) throw invalid('size', size, 'not a size slug such as s-1vcpu-1gb or s-2vcpu-4gb');
  const imageText = r.string('image', 'docker-20-04');
  let image: string | number;
  if (/^\d+$/.test(imageText)) image = Number(imageText);
  else if (IMAGE_SLUG.test(imageText)) image = imageText;
  else
    throw invalid('image', imageText, 'not an image slug (e.g. ubuntu-24-04-x64, docker-20-04) or a numeric image id');

  const tags = r.list('tags');
  for (const t of tags)
    if (!TAG.test(t)) throw invalid('tags', t, 'tag names allow only letters, digits, "_", ":" and "-" (at most 255)');

  const vpcUuid = r.optional('vpc-uuid');
  if (vpcUuid && !UUID.test(vpcUuid)) throw invalid('vpc-uuid', vpcUuid, 'not a VPC UUID');

  const passphrase = r.optional('ssh-passphrase');
  const sshPrivateKey = normalizePrivateKey(r.raw('ssh-private-key'), passphrase, 'ssh-private-key').privateKey;
  const derivedPublic = publicKeyOfPrivate(sshPrivateKey, passphrase);
  const sshKeyIds = r.list('ssh-key-ids').map((v): number | string => {
    if (/^\d+$/.test(v)) return Number(v);
    if (MD5_FINGERPRINT.test(v)) return v;
    throw invalid(
      'ssh-key-ids',
      v,
      'expected a numeric key id or an MD5 fingerprint (aa:bb:…) from the DigitalOcean account',
    );
  });
  const sshPublicKey = derivedPublic;
  if (r.has('ssh-public-key')) {
    const parsed = parseSshPublicKey('ssh-public-key', r.raw('ssh-public-key'));
    if (parsed.line !== derivedPublic) {
      throw new ConfigurationError(
        'input "ssh-public-key" is not the public half of "ssh-private-key": the action could not log in to check the droplets',
      );
    }
  }

  const deployUser = r.string('deploy-user', 'deploy');
  if (!USER.test(deployUser) || deployUser === 'root') {
    throw invalid(
      'deploy-user',
      deployUser,
      'expected a non-root Linux user name (lowercase letters, digits, "_" and "-")',
    );
  }

  const swapText = r.string('swap', 'auto');
  let swap: SwapSetting;
  if (swapText === 'auto') swap = { kind: 'auto' };
  else if (['off', 'false', '0', 'none'].includes(swapText)) swap = { kind: 'off' };
  else {
    const bytes = parseSizeToBytes(swapText);
    if (bytes === undefined || bytes < 64 * 1024 ** 2 || bytes > 64 * 1024 ** 3) {
      throw invalid('swap', swapText, 'expected auto, off, or a size between 64M and 64G such as 1G or 512M');
    }
    swap = { kind: 'size', bytes, text: swapText };
  }

  const firewall = r.bool('firewall', false);
  const sshAllow = r.has('ssh-allow') ? r.list('ssh-allow').map((v) => cidr('ssh-allow', v)) : ['0.0.0.0/0', '::/0'];
  const firewallPorts = r.list('firewall-ports').map((v) => firewallPort('firewall-ports', v));
  if (!firewall) {
    for (const name of ['ssh-allow', 'firewall-ports']) {
      if (r.has(name)) throw new ConfigurationError(`input "${name}" needs "firewall: true"`);
    }
  }

  const reservedText = r.raw('reserved-ip');
  let reservedIp: ReservedIpSetting;
  if (!reservedText || reservedText === 'false' || reservedText === 'none') reservedIp = { kind: 'none' };
  else if (reservedText === 'create' || reservedText === 'true') reservedIp = { kind: 'create' };
  else if (IPV4.test(reservedText)) reservedIp = { kind: 'assign', ip: reservedText };
  else throw invalid('reserved-ip', reservedText, 'expected "create" or the address of an existing reserved IP');
  if (reservedIp.kind !== 'none' && names.length !== 1) {
    throw new ConfigurationError(
      `input "reserved-ip" needs exactly one droplet, but ${names.length} are asked for; put a load balancer in front of a fleet`,
    );
  }

  return {
    token,
    endpoint,
    app,
    names,
    region,
    size,
    image,
    tags,
    ...(vpcUuid ? { vpcUuid } : {}),
    monitoring: r.bool('monitoring', true),
    backups: r.bool('backups', false),
    ipv6: r.bool('ipv6', false),
    sshPublicKey,
    sshKeyIds,
    sshKeyName: r.string('ssh-key-name', `droplet-deploy-${app}`),
    sshPrivateKey,
    ...(passphrase ? { sshPassphrase: passphrase } : {}),
    ...(r.has('user-data') ? { userData: io.getInput('user-data') } : {}),
    deployUser,
    swap,
    firewall,
    sshAllow,
    firewallPorts,
    reservedIp,
    waitTimeoutMs,
    cleanupOnFailure: r.bool('cleanup-on-failure', true),
    knownHosts: parseKnownHosts(r.lines('known-hosts').join('\n'), 'known-hosts'),
  };
}
