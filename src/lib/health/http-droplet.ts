// HTTP check from inside a droplet: curl on the droplet over SSH. Every option (URL,
// headers — secrets included — and body) goes to curl as a config file on stdin
// (`curl --config -`), so nothing secret is ever in the remote argv.

import { cmd, type Script } from '../commands/cmd.js';
import { outputTail, type RemoteHost } from '../ssh/executor.js';
import { attemptBudget, daysUntil, defaultContentType, hasHeader } from './check.js';
import type { HttpDefinition } from './definitions.js';
import { excerpt, judgeResponse } from './expect.js';
import type { AttemptContext, CheckOutcome } from './poll.js';

export const CURL_MARKER = '__HEALTH_GATE__';

/** `curl --config -`: the whole request is in the config on stdin. */
export function curlScript(): Script {
  return cmd('curl', '--config', '-');
}

/** Quotes a value for a curl config file ("…" with \\ \" \n \r \t escapes). */
export function curlConfigValue(value: string): string {
  return `"${value
    .replace(/\\/g, '\\\\')
    .replace(/"/g, '\\"')
    .replace(/\n/g, '\\n')
    .replace(/\r/g, '\\r')
    .replace(/\t/g, '\\t')}"`;
}

/** The curl config for one attempt (contains secrets: only ever sent on stdin). */
export function curlConfig(def: HttpDefinition, timeoutMs: number): string {
  const lines: string[] = ['silent', 'show-error', `max-time = ${curlConfigValue((timeoutMs / 1000).toFixed(3))}`];
  if (def.method === 'HEAD') lines.push('head');
  else if (def.method !== 'GET') lines.push(`request = ${curlConfigValue(def.method)}`);
  const headers: Record<string, string> = { ...def.headers };
  if (def.body !== undefined && !hasHeader(headers, 'content-type'))
    headers['Content-Type'] = defaultContentType(def.body);
  if (!hasHeader(headers, 'user-agent')) headers['User-Agent'] = 'droplet-deploy-health-gate';
  for (const [name, value] of Object.entries(headers)) lines.push(`header = ${curlConfigValue(`${name}: ${value}`)}`);
  // data-raw: a body starting with @ is sent as is, never read from a file on the droplet.
  if (def.body !== undefined) lines.push(`data-raw = ${curlConfigValue(def.body)}`);
  if (def.followRedirects) lines.push('location', `max-redirs = ${curlConfigValue(String(def.maxRedirects))}`);
  if (!def.tlsVerify) lines.push('insecure');
  const certs = def.expect.certMinDays !== undefined ? '%{certs}' : '';
  lines.push(
    `write-out = ${curlConfigValue(`%{stderr}\n${CURL_MARKER} %{http_code} %{time_total} %{url_effective}\n${certs}`)}`,
  );
  lines.push(`url = ${curlConfigValue(def.url)}`);
  return `${lines.join('\n')}\n`;
}

const CURL_EXIT: Record<number, string> = {
  6: 'DNS',
  7: 'ECONNREFUSED',
  28: 'timeout',
  35: 'TLS',
  47: 'too many redirects',
  52: 'empty reply',
  56: 'ECONNRESET',
  60: 'TLS',
};

export interface CurlFacts {
  status: number;
  latencyMs: number;
  effectiveUrl: string;
  /** curl's own error line ("curl: (7) Failed to connect …"), if any. */
  error?: string;
  notAfter?: string;
}

/** Reads what curl wrote to stderr: error lines, then the marker line, then (optionally) the certificate chain. */
export function parseCurlStderr(stderr: string): CurlFacts | undefined {
  const lines = stderr.split('\n');
  const at = lines.findIndex((l) => l.startsWith(`${CURL_MARKER} `));
  if (at < 0) return undefined;
  const [, code = '0', time = '0', url = ''] = (lines[at] as string).split(' ');
  const error = lines
    .slice(0, at)
    .map((l) => l.trim())
    .filter((l) => l.startsWith('curl:'))
    .pop();
  const expire = lines
    .slice(at + 1)
    .map((l) => /^\s*Expire date:\s*(.+)$/i.exec(l))
    .find((m) => m);
  return {
    status: Number(code) || 0,
    latencyMs: Math.round(Number(time) * 1000),
    effectiveUrl: url,
    ...(error ? { error } : {}),
    ...(expire ? { notAfter: (expire[1] as string).trim() } : {}),
  };
}

export interface DropletHttpDeps {
  now?: () => number;
}

export function dropletHttpAttempt(def: HttpDefinition, host: RemoteHost, deps: DropletHttpDeps = {}) {
  const now = deps.now ?? Date.now;
  return async (ctx: AttemptContext): Promise<CheckOutcome> => {
    const timeoutMs = attemptBudget(def.attemptTimeoutMs, ctx.remainingMs);
    const started = performance.now();
    const result = await host.run(curlScript(), {
      stdin: curlConfig(def, timeoutMs),
      allowFailure: true,
      timeoutMs: timeoutMs + 15_000,
    });
    const facts = parseCurlStderr(result.stderr);
    if (!facts) {
      const line = outputTail(result, 1);
      return {
        ok: false,
        status: result.code === 127 ? 'no curl' : `exit ${result.code}`,
        latencyMs: Math.round(performance.now() - started),
        detail: result.code === 127 ? `curl is not installed on ${host.label}` : `curl on ${host.label}: ${line}`,
      };
    }
    if (result.code !== 0) {
      const tls = result.code === 35 || result.code === 60;
      const status = CURL_EXIT[result.code] ?? `curl exit ${result.code}`;
      return {
        ok: false,
        status,
        latencyMs: facts.latencyMs,
        detail: `${tls ? 'TLS: ' : ''}${facts.error ?? `curl exited with ${result.code}`}`,
      };
    }
    const body = result.stdout;
    const isHttps = facts.effectiveUrl.startsWith('https:') || (!facts.effectiveUrl && def.url.startsWith('https:'));
    const certDaysLeft = facts.notAfter ? daysUntil(facts.notAfter, now()) : undefined;
    const verdict = judgeResponse(def.expect, {
      status: facts.status,
      body,
      https: isHttps,
      ...(certDaysLeft !== undefined ? { certDaysLeft } : {}),
    });
    return {
      ok: verdict.ok,
      status: String(facts.status),
      latencyMs: facts.latencyMs,
      ...(verdict.reason ? { detail: verdict.reason } : {}),
      ...(body ? { excerpt: excerpt(body) } : {}),
    };
  };
}
