// Waiting until a DigitalOcean Load Balancer would send traffic to droplets again.
// DigitalOcean's API does not report per-droplet health, so the action runs the LB's own
// health check (protocol, port, path from the LB) on each droplet over SSH, against
// 127.0.0.1, until it passes `healthy_threshold` times in a row at `check_interval_seconds`
// — what the LB needs to mark it healthy — then waits one more interval for the LB itself.
import { cmd, type Script } from '../commands/cmd.js';
import { pollUntil } from '../health/poll.js';
import type { RemoteHost } from '../ssh/executor.js';

export interface LbHealthCheck {
  protocol: 'http' | 'https' | 'http2' | 'tcp';
  port: number;
  path: string;
  checkIntervalSeconds: number;
  responseTimeoutSeconds: number;
  healthyThreshold: number;
}

export function parseLbHealthCheck(raw: unknown): LbHealthCheck {
  const h = (raw && typeof raw === 'object' ? raw : {}) as Record<string, unknown>;
  const protocol = String(h['protocol'] ?? 'http');
  return {
    protocol: protocol === 'https' || protocol === 'http2' || protocol === 'tcp' ? protocol : 'http',
    port: Number(h['port'] ?? 80) || 80,
    path: typeof h['path'] === 'string' && h['path'] ? h['path'] : '/',
    checkIntervalSeconds: Number(h['check_interval_seconds'] ?? 10) || 10,
    responseTimeoutSeconds: Number(h['response_timeout_seconds'] ?? 5) || 5,
    healthyThreshold: Number(h['healthy_threshold'] ?? 3) || 3,
  };
}

/** The LB's check run on the droplet itself: curl for http(s) (2xx/3xx like the LB), nc for tcp. */
export function healthProbe(hc: LbHealthCheck): Script {
  const timeout = String(hc.responseTimeoutSeconds);
  if (hc.protocol === 'tcp') return cmd('nc', '-z', '-w', timeout, '127.0.0.1', String(hc.port));
  const scheme = hc.protocol === 'http' ? 'http' : 'https';
  return cmd(
    'curl',
    '-sS',
    '-o',
    '/dev/null',
    hc.protocol === 'http' ? [] : ['-k'],
    '--max-time',
    timeout,
    '-w',
    '%{http_code}',
    `${scheme}://127.0.0.1:${hc.port}${hc.path.startsWith('/') ? hc.path : `/${hc.path}`}`,
  );
}

export function probePassed(hc: LbHealthCheck, code: number, stdout: string): boolean {
  if (code !== 0) return false;
  if (hc.protocol === 'tcp') return true;
  const status = Number(stdout.trim());
  return status >= 200 && status < 400;
}

/** Polls the LB's check on one droplet; resolves true once it would be healthy in the LB. */
export async function waitLbHealthy(
  host: RemoteHost,
  hc: LbHealthCheck,
  deadlineMs: number,
  deps: { sleep?: (ms: number) => Promise<void>; now?: () => number } = {},
): Promise<{ ok: boolean; detail: string }> {
  const script = healthProbe(hc);
  const result = await pollUntil(
    async () => {
      const t0 = performance.now();
      const r = await host.run(script, { allowFailure: true, timeoutMs: (hc.responseTimeoutSeconds + 5) * 1000 });
      const ok = probePassed(hc, r.code, r.stdout);
      return {
        ok,
        status: hc.protocol === 'tcp' ? (ok ? 'open' : 'closed') : r.stdout.trim() || `exit ${r.code}`,
        latencyMs: Math.round(performance.now() - t0),
        ...(ok ? {} : { detail: (r.stderr.trim().split('\n').pop() ?? '') || `status ${r.stdout.trim()}` }),
      };
    },
    {
      deadlineMs,
      intervalMs: hc.checkIntervalSeconds * 1000,
      successes: hc.healthyThreshold,
      ...(deps.sleep ? { sleep: deps.sleep } : {}),
      ...(deps.now ? { now: deps.now } : {}),
    },
  );
  return { ok: result.passed, detail: result.lastFailure?.detail ?? result.last?.status ?? '' };
}
