// HTTP check from the runner, on node:http / node:https directly: a fresh connection per
// attempt (agent: false) so the peer certificate can be read for `cert-min-days` — fetch
// and undici do not expose it.

import * as http from 'node:http';
import * as https from 'node:https';
import type { TLSSocket } from 'node:tls';

import { attemptBudget, daysUntil, defaultContentType, hasHeader } from './check.js';
import type { HttpDefinition } from './definitions.js';
import { excerpt, judgeResponse } from './expect.js';
import type { AttemptContext, CheckOutcome } from './poll.js';

const MAX_BODY = 1024 * 1024;
const REDIRECTS = new Set([301, 302, 303, 307, 308]);

/** TLS failures reported by Node/OpenSSL, shown as "TLS: …". */
const TLS_CODES = new Set([
  'DEPTH_ZERO_SELF_SIGNED_CERT',
  'SELF_SIGNED_CERT_IN_CHAIN',
  'CERT_HAS_EXPIRED',
  'CERT_NOT_YET_VALID',
  'UNABLE_TO_VERIFY_LEAF_SIGNATURE',
  'UNABLE_TO_GET_ISSUER_CERT_LOCALLY',
  'ERR_TLS_CERT_ALTNAME_INVALID',
  'ERR_SSL_WRONG_VERSION_NUMBER',
  'EPROTO',
]);

interface RawResponse {
  status: number;
  location?: string;
  body: string;
  certDaysLeft?: number;
}

class AttemptTimeout extends Error {
  override readonly name = 'AttemptTimeout';
}

function requestOnce(
  url: URL,
  method: string,
  headers: Record<string, string>,
  body: string | undefined,
  tlsVerify: boolean,
  timeoutMs: number,
  now: () => number,
): Promise<RawResponse> {
  return new Promise((resolve, reject) => {
    const isHttps = url.protocol === 'https:';
    const options: https.RequestOptions = {
      method,
      headers,
      agent: false,
      ...(isHttps ? { rejectUnauthorized: tlsVerify } : {}),
    };
    if (url.username || url.password) {
      options.auth = `${decodeURIComponent(url.username)}:${decodeURIComponent(url.password)}`;
    }
    const req = (isHttps ? https : http).request(url, options, (res) => {
      let certDaysLeft: number | undefined;
      if (isHttps) {
        const cert = (res.socket as TLSSocket).getPeerCertificate?.();
        if (cert && cert.valid_to) certDaysLeft = daysUntil(cert.valid_to, now());
      }
      const chunks: Buffer[] = [];
      let size = 0;
      res.on('data', (chunk: Buffer) => {
        if (size < MAX_BODY) chunks.push(chunk.subarray(0, MAX_BODY - size));
        size += chunk.length;
      });
      res.on('end', () => {
        clearTimeout(timer);
        const location = res.headers.location;
        resolve({
          status: res.statusCode ?? 0,
          body: Buffer.concat(chunks).toString('utf8'),
          ...(location ? { location } : {}),
          ...(certDaysLeft !== undefined ? { certDaysLeft } : {}),
        });
      });
      res.on('error', (error) => {
        clearTimeout(timer);
        reject(error);
      });
    });
    const timer = setTimeout(() => req.destroy(new AttemptTimeout(`no response within ${timeoutMs}ms`)), timeoutMs);
    req.on('error', (error) => {
      clearTimeout(timer);
      reject(error);
    });
    if (body !== undefined) req.write(body);
    req.end();
  });
}

function failure(error: unknown, latencyMs: number): CheckOutcome {
  if (error instanceof AttemptTimeout) return { ok: false, status: 'timeout', latencyMs, detail: error.message };
  const e = error as NodeJS.ErrnoException;
  const code = e.code ?? 'error';
  const tls = TLS_CODES.has(code) || /certificate|ssl|tls/i.test(e.message ?? '');
  return { ok: false, status: code, latencyMs, detail: tls ? `TLS: ${e.message}` : (e.message ?? String(error)) };
}

export interface RunnerHttpDeps {
  now?: () => number;
}

/** One attempt of an http check from the runner (follows redirects when asked). */
export function runnerHttpAttempt(def: HttpDefinition, deps: RunnerHttpDeps = {}) {
  const now = deps.now ?? Date.now;
  return async (ctx: AttemptContext): Promise<CheckOutcome> => {
    const timeoutMs = attemptBudget(def.attemptTimeoutMs, ctx.remainingMs);
    const started = performance.now();
    const elapsed = (): number => Math.round(performance.now() - started);
    let url = new URL(def.url);
    let method: string = def.method;
    let body = def.body;
    let headers: Record<string, string> = { ...def.headers };
    if (body !== undefined && !hasHeader(headers, 'content-type')) headers['Content-Type'] = defaultContentType(body);
    if (!hasHeader(headers, 'user-agent')) headers['User-Agent'] = 'droplet-deploy-health-gate';
    let response: RawResponse;
    for (let hop = 0; ; hop += 1) {
      try {
        response = await requestOnce(
          url,
          method,
          headers,
          body,
          def.tlsVerify,
          Math.max(1, timeoutMs - elapsed()),
          now,
        );
      } catch (error) {
        return failure(error, elapsed());
      }
      if (!def.followRedirects || !REDIRECTS.has(response.status) || !response.location) break;
      if (hop >= def.maxRedirects) {
        return {
          ok: false,
          status: String(response.status),
          latencyMs: elapsed(),
          detail: `more than ${def.maxRedirects} redirects (last to ${response.location})`,
        };
      }
      const next = new URL(response.location, url);
      if (next.origin !== url.origin) {
        // Like browsers and fetch: credentials are not sent to another origin.
        headers = Object.fromEntries(
          Object.entries(headers).filter(([h]) => !/^(authorization|cookie|proxy-authorization)$/i.test(h)),
        );
      }
      if (response.status === 303 || ((response.status === 301 || response.status === 302) && method === 'POST')) {
        method = 'GET';
        body = undefined;
        headers = Object.fromEntries(Object.entries(headers).filter(([h]) => h.toLowerCase() !== 'content-type'));
      }
      url = next;
    }
    const latencyMs = elapsed();
    const verdict = judgeResponse(def.expect, {
      status: response.status,
      body: response.body,
      https: url.protocol === 'https:',
      ...(response.certDaysLeft !== undefined ? { certDaysLeft: response.certDaysLeft } : {}),
    });
    return {
      ok: verdict.ok,
      status: String(response.status),
      latencyMs,
      ...(verdict.reason ? { detail: verdict.reason } : {}),
      ...(response.body ? { excerpt: excerpt(response.body) } : {}),
    };
  };
}
