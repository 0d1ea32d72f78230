import { Readable } from 'node:stream';
import { buffer } from 'node:stream/consumers';

import type { BackupStore, StoredObject } from '../../../src/lib/backup/store.js';

/** An in-memory BackupStore with a settable clock for lastModified. */
export class MemoryStore implements BackupStore {
  readonly description = 'memory';
  readonly objects = new Map<string, { data: Buffer; lastModified: Date }>();
  readonly deletes: string[] = [];
  now = new Date('2026-01-01T00:00:00Z');

  put(key: string, data: string | Buffer, lastModified = this.now): void {
    this.objects.set(key, { data: Buffer.from(data), lastModified });
  }
  async upload(key: string, body: Readable): Promise<void> {
    this.put(key, await buffer(body));
  }
  async putJson(key: string, value: unknown): Promise<void> {
    this.put(key, JSON.stringify(value));
  }
  async getText(key: string): Promise<string> {
    return this.get(key).toString('utf8');
  }
  async getStream(key: string): Promise<Readable> {
    return Readable.from([this.get(key)]);
  }
  async exists(key: string): Promise<boolean> {
    return this.objects.has(key);
  }
  async list(prefix: string): Promise<StoredObject[]> {
    return [...this.objects.entries()]
      .filter(([k]) => k.startsWith(prefix))
      .sort(([a], [b]) => (a < b ? -1 : 1))
      .map(([key, o]) => ({ key, size: o.data.length, lastModified: o.lastModified }));
  }
  async delete(key: string): Promise<void> {
    this.deletes.push(key);
    this.objects.delete(key);
  }
  private get(key: string): Buffer {
    const o = this.objects.get(key);
    if (!o) throw Object.assign(new Error(`NoSuchKey: ${key}`), { name: 'NoSuchKey' });
    return o.data;
  }
}
