// `transfer` delivery: push images from the runner's Docker to a droplet over the SSH
// connection, sending only the layers the droplet lacks.
//
// How: `docker load` looks each layer up by its chain id and reads a layer file from the
// archive only when that chain is missing. So we ask the droplet which layer chains its
// images already have (`docker image inspect` RootFS.Layers), `docker save` the image on the
// runner into a temporary file, and stream a copy of that archive with the layer files of
// the already-present chain prefix left out (manifest, config and the missing layers kept),
// gzip-compressed, into `docker load` on the droplet. Works with the legacy (<layer>/layer.tar)
// and the OCI (blobs/sha256/…) layouts `docker save` writes.
//
// Chosen over a temporary registry on the droplet + a tunnel (unregistry's `docker pussh`):
// that needs a registry image on the droplet first and the runner's dockerd to push to the
// tunnel; this needs nothing but `docker load`, which every droplet has.
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import {
  createReadStream,
  createWriteStream,
  mkdtempSync,
  openSync,
  readSync,
  closeSync,
  rmSync,
  statSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { join, posix } from 'node:path';
import type { Readable } from 'node:stream';
import { PassThrough, Transform, Writable } from 'node:stream';
import { createGzip } from 'node:zlib';

import type { Logger } from '../action/logger.js';
import { cmd, pipe } from '../commands/cmd.js';
import type { RemoteHost } from '../ssh/executor.js';

export interface TransferStats {
  ref: string;
  /** Bytes that went over the SSH channel (compressed archive). */
  bytesSent: number;
  /** Layers the droplet already had / that were sent. */
  layersSkipped: number;
  layersSent: number;
  /** Uncompressed size of the layer files that were sent. */
  layerBytesSent: number;
  alreadyPresent: boolean;
}

interface TarEntry {
  name: string;
  /** Offset of the first header block belonging to this entry (pax/longname headers included). */
  start: number;
  /** Offset just past the entry's padded data. */
  end: number;
  size: number;
  type: string;
  linkname: string;
}

function readOctal(buf: Buffer, offset: number, length: number): number {
  const field = buf.subarray(offset, offset + length);
  if ((field[0] ?? 0) & 0x80) {
    // base-256 (GNU) for sizes over 8 GiB
    let n = 0;
    for (let i = 1; i < field.length; i += 1) n = n * 256 + (field[i] ?? 0);
    return n;
  }
  const text = field.toString('latin1').replace(/\0.*$/s, '').trim();
  return text ? parseInt(text, 8) : 0;
}

function cString(buf: Buffer, offset: number, length: number): string {
  return buf
    .subarray(offset, offset + length)
    .toString('utf8')
    .replace(/\0.*$/s, '');
}

function parsePax(data: Buffer): Record<string, string> {
  const out: Record<string, string> = {};
  let i = 0;
  while (i < data.length) {
    const space = data.indexOf(0x20, i);
    if (space < 0) break;
    const len = Number(data.subarray(i, space).toString('latin1'));
    if (!len) break;
    const record = data.subarray(space + 1, i + len - 1).toString('utf8');
    const eq = record.indexOf('=');
    out[record.slice(0, eq)] = record.slice(eq + 1);
    i += len;
  }
  return out;
}

/** Lists the entries of a tar file by reading only its headers. */
export function listTar(path: string): TarEntry[] {
  const fd = openSync(path, 'r');
  const header = Buffer.alloc(512);
  const entries: TarEntry[] = [];
  let offset = 0;
  let pending: { start: number; name?: string; linkname?: string } | undefined;
  try {
    for (;;) {
      if (readSync(fd, header, 0, 512, offset) < 512) break;
      if (header.every((b) => b === 0)) break;
      const size = readOctal(header, 124, 12);
      const type = String.fromCharCode(header[156] || 48);
      const dataStart = offset + 512;
      const end = dataStart + Math.ceil(size / 512) * 512;
      const start = pending?.start ?? offset;
      if (type === 'x' || type === 'L' || type === 'K') {
        const data = Buffer.alloc(size);
        readSync(fd, data, 0, size, dataStart);
        pending ??= { start: offset };
        if (type === 'x') {
          const pax = parsePax(data);
          if (pax['path']) pending.name = pax['path'];
          if (pax['linkpath']) pending.linkname = pax['linkpath'];
        } else if (type === 'L') pending.name = data.toString('utf8').replace(/\0.*$/s, '');
        else pending.linkname = data.toString('utf8').replace(/\0.*$/s, '');
        offset = end;
        continue;
      }
      if (type === 'g') {
        offset = end;
        continue;
      }
      const prefix = cString(header, 345, 155);
      const base = cString(header, 0, 100);
      const name = pending?.name ?? (prefix ? `${prefix}/${base}` : base);
      const linkname = pending?.linkname ?? cString(header, 157, 100);
      entries.push({ name: name.replace(/^\.\//, ''), start, end, size, type, linkname });
      pending = undefined;
      offset = end;
    }
  } finally {
    closeSync(fd);
  }
  return entries;
}

function readEntry(path: string, entry: TarEntry): Buffer {
  const fd = openSync(path, 'r');
  try {
    const data = Buffer.alloc(entry.size);
    readSync(fd, data, 0, entry.size, entry.end - Math.ceil(entry.size / 512) * 512);
    return data;
  } finally {
    closeSync(fd);
  }
}

interface SaveManifest {
  Config: string;
  RepoTags: string[] | null;
  Layers: string[];
}

/** The archive names of the layer files to leave out, given how many leading layers the droplet has. */
export function layersToDrop(
  entries: readonly TarEntry[],
  manifest: SaveManifest,
  presentPrefix: number,
): { drop: Set<string>; keptLayerBytes: number } {
  const drop = new Set(manifest.Layers.slice(0, presentPrefix).map((l) => posix.normalize(l)));
  // a kept layer may be a symlink to a dropped one (identical layers): keep its target
  for (const layer of manifest.Layers.slice(presentPrefix)) {
    const e = entries.find((x) => x.name === posix.normalize(layer));
    if (e && e.type === '2') drop.delete(posix.normalize(posix.join(posix.dirname(e.name), e.linkname)));
  }
  const keptLayerBytes = manifest.Layers.slice(presentPrefix).reduce((sum, l) => {
    const e = entries.find((x) => x.name === posix.normalize(l));
    return sum + (e?.size ?? 0);
  }, 0);
  return { drop, keptLayerBytes };
}

/** Streams the archive without the dropped entries (header blocks and data copied verbatim). */
export function filteredTar(path: string, entries: readonly TarEntry[], drop: ReadonlySet<string>): Readable {
  const kept = entries.filter((e) => !drop.has(e.name));
  const out = new PassThrough();
  void (async () => {
    try {
      for (const e of kept) {
        if (e.end <= e.start) continue;
        for await (const chunk of createReadStream(path, { start: e.start, end: e.end - 1 })) {
          if (!out.write(chunk as Buffer)) await once(out, 'drain');
        }
      }
      out.end(Buffer.alloc(1024));
    } catch (error) {
      out.destroy(error as Error);
    }
  })();
  return out;
}

/** Length of the longest prefix of `layers` that some image on the droplet has (same chain). */
export function presentPrefix(layers: readonly string[], remoteChains: readonly (readonly string[])[]): number {
  let best = 0;
  for (const chain of remoteChains) {
    let n = 0;
    while (n < layers.length && n < chain.length && chain[n] === layers[n]) n += 1;
    best = Math.max(best, n);
  }
  return best;
}

export interface LocalDocker {
  /** `docker image inspect` JSON of a local image (undefined if missing). */
  inspect(ref: string): Promise<{ Id: string; RootFS: { Layers: string[] } } | undefined>;
  /** `docker save ref` into a file. */
  save(ref: string, file: string): Promise<void>;
}

function runDocker(
  binary: string,
  args: string[],
  stdout?: Writable,
): Promise<{ code: number; out: string; err: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(binary, args, { stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    let err = '';
    if (stdout) child.stdout.pipe(stdout);
    else child.stdout.on('data', (d: Buffer) => (out += d.toString('utf8')));
    child.stderr.on('data', (d: Buffer) => (err += d.toString('utf8')));
    child.on('error', reject);
    child.on('close', (code) => resolve({ code: code ?? 1, out, err }));
  });
}

export function localDocker(binary = 'docker'): LocalDocker {
  return {
    async inspect(ref) {
      const r = await runDocker(binary, ['image', 'inspect', '--format', '{{json .}}', ref]);
      if (r.code !== 0) return undefined;
      return JSON.parse(r.out) as { Id: string; RootFS: { Layers: string[] } };
    },
    async save(ref, file) {
      const sink = createWriteStream(file);
      const done = new Promise<void>((res, rej) => {
        sink.on('finish', res);
        sink.on('error', rej);
      });
      const r = await runDocker(binary, ['save', ref], sink);
      await done;
      if (r.code !== 0) throw new Error(`docker save ${ref} failed: ${r.err.trim()}`);
    },
  };
}

/** The droplet's image layer chains (one RootFS.Layers list per image). */
export async function remoteChains(host: RemoteHost): Promise<string[][]> {
  const r = await host.run(
    pipe(
      cmd('docker', 'image', 'ls', '--quiet', '--no-trunc'),
      cmd('xargs', '-r', 'docker', 'image', 'inspect', '--format', '{{json .RootFS.Layers}}'),
    ),
    { allowFailure: true, timeoutMs: 60_000 },
  );
  return r.stdout
    .split('\n')
    .filter((l) => l.trim().startsWith('['))
    .map((l) => JSON.parse(l) as string[]);
}

class Counter extends Transform {
  bytes = 0;
  override _transform(chunk: Buffer, _enc: string, done: (e?: Error | null, data?: Buffer) => void): void {
    this.bytes += chunk.length;
    done(null, chunk);
  }
}

export interface TransferOptions {
  docker?: LocalDocker;
  /** gzip level for the stream (0 = no compression). */
  gzipLevel?: number;
  timeoutMs?: number;
  tmpDir?: string;
}

/** Sends one image; returns what went over the wire. */
export async function transferImage(
  host: RemoteHost,
  ref: string,
  log: Logger,
  options: TransferOptions = {},
): Promise<TransferStats> {
  const docker = options.docker ?? localDocker();
  const local = await docker.inspect(ref);
  if (!local) throw new Error(`image ${ref} is not in the runner's Docker (build or pull it in an earlier step)`);
  const layers = local.RootFS.Layers;
  const there = await host.run(cmd('docker', 'image', 'inspect', '--format', '{{.Id}}', local.Id), {
    allowFailure: true,
    timeoutMs: 30_000,
  });
  if (there.code === 0) {
    await host.run(cmd('docker', 'tag', local.Id, ref), { timeoutMs: 30_000 });
    log.info(`${ref}: already on the droplet (${local.Id.slice(7, 19)}), nothing sent`);
    return { ref, bytesSent: 0, layersSkipped: layers.length, layersSent: 0, layerBytesSent: 0, alreadyPresent: true };
  }
  const present = presentPrefix(layers, await remoteChains(host));
  const dir = mkdtempSync(join(options.tmpDir ?? tmpdir(), 'dd-transfer-'));
  try {
    const file = join(dir, 'image.tar');
    await docker.save(ref, file);
    const entries = listTar(file);
    const manifestEntry = entries.find((e) => e.name === 'manifest.json');
    if (!manifestEntry) throw new Error(`docker save ${ref} wrote no manifest.json`);
    const manifests = JSON.parse(readEntry(file, manifestEntry).toString('utf8')) as SaveManifest[];
    const manifest = manifests[0];
    if (!manifest || manifest.Layers.length !== layers.length) {
      throw new Error(`docker save ${ref}: the archive's manifest does not match the image's layers`);
    }
    const { drop, keptLayerBytes } = layersToDrop(entries, manifest, present);
    const counter = new Counter();
    const level = options.gzipLevel ?? 1;
    const source = filteredTar(file, entries, drop);
    const body = level > 0 ? source.pipe(createGzip({ level })) : source;
    const stdin = body.pipe(counter);
    const sink = new Writable({ write: (_c, _e, done) => done() });
    log.info(
      `${ref}: droplet has ${present} of ${layers.length} layers; sending ${layers.length - present} (${keptLayerBytes} bytes before compression, archive ${statSync(file).size} bytes)`,
    );
    const loaded = await host.stream(cmd('docker', 'load'), {
      stdout: sink,
      stdin,
      ...(options.timeoutMs ? { timeoutMs: options.timeoutMs } : {}),
    });
    if (loaded.code !== 0)
      throw new Error(
        `docker load of ${ref} failed on ${host.label}: ${loaded.stderr.trim().split('\n').slice(-3).join(' ')}`,
      );
    await host.run(cmd('docker', 'tag', local.Id, ref), { timeoutMs: 30_000 });
    return {
      ref,
      bytesSent: counter.bytes,
      layersSkipped: present,
      layersSent: layers.length - present,
      layerBytesSent: keptLayerBytes,
      alreadyPresent: false,
    };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

/** `transfer` delivery for deploy-compose. */
export class LocalDockerTransfer {
  readonly stats: TransferStats[] = [];
  constructor(private readonly options: TransferOptions = {}) {}

  async send(host: RemoteHost, refs: readonly string[], log: Logger): Promise<{ bytesSent: number }> {
    let bytesSent = 0;
    for (const ref of refs) {
      const s = await transferImage(host, ref, log, this.options);
      this.stats.push(s);
      bytesSent += s.bytesSent;
    }
    return { bytesSent };
  }
}
