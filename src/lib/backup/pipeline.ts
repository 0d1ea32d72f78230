import { createHash } from 'node:crypto';
import { PassThrough, type Readable, Transform, type TransformCallback, Writable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { createGunzip, createGzip } from 'node:zlib';

import type { Logger } from '../action/logger.js';
import { render, type Script } from '../commands/cmd.js';
import type { RemoteHost } from '../ssh/executor.js';
import { createDecryptStream, createEncryptStream, DEFAULT_ITERATIONS, encryptionParams } from './encryption.js';
import { type BackupManifest, backupKeys } from './manifest.js';
import type { Compression, DumpKind } from './spec.js';
import type { BackupStore } from './store.js';

// droplet → runner → Spaces without touching the droplet's disk or holding the dump in
// memory: the remote command's stdout is piped (RemoteHost.stream) through byte counting,
// optional gzip, optional openssl-compatible encryption, SHA-256 + byte counting, into a
// multipart upload with bounded parts. The manifest is written only after the upload AND
// the dump command both succeeded.

/** Buffer of the PassThroughs around the transforms (bytes). */
const STREAM_BUFFER = 256 * 1024;

/**
 * gzip level when none is given (the action's input `gzip-level` default). Level 1: on SQL-like
 * text (bench/backup-stream.ts, 400 MB, same run) it streamed 46 MB/s with 6.8 CPU s in the action
 * and stored 0.263 of the size; level 6 streamed 27 MB/s with 11.8 CPU s for 0.237. On
 * incompressible data both cost the same (~30 MB/s per core) and save nothing.
 */
export const DEFAULT_GZIP_LEVEL = 1;

/**
 * Bytes streamed between two young-generation collections (see minorGc): twice ssh2's
 * channel window (2 MiB), the most a chunk lives between arriving and being copied into a
 * part buffer. A Buffer that outlives two scavenges is promoted to the old generation, and
 * old ArrayBuffers are freed only by a full GC, which V8 starts after ~64 MB of external
 * memory has grown — so the cadence must not be shorter than a chunk's life. Measured side
 * by side (bench/backup-stream.ts vol-none, 560 MB uncompressed at ~70 MB/s, bundles
 * without undici, GCs counted by a perf_hooks observer): every 4 MiB → 144 scavenges,
 * 1 full GC, peak ArrayBuffers 39 MB, peak RSS 121–124 MB in 5 runs; every 2 MiB → 6 full
 * GCs, 57 MB, 136–142 MB; every 1 MiB → 19 full GCs, 48 MB, 126–130 MB; every 16 MiB (the
 * cadence before) → 135–141 MB; none → 132–141 MB.
 */
const GC_EVERY = 4 * 1024 * 1024;

let scavenge: (() => void) | null | undefined;
/**
 * A young-generation collection, if the runtime lets us ask for one. ssh2 allocates a
 * Buffer per packet; once copied along they are garbage, but V8 frees their memory only
 * when a GC runs, and with few JS objects per MiB streamed its heuristics let tens of MB
 * of them pile up. Node can turn --expose-gc on at run time and hand out `gc` from a new
 * context; a scavenge every GC_EVERY bytes costs well under a millisecond. Without it
 * (e.g. a future runtime refusing the flag) nothing happens.
 */
export function minorGc(): void {
  if (scavenge === undefined) {
    try {
      setFlagsFromString('--expose-gc');
      const gc = runInNewContext('typeof gc === "function" ? gc : undefined') as
        ((options: { type: 'minor' | 'major' }) => void) | undefined;
      scavenge = gc ? () => gc({ type: 'minor' }) : null;
    } catch {
      scavenge = null;
    }
  }
  scavenge?.();
}

/** Counts bytes (and optionally hashes them) as they pass. */
export class Meter extends Transform {
  bytes = 0;
  private readonly hash = createHash('sha256');
  private digest?: string;
  private nextGc = GC_EVERY;

  constructor(
    private readonly hashing: boolean,
    /** Nudge the GC every 16 MiB (one meter per pipeline does). */
    private readonly collect = false,
  ) {
    super();
  }

  override _transform(chunk: Buffer, _enc: BufferEncoding, callback: TransformCallback): void {
    this.bytes += chunk.length;
    if (this.hashing) this.hash.update(chunk);
    if (this.collect && this.bytes >= this.nextGc) {
      this.nextGc = this.bytes + GC_EVERY;
      minorGc();
    }
    callback(null, chunk);
  }

  sha256(): string {
    this.digest ??= this.hash.digest('hex');
    return this.digest;
  }
}

export interface DumpSource {
  script: Script;
  /** Stdin for the command (e.g. a password line); created fresh for each attempt. */
  stdin?: () => Readable;
  /** Where the data comes from, for the manifest and logs (no secrets). */
  description: string;
}

export interface BackupRequest {
  host: RemoteHost;
  store: BackupStore;
  source: DumpSource;
  app: string;
  name: string;
  kind: DumpKind;
  droplet: string;
  prefix: string;
  compression: Compression;
  gzipLevel?: number;
  passphrase?: string;
  iterations?: number;
  releaseId?: string;
  now: () => Date;
  logger: Logger;
  timeoutMs?: number;
}

export class BackupFailedError extends Error {
  override readonly name = 'BackupFailedError';
}

function stderrTail(lines: string[]): string {
  const tail = lines.slice(-10).join('\n').trim();
  return tail ? `:\n${tail}` : '';
}

/** Streams one dump to the store and writes its manifest. Throws BackupFailedError with what happened and what was cleaned up. */
export async function streamBackup(req: BackupRequest): Promise<BackupManifest> {
  const started = req.now();
  const keys = backupKeys(req.prefix, req.name, req.kind, req.compression, Boolean(req.passphrase), started);
  const iterations = req.iterations ?? DEFAULT_ITERATIONS;
  const stderr: string[] = [];
  // Small stream buffers: ssh2's channel already holds up to its 2 MiB window, and the
  // store copies each chunk once into its part buffers.
  const sink = new PassThrough({ highWaterMark: STREAM_BUFFER });
  const stored = new Meter(true, true);
  const transforms: (NodeJS.ReadWriteStream | Transform)[] = [];
  if (req.compression === 'gzip') transforms.push(createGzip({ level: req.gzipLevel ?? DEFAULT_GZIP_LEVEL }));
  if (req.passphrase) transforms.push(createEncryptStream(req.passphrase, iterations));
  // without gzip or encryption the raw bytes are the stored bytes: one meter counts both
  const raw = transforms.length > 0 ? new Meter(false) : stored;
  const stages = transforms.length > 0 ? [raw, ...transforms, stored] : [stored];
  const body = new PassThrough({ highWaterMark: STREAM_BUFFER });

  const aborter = new AbortController();
  let firstError: unknown;
  const fail = (error: unknown): void => {
    if (firstError !== undefined) return;
    firstError = error;
    aborter.abort();
    sink.destroy(error instanceof Error ? error : new Error(String(error)));
    body.destroy(error instanceof Error ? error : new Error(String(error)));
  };

  req.logger.info(
    `dump "${req.name}" (${req.kind}) from ${req.source.description} → ${req.store.description} ${keys.data}`,
  );
  req.logger.debug(`dump command: ${render(req.source.script, 'log')}`);

  const remote = req.host
    .stream(req.source.script, {
      stdout: sink,
      ...(req.source.stdin ? { stdin: req.source.stdin() } : {}),
      ...(req.timeoutMs ? { timeoutMs: req.timeoutMs } : {}),
      // a failed upload closes the channel at once instead of waiting for the dump to notice
      signal: aborter.signal,
      onStderrLine: (line) => {
        stderr.push(line);
        if (stderr.length > 50) stderr.shift();
      },
    })
    .then(
      (result) => {
        if (result.code !== 0) {
          const error = new BackupFailedError(
            `the dump command exited with code ${result.code}${stderrTail(result.stderr ? result.stderr.split('\n') : stderr)}`,
          );
          fail(error);
          throw error;
        }
        // some implementations leave the Writable open: end it so the pipeline finishes
        if (!sink.writableEnded) sink.end();
      },
      (error: unknown) => {
        fail(error);
        throw error;
      },
    );
  const piping = pipeline([sink, ...stages, body] as unknown as [Readable, ...Transform[]]).catch((error: unknown) => {
    // a premature close or an AbortError (what a for-await loop leaving early destroys its
    // stream with) is the echo of another failure — the store stopped reading: that failure
    // is reported by its own promise, often a little later (after aborting the upload)
    const code = (error as { code?: string }).code;
    if (code !== 'ERR_STREAM_PREMATURE_CLOSE' && code !== 'ABORT_ERR') fail(error);
    throw error;
  });
  const uploading = req.store
    .upload(keys.data, body, { contentType: 'application/octet-stream', signal: aborter.signal })
    .catch((error: unknown) => {
      fail(error);
      throw error;
    });

  const [remoteResult, , uploadResult] = await Promise.allSettled([
    // a host that ignores the signal may block on a full pipe after a failure: do not wait forever
    Promise.race([remote, aborted(aborter.signal, 15_000)]),
    piping,
    uploading,
  ]);
  if (firstError !== undefined || remoteResult.status === 'rejected' || uploadResult.status === 'rejected') {
    const error =
      firstError ??
      (remoteResult.status === 'rejected' ? remoteResult.reason : (uploadResult as PromiseRejectedResult).reason);
    const cleanup = await removePartial(req.store, keys.data, uploadResult.status === 'fulfilled');
    throw new BackupFailedError(
      `dump "${req.name}" (${req.kind}) from ${req.source.description} failed: ${describe(error)}${stderr.length && !(error instanceof BackupFailedError) ? stderrTail(stderr) : ''}. No manifest was written, so this attempt does not count as a backup; ${cleanup}`,
    );
  }

  const manifest: BackupManifest = {
    version: 1,
    app: req.app,
    name: req.name,
    kind: req.kind,
    source: req.source.description,
    droplet: req.droplet,
    key: keys.data,
    createdAt: started.toISOString(),
    ...(req.releaseId ? { releaseId: req.releaseId } : {}),
    size: stored.bytes,
    sha256: stored.sha256(),
    rawSize: raw.bytes,
    compression: req.compression,
    ...(req.passphrase ? { encryption: encryptionParams(iterations) } : {}),
    durationMs: req.now().getTime() - started.getTime(),
  };
  if (raw.bytes === 0) {
    await removePartial(req.store, keys.data, true);
    throw new BackupFailedError(
      `dump "${req.name}" (${req.kind}) produced no data${stderrTail(stderr)}; nothing was kept`,
    );
  }
  try {
    await req.store.putJson(keys.manifest, manifest);
  } catch (error) {
    const cleanup = await removePartial(req.store, keys.data, true);
    throw new BackupFailedError(
      `dump "${req.name}": the data was uploaded but writing its manifest failed (${describe(error)}); the backup does not count; ${cleanup}`,
    );
  }
  return manifest;
}

function aborted(signal: AbortSignal, graceMs: number): Promise<void> {
  return new Promise((resolve) => {
    const arm = (): void => {
      setTimeout(resolve, graceMs).unref();
    };
    if (signal.aborted) arm();
    else signal.addEventListener('abort', arm, { once: true });
  });
}

async function removePartial(store: BackupStore, key: string, uploaded: boolean): Promise<string> {
  if (!uploaded) return 'the multipart upload was aborted.';
  try {
    await store.delete(key);
    return `the uploaded object ${key} was deleted.`;
  } catch (error) {
    return `the uploaded object ${key} could not be deleted (${describe(error)}); it has no manifest and retention will remove it.`;
  }
}

export function describe(error: unknown): string {
  if (error instanceof Error) {
    const code = (error as { code?: string }).code;
    return code && !error.message.includes(code) ? `${error.message} (${code})` : error.message || error.name;
  }
  return String(error);
}

/**
 * The stored bytes of a backup turned back into the raw dump: SHA-256 and size checked
 * against the manifest (the stream errors at the end on a mismatch), then decrypted and
 * decompressed.
 */
export async function openBackup(store: BackupStore, manifest: BackupManifest, passphrase?: string): Promise<Readable> {
  if (manifest.encryption && !passphrase) {
    throw new BackupFailedError(
      `backup ${manifest.key} is encrypted: give the passphrase (input "encryption-passphrase")`,
    );
  }
  const source = await store.getStream(manifest.key);
  const check = new ChecksumGate(manifest.sha256, manifest.size, manifest.key);
  const stages: Transform[] = [check];
  if (manifest.encryption && passphrase) stages.push(createDecryptStream(passphrase, manifest.encryption.iterations));
  if (manifest.compression === 'gzip') stages.push(createGunzip());
  const out = new PassThrough({ highWaterMark: 1024 * 1024 });
  pipeline([source, ...stages, out] as unknown as [Readable, ...Transform[]]).catch((error: unknown) => {
    out.destroy(error instanceof Error ? error : new Error(String(error)));
  });
  return out;
}

/**
 * Reads a whole stored backup once through the full chain — size and SHA-256 against the
 * manifest, decryption (a wrong passphrase fails here), decompression — and discards it.
 * Run before anything is fed to a restore, so a bad download or passphrase never reaches
 * live data.
 */
export async function validateBackup(store: BackupStore, manifest: BackupManifest, passphrase?: string): Promise<void> {
  if (manifest.encryption && !passphrase) {
    throw new BackupFailedError(
      `backup ${manifest.key} is encrypted: give the passphrase (input "encryption-passphrase")`,
    );
  }
  const source = await store.getStream(manifest.key);
  const stages: Transform[] = [new ChecksumGate(manifest.sha256, manifest.size, manifest.key)];
  if (manifest.encryption && passphrase) stages.push(createDecryptStream(passphrase, manifest.encryption.iterations));
  if (manifest.compression === 'gzip') stages.push(createGunzip());
  try {
    await pipeline([source, ...stages, new Writable({ write: (_chunk, _enc, callback) => callback() })] as unknown as [
      Readable,
      ...Transform[],
    ]);
  } catch (error) {
    throw new BackupFailedError(`backup ${manifest.key} cannot be used: ${describe(error)}`);
  }
}

class ChecksumGate extends Meter {
  constructor(
    private readonly expectedSha: string,
    private readonly expectedSize: number,
    private readonly key: string,
  ) {
    super(true);
  }

  override _flush(callback: TransformCallback): void {
    const sha = this.sha256();
    if (this.bytes !== this.expectedSize || sha !== this.expectedSha) {
      callback(
        new BackupFailedError(
          `backup ${this.key} does not match its manifest: ${this.bytes} bytes with sha256 ${sha}, expected ${this.expectedSize} bytes with sha256 ${this.expectedSha}`,
        ),
      );
      return;
    }
    callback();
  }
}
