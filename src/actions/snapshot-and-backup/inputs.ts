import { ConfigurationError } from '../../lib/action/errors.js';
import type { InputGetter } from '../../lib/action/inputs.js';
import { InputReader } from '../../lib/action/inputs.js';
import { parseInteger } from '../../lib/action/parsers.js';
import { DEFAULT_ITERATIONS } from '../../lib/backup/encryption.js';
import { DEFAULT_GZIP_LEVEL } from '../../lib/backup/pipeline.js';
import { type DumpSpec, parseDumps } from '../../lib/backup/spec.js';
import { readSpacesInputs, type SpacesSettings } from '../../lib/backup/spaces.js';
import type { RetentionPolicy } from '../../lib/backup/retention.js';
import { validateAppName } from '../../lib/release/model.js';
import { DEFAULT_SNAPSHOT_TEMPLATE, validateTemplate } from '../../lib/snapshots/naming.js';
import { readSshInputs, type SshInputs } from '../../lib/ssh/inputs.js';
import { parseEndpoint, type SshEndpoint } from '../../lib/ssh/target.js';

export type Targets =
  | { kind: 'names'; names: string[] }
  | { kind: 'ids'; ids: number[] }
  | { kind: 'tag'; tag: string }
  | { kind: 'hosts'; hosts: SshEndpoint[] };

export type Mode = 'backup' | 'restore' | 'verify';

export interface Inputs {
  app: string;
  mode: Mode;
  targets: Targets;
  token?: string;
  apiEndpoint: string;
  address: 'public' | 'private';
  /** Needed only when dumps run (or restore/verify). */
  ssh?: SshInputs;
  /** Which droplet the dumps run on when several are targeted. */
  backupDroplet?: string;
  snapshot: boolean;
  snapshotTemplate: string;
  snapshotTag: string;
  powerOff: boolean;
  snapshotTimeoutMs: number;
  snapshotRetention: RetentionPolicy;
  dumps: DumpSpec[];
  spaces?: SpacesSettings;
  retention: RetentionPolicy;
  passphrase?: string;
  iterations: number;
  verify: boolean;
  releaseId?: string;
  deployRoot: string;
  dumpTimeoutMs: number;
  backupKey: string;
  restoreDump?: string;
  confirmRestore: string;
  gzipLevel: number;
  /** Multipart upload: bytes per part and parts in flight (memory ≈ (concurrency + 2) × part size). */
  uploadPartSize: number;
  uploadConcurrency: number;
}

const TAG = /^[A-Za-z0-9_:-]{1,255}$/;

function retention(r: InputReader, keepName: string, ageName: string): RetentionPolicy {
  const keepRaw = r.optional(keepName);
  const ageRaw = r.optional(ageName);
  return {
    ...(keepRaw ? { keepLast: parseInteger(keepName, keepRaw, { min: 1, max: 10_000 }) } : {}),
    ...(ageRaw ? { maxAgeMs: r.duration(ageName, ageRaw, { minMs: 60_000 }) } : {}),
  };
}

function readTargets(r: InputReader, user: string, port: number): Targets | undefined {
  const given = ['droplet-name', 'droplet-ids', 'droplet-tag', 'hosts'].filter((n) => r.has(n));
  if (given.length > 1) {
    throw new ConfigurationError(
      `inputs ${given.map((n) => `"${n}"`).join(' and ')} cannot be used together; give only one`,
    );
  }
  switch (given[0]) {
    case 'droplet-name':
      return { kind: 'names', names: r.list('droplet-name') };
    case 'droplet-ids':
      return { kind: 'ids', ids: r.list('droplet-ids').map((id) => parseInteger('droplet-ids', id, { min: 1 })) };
    case 'droplet-tag':
      return { kind: 'tag', tag: r.required('droplet-tag') };
    case 'hosts':
      return {
        kind: 'hosts',
        hosts: r.list('hosts').map((h) => {
          const e = parseEndpoint('hosts', h, user);
          return /:\d+$/.test(h.trim()) ? e : { ...e, port };
        }),
      };
    default:
      return undefined;
  }
}

