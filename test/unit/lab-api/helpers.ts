// Shared set-up for the API fake's unit tests (no Docker: MemoryBackend).
import { generateKeyPairSync } from 'node:crypto';
import { createApiClient } from 'dots-wrapper';
import {
  MemoryBackend,
  startApiFake,
  type ApiFakeHandle,
  type ApiFakeOptions,
  type MemoryBackendOptions,
} from '../../lab/api/index.js';
import { SpecValidator } from '../../lab/api/spec.js';

/* eslint-disable @typescript-eslint/no-explicit-any -- JSON bodies of the fake's answers */
let shared: SpecValidator | undefined;
/** One parsed spec per test file (compiled validators are cached on it). */
export function spec(): SpecValidator {
  return (shared ??= new SpecValidator());
}

export interface Env {
  fake: ApiFakeHandle;
  backend: MemoryBackend;
  api: ReturnType<typeof createApiClient>;
  close(): Promise<void>;
}

export async function makeEnv(
  backendOpts: MemoryBackendOptions = {},
  opts: Partial<Omit<ApiFakeOptions, 'backend'>> = {},
): Promise<Env> {
  const backend = new MemoryBackend(backendOpts);
  const fake = await startApiFake({ backend, spec: spec(), pollMs: 5, ...opts });
  const api = createApiClient({ token: fake.token, endpoint: fake.url, requestTimeoutInMs: 10_000 });
  return {
    fake,
    backend,
    api,
    async close() {
      await fake.close();
      await backend.close();
    },
  };
}

/** A fresh ed25519 public key in OpenSSH format. */
export function sshPublicKey(comment = 'lab-test'): string {
  const jwk = generateKeyPairSync('ed25519').publicKey.export({ format: 'jwk' });
  const u32 = (n: number) => {
    const b = Buffer.alloc(4);
    b.writeUInt32BE(n);
    return b;
  };
  const type = Buffer.from('ssh-ed25519');
  const key = Buffer.from(jwk.x!, 'base64url');
  return `ssh-ed25519 ${Buffer.concat([u32(type.length), type, u32(key.length), key]).toString('base64')} ${comment}`;
}

/** Raw call (for endpoints dots-wrapper lacks, and for status/headers checks). */
export async function raw(
  fake: ApiFakeHandle,
  method: string,
  path: string,
  body?: unknown,
  token: string | null = fake.token,
): Promise<{ status: number; headers: Headers; json: any }> {
  const res = await fetch(path.startsWith('/_lab') ? fake.origin + path : fake.url + path, {
    method,
    headers: {
      ...(token ? { authorization: `Bearer ${token}` } : {}),
      ...(body !== undefined ? { 'content-type': 'application/json' } : {}),
    },
    body: body !== undefined ? JSON.stringify(body) : undefined,
  });
  const text = await res.text();
  return { status: res.status, headers: res.headers, json: text ? JSON.parse(text) : undefined };
}

/** Poll `fn` until it returns a truthy value (bounded). */
export async function until<T>(
  fn: () => Promise<T> | T,
  what: string,
  tries = 200,
  everyMs = 20,
): Promise<NonNullable<T>> {
  for (let i = 0; i < tries; i++) {
    const v = await fn();
    if (v) return v as NonNullable<T>;
    await new Promise((r) => setTimeout(r, everyMs));
  }
  throw new Error(`timed out waiting for ${what}`);
}

/** The axios error's response (dots-wrapper rejects with axios errors). */
export async function failure(p: Promise<unknown>): Promise<{ status: number; data: any; headers: any }> {
  try {
    await p;
  } catch (e) {
    const r = (e as { response?: { status: number; data: unknown; headers: unknown } }).response;
    if (r) return r as { status: number; data: any; headers: any };
    throw e;
  }
  throw new Error('expected the call to fail');
}
