// A steady HTTP load on a lab droplet (loopback only) while a workflow runs: counts what a
// user would see — failed requests (errors, timeouts, non-2xx) and slow ones.
import http from 'node:http';

export interface LoadResult {
  total: number;
  ok: number;
  failed: number;
  slow: number;
  /** the first few failures, for the log */
  failures: string[];
  p50Ms: number;
  p99Ms: number;
}

export interface LoadHandle {
  stop(): Promise<LoadResult>;
}

function once(url: string, timeoutMs: number): Promise<{ status: number; ms: number; error?: string }> {
  const started = performance.now();
  return new Promise((resolve) => {
    const req = http.get(url, { agent: false, timeout: timeoutMs }, (res) => {
      res.resume();
      res.on('end', () => resolve({ status: res.statusCode ?? 0, ms: performance.now() - started }));
      res.on('error', (e) => resolve({ status: 0, ms: performance.now() - started, error: e.message }));
    });
    req.on('timeout', () => req.destroy(new Error('timeout')));
    req.on('error', (e) => resolve({ status: 0, ms: performance.now() - started, error: e.message }));
  });
}

/** Sends `rps` requests per second to `url` (each with `timeoutMs`) until stopped. */
export function startLoad(url: string, opts: { rps?: number; timeoutMs?: number; slowMs?: number } = {}): LoadHandle {
  if (!/^http:\/\/127\.\d+\.\d+\.\d+[:/]/.test(url))
    throw new Error(`load only goes to loopback addresses, not ${url}`);
  const rps = opts.rps ?? 20;
  const timeoutMs = opts.timeoutMs ?? 2000;
  const slowMs = opts.slowMs ?? 250;
  const latencies: number[] = [];
  const result: LoadResult = { total: 0, ok: 0, failed: 0, slow: 0, failures: [], p50Ms: 0, p99Ms: 0 };
  const inflight = new Set<Promise<void>>();
  let running = true;
  const timer = setInterval(() => {
    if (!running) return;
    const p = once(url, timeoutMs).then((r) => {
      result.total++;
      latencies.push(r.ms);
      if (r.status >= 200 && r.status < 300) result.ok++;
      else {
        result.failed++;
        if (result.failures.length < 5) result.failures.push(r.error ?? `HTTP ${r.status}`);
      }
      if (r.ms > slowMs) result.slow++;
    });
    inflight.add(p);
    void p.finally(() => inflight.delete(p));
  }, 1000 / rps);
  return {
    async stop() {
      running = false;
      clearInterval(timer);
      await Promise.all([...inflight]);
      latencies.sort((a, b) => a - b);
      const q = (f: number): number =>
        Math.round(latencies[Math.min(latencies.length - 1, Math.floor(f * latencies.length))] ?? 0);
      result.p50Ms = q(0.5);
      result.p99Ms = q(0.99);
      return result;
    },
  };
}

/** GET returning status and body (loopback only). */
export async function httpGet(url: string, timeoutMs = 5000): Promise<{ status: number; body: string }> {
  if (!/^http:\/\/127\.\d+\.\d+\.\d+[:/]/.test(url)) throw new Error(`only loopback addresses, not ${url}`);
  return new Promise((resolve, reject) => {
    const req = http.get(url, { agent: false, timeout: timeoutMs }, (res) => {
      let body = '';
      res.on('data', (c: Buffer) => (body += c.toString()));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
    });
    req.on('timeout', () => req.destroy(new Error(`GET ${url}: timeout`)));
    req.on('error', reject);
  });
}