export function readInputs(io: { getInput: InputGetter }): Inputs {
  const r = new InputReader((name) => io.getInput(name));
  const app = validateAppName('app', r.required('app'));
  const mode = r.enum<Mode>('mode', ['backup', 'restore', 'verify'], 'backup');
  const dumps = parseDumps(r.raw('dumps'));
  const needsSsh = dumps.length > 0;
  const ssh = needsSsh ? readSshInputs(r) : undefined;
  const targets = readTargets(r, ssh?.user ?? 'root', ssh?.port ?? 22);
  if (!targets)
    throw new ConfigurationError(
      'one of the inputs "droplet-name", "droplet-ids", "droplet-tag" or "hosts" is required',
    );
  const token = r.optional('token');
  if (targets.kind !== 'hosts' && !token)
    throw new ConfigurationError('input "token" is required to find droplets by name, id or tag');
  const snapshot = mode === 'backup' && r.bool('snapshot', targets.kind !== 'hosts');
  if (snapshot && targets.kind === 'hosts') {
    throw new ConfigurationError(
      'input "snapshot" needs droplets from the DigitalOcean API: use "droplet-name", "droplet-ids" or "droplet-tag" instead of "hosts"',
    );
  }
  const snapshotTemplate = r.string('snapshot-name', DEFAULT_SNAPSHOT_TEMPLATE);
  validateTemplate(snapshotTemplate);
  const snapshotTag = r.string('snapshot-tag', `droplet-deploy-${app}`.replace(/_/g, '-'));
  if (!TAG.test(snapshotTag))
    throw new ConfigurationError(
      `input "snapshot-tag" has ${JSON.stringify(snapshotTag)}: a tag is letters, digits, "_", ":" and "-"`,
    );

  let spaces: SpacesSettings | undefined;
  if (dumps.length > 0) {
    spaces = readSpacesInputs(r, app);
  } else if (mode !== 'backup') {
    throw new ConfigurationError(`mode "${mode}" needs "dumps" (the dump to ${mode}, as in the backup step)`);
  }
  if (mode === 'backup' && !snapshot && dumps.length === 0) {
    throw new ConfigurationError('nothing to do: "snapshot" is false and "dumps" is empty');
  }

  const passphrase = r.optional('encryption-passphrase');
  const restoreDump = r.optional('dump');
  if (restoreDump && !dumps.some((d) => d.name === restoreDump)) {
    throw new ConfigurationError(
      `input "dump" has ${JSON.stringify(restoreDump)}: no dump of that name in "dumps" (${dumps.map((d) => d.name).join(', ')})`,
    );
  }
  if (mode !== 'backup' && !restoreDump && dumps.length > 1) {
    throw new ConfigurationError(`mode "${mode}" with several dumps: name the one to ${mode} with input "dump"`);
  }
  const confirmRestore = r.string('confirm-restore');
  if (mode === 'restore' && confirmRestore !== app) {
    throw new ConfigurationError(
      `mode "restore" replaces live data: set input "confirm-restore" to the app name (${JSON.stringify(app)}) to confirm. Nothing was changed.`,
    );
  }
  const releaseId = r.optional('release-id');
  const backupDroplet = r.optional('backup-droplet');
  return {
    app,
    mode,
    targets,
    ...(token ? { token } : {}),
    apiEndpoint: r.string('api-endpoint', 'https://api.digitalocean.com'),
    address: r.enum('address', ['public', 'private'] as const, 'public'),
    ...(ssh ? { ssh } : {}),
    ...(backupDroplet ? { backupDroplet } : {}),
    snapshot,
    snapshotTemplate,
    snapshotTag,
    powerOff: r.bool('power-off', false),
    snapshotTimeoutMs: r.duration('snapshot-timeout', '30m', { minMs: 10_000 }),
    snapshotRetention: retention(r, 'snapshot-keep-last', 'snapshot-max-age'),
    dumps,
    ...(spaces ? { spaces } : {}),
    retention: retention(r, 'keep-last', 'max-age'),
    ...(passphrase ? { passphrase } : {}),
    iterations: r.int('encryption-iterations', DEFAULT_ITERATIONS, { min: 10_000, max: 10_000_000 }),
    verify: mode === 'verify' || r.bool('verify', false),
    ...(releaseId ? { releaseId } : {}),
    deployRoot: r.string('deploy-root', '/opt'),
    dumpTimeoutMs: r.duration('dump-timeout', '2h', { minMs: 10_000 }),
    backupKey: r.string('backup-key', 'latest'),
    ...(restoreDump ? { restoreDump } : {}),
    confirmRestore,
    gzipLevel: r.int('gzip-level', DEFAULT_GZIP_LEVEL, { min: 1, max: 9 }),
    uploadPartSize: r.int('upload-part-size-mb', 5, { min: 5, max: 512 }) * 1024 * 1024,
    uploadConcurrency: r.int('upload-concurrency', 2, { min: 1, max: 16 }),
  };
}
