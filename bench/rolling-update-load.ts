// A load generator for the rolling-update benchmarks: a steady rate of HTTP GETs to a
// loopback URL, a new TCP connection per request (as independent clients would), each with
// a timeout. Bounded in count and time. Counts failures (error, timeout, non-2xx) and slow
// requests (latency above a threshold), and which body each success returned.
import http from 'node:http';

export interface LoadOptions {
  url: string;
  /** Requests started per second (evenly spaced). */
  ratePerSecond: number;
  /** A request with no complete answer by then counts as failed (timeout). */
  timeoutMs: number;
  /** A successful request slower than this counts as slow. */
  slowMs: number;
  /** Hard bounds: the generator stops itself at whichever comes first. */
  maxRequests: number;
  maxDurationMs: number;
}

export interface LoadStats {
  total: number;
  ok: number;
  failed: number;
  slow: number;
  maxLatencyMs: number;
  p50Ms: number;
  p99Ms: number;
  /** failure reason → count, e.g. "timeout", "ECONNRESET", "502". */
  failures: Record<string, number>;
  /** first line of the body → count (which release answered). */
  bodies: Record<string, number>;
  durationMs: number;
  /** Achieved start rate. */
  rate: number;
  /** Failed and slow requests: ms since the load started (at the request's start), latency, outcome. */
  incidents: { atMs: number; latencyMs: number; outcome: string }[];
}

export interface LoadRun {
  /** Stops starting requests, waits for those in flight, returns the counts. */
  stop(): Promise<LoadStats>;
  /** Counts so far (requests still in flight are not counted). */
  peek(): Pick<LoadStats, 'total' | 'ok' | 'failed' | 'slow'>;
}

function loopbackOnly(url: URL): void {
  if (!/^127\.\d+\.\d+\.\d+$/.test(url.hostname) && url.hostname !== 'localhost') {
    throw new Error(`load generator: ${url.hostname} is not a loopback address; traffic stays on this machine`);
  }
}

function nearestRank(sorted: number[], p: number): number {
  if (sorted.length === 0) return 0;
  return sorted[Math.max(1, Math.ceil((p / 100) * sorted.length)) - 1] as number;
}

export function startLoad(options: LoadOptions): LoadRun {
  const url = new URL(options.url);
  loopbackOnly(url);
  const latencies: number[] = [];
  const failures: Record<string, number> = {};
  const bodies: Record<string, number> = {};
  let total = 0;
  let ok = 0;
  let failed = 0;
  let slow = 0;
  let maxLatency = 0;
  const inFlight = new Set<Promise<void>>();
  const incidents: LoadStats['incidents'] = [];
  const started = Date.now();
  const startedPerf = performance.now();
  let stopped = false;

  const fail = (reason: string): void => {
    failed += 1;
    failures[reason] = (failures[reason] ?? 0) + 1;
  };

  const one = (): Promise<void> =>
    new Promise<void>((resolve) => {
      const t0 = performance.now();
      total += 1;
      let done = false;
      const finish = (error?: string, body?: string, status?: number): void => {
        if (done) return;
        done = true;
        clearTimeout(timer);
        const latency = performance.now() - t0;
        const at = Math.round(t0 - startedPerf);
        if (error) fail(error);
        else if (status === undefined || status < 200 || status > 299) fail(String(status));
        if (error || status === undefined || status < 200 || status > 299) {
          if (incidents.length < 500)
            incidents.push({ atMs: at, latencyMs: Math.round(latency), outcome: error ?? String(status) });
        } else {
          ok += 1;
          latencies.push(latency);
          if (latency > maxLatency) maxLatency = latency;
          if (latency > options.slowMs) {
            slow += 1;
            if (incidents.length < 500) incidents.push({ atMs: at, latencyMs: Math.round(latency), outcome: 'slow' });
          }
          const key = (body ?? '').split('\n')[0]?.trim() ?? '';
          bodies[key] = (bodies[key] ?? 0) + 1;
        }
        resolve();
      };
      const req = http.get(url, { agent: false, headers: { connection: 'close' } }, (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => {
          if (chunks.length < 4) chunks.push(c);
        });
        res.on('end', () => finish(undefined, Buffer.concat(chunks).toString('utf8'), res.statusCode));
        res.on('error', (e: NodeJS.ErrnoException) => finish(e.code ?? e.message));
      });
      req.on('error', (e: NodeJS.ErrnoException) => finish(e.code ?? e.message));
      const timer = setTimeout(() => {
        finish('timeout');
        req.destroy();
      }, options.timeoutMs);
    });

  const intervalMs = 1000 / options.ratePerSecond;
  let next = performance.now();
  let tick: NodeJS.Timeout | undefined;
  const schedule = (): void => {
    if (stopped) return;
    const now = performance.now();
    // catch up if the event loop was late, but never burst more than 5 at once
    let burst = 0;
    while (next <= now && burst < 5) {
      if (total >= options.maxRequests || Date.now() - started >= options.maxDurationMs) {
        stopped = true;
        return;
      }
      const p = one();
      inFlight.add(p);
      void p.then(() => inFlight.delete(p));
      next += intervalMs;
      burst += 1;
    }
    if (next < now) next = now; // dropped behind: do not burst later
    tick = setTimeout(schedule, Math.max(0, next - performance.now()));
  };
  schedule();

  return {
    peek: () => ({ total, ok, failed, slow }),
    async stop() {
      stopped = true;
      if (tick) clearTimeout(tick);
      const durationMs = Date.now() - started;
      await Promise.all([...inFlight]);
      const sorted = [...latencies].sort((a, b) => a - b);
      return {
        total,
        ok,
        failed,
        slow,
        maxLatencyMs: Math.round(maxLatency),
        p50Ms: Math.round(nearestRank(sorted, 50) * 10) / 10,
        p99Ms: Math.round(nearestRank(sorted, 99) * 10) / 10,
        failures,
        bodies,
        durationMs,
        incidents,
        rate: Math.round((total / Math.max(1, durationMs)) * 10000) / 10,
      };
    },
  };
}

export function formatStats(label: string, s: LoadStats): string {
  const reasons = Object.entries(s.failures)
    .map(([k, v]) => `${k}×${v}`)
    .join(' ');
  return `${label}: total=${s.total} failed=${s.failed} slow(>250ms)=${s.slow} max=${s.maxLatencyMs}ms p50=${s.p50Ms}ms p99=${s.p99Ms}ms rate=${s.rate}/s${reasons ? ` failures: ${reasons}` : ''}`;
}
