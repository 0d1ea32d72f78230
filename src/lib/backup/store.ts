import {
  DeleteObjectCommand,
  GetObjectCommand,
  HeadObjectCommand,
  ListObjectsV2Command,
  PutObjectCommand,
  S3Client,
} from '@aws-sdk/client-s3';
import { Upload } from '@aws-sdk/lib-storage';
import type { Readable } from 'node:stream';

// Spaces (or any S3-compatible store) behind a small interface, so the pipeline can be
// tested against a fake and the action against a real server.

export interface StoredObject {
  key: string;
  size: number;
  lastModified: Date;
}

export interface UploadTuning {
  /** Bytes per multipart part (S3 minimum 5 MiB). */
  partSize: number;
  /** Parts in flight at once. Memory held ≈ (queueSize + 1) × partSize. */
  queueSize: number;
}

/** 8 MiB parts, 2 in flight: about 24 MiB of buffers, well inside the 150 MB budget. */
export const DEFAULT_TUNING: UploadTuning = { partSize: 8 * 1024 * 1024, queueSize: 2 };

export interface BackupStore {
  readonly description: string;
  /** Multipart upload of a stream. On failure the multipart upload is aborted (nothing is left visible). */
  upload(key: string, body: Readable, options: { contentType: string; signal?: AbortSignal }): Promise<void>;
  putJson(key: string, value: unknown): Promise<void>;
  getText(key: string): Promise<string>;
  getStream(key: string): Promise<Readable>;
  exists(key: string): Promise<boolean>;
  list(prefix: string): Promise<StoredObject[]>;
  delete(key: string): Promise<void>;
}

export interface S3StoreConfig {
  endpoint: string;
  bucket: string;
  accessKeyId: string;
  secretAccessKey: string;
  /** Spaces ignores the region but the SDK needs one. */
  region?: string;
  tuning?: UploadTuning;
}

export class S3Store implements BackupStore {
  readonly client: S3Client;
  readonly description: string;
  private readonly tuning: UploadTuning;

  constructor(private readonly config: S3StoreConfig) {
    this.client = new S3Client({
      endpoint: config.endpoint,
      region: config.region ?? regionFromEndpoint(config.endpoint),
      forcePathStyle: true,
      credentials: { accessKeyId: config.accessKeyId, secretAccessKey: config.secretAccessKey },
      maxAttempts: 3,
      // Spaces and older S3-compatible servers do not accept the newer default checksums.
      requestChecksumCalculation: 'WHEN_REQUIRED',
      responseChecksumValidation: 'WHEN_REQUIRED',
    });
    this.description = `s3://${config.bucket} at ${config.endpoint}`;
    this.tuning = config.tuning ?? DEFAULT_TUNING;
  }

  async upload(key: string, body: Readable, options: { contentType: string; signal?: AbortSignal }): Promise<void> {
    const upload = new Upload({
      client: this.client,
      params: { Bucket: this.config.bucket, Key: key, Body: body, ContentType: options.contentType },
      partSize: this.tuning.partSize,
      queueSize: this.tuning.queueSize,
      leavePartsOnError: false,
    });
    const onAbort = (): void => void upload.abort().catch(() => undefined);
    options.signal?.addEventListener('abort', onAbort, { once: true });
    try {
      await upload.done();
    } finally {
      options.signal?.removeEventListener('abort', onAbort);
    }
  }

  async putJson(key: string, value: unknown): Promise<void> {
    await this.client.send(
      new PutObjectCommand({
        Bucket: this.config.bucket,
        Key: key,
        Body: `${JSON.stringify(value, null, 2)}\n`,
        ContentType: 'application/json',
      }),
    );
  }

  async getText(key: string): Promise<string> {
    const out = await this.client.send(new GetObjectCommand({ Bucket: this.config.bucket, Key: key }));
    if (!out.Body) throw new Error(`object ${key} has no body`);
    return out.Body.transformToString('utf8');
  }

  async getStream(key: string): Promise<Readable> {
    const out = await this.client.send(new GetObjectCommand({ Bucket: this.config.bucket, Key: key }));
    if (!out.Body) throw new Error(`object ${key} has no body`);
    return out.Body as Readable;
  }

  async exists(key: string): Promise<boolean> {
    try {
      await this.client.send(new HeadObjectCommand({ Bucket: this.config.bucket, Key: key }));
      return true;
    } catch (error) {
      const status = (error as { $metadata?: { httpStatusCode?: number } }).$metadata?.httpStatusCode;
      if (status === 404 || (error as Error).name === 'NotFound') return false;
      throw error;
    }
  }

  async list(prefix: string): Promise<StoredObject[]> {
    const out: StoredObject[] = [];
    let token: string | undefined;
    for (let page = 0; page < 10_000; page += 1) {
      const res = await this.client.send(
        new ListObjectsV2Command({ Bucket: this.config.bucket, Prefix: prefix, ContinuationToken: token }),
      );
      for (const o of res.Contents ?? []) {
        if (o.Key) out.push({ key: o.Key, size: o.Size ?? 0, lastModified: o.LastModified ?? new Date(0) });
      }
      if (!res.IsTruncated || !res.NextContinuationToken) return out;
      token = res.NextContinuationToken;
    }
    throw new Error(`listing ${prefix} did not end after 10000 pages`);
  }

  async delete(key: string): Promise<void> {
    await this.client.send(new DeleteObjectCommand({ Bucket: this.config.bucket, Key: key }));
  }
}

/** `https://fra1.digitaloceanspaces.com` → `fra1`; anything else → `us-east-1`. */
export function regionFromEndpoint(endpoint: string): string {
  try {
    const host = new URL(endpoint).hostname;
    const m = /^([a-z0-9-]+)\.digitaloceanspaces\.com$/.exec(host);
    return m?.[1] ?? 'us-east-1';
  } catch {
    return 'us-east-1';
  }
}
