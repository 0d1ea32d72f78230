// TCP check from the runner: host:port accepts a connection (node:net).

import * as net from 'node:net';

import { attemptBudget } from './check.js';
import type { TcpDefinition } from './definitions.js';
import type { AttemptContext, CheckOutcome } from './poll.js';

export function tcpAttempt(def: TcpDefinition) {
  return (ctx: AttemptContext): Promise<CheckOutcome> =>
    new Promise((resolve) => {
      const timeoutMs = attemptBudget(def.attemptTimeoutMs, ctx.remainingMs);
      const started = performance.now();
      const elapsed = (): number => Math.round(performance.now() - started);
      const socket = net.connect({ host: def.host, port: def.port });
      const done = (outcome: CheckOutcome): void => {
        clearTimeout(timer);
        socket.removeAllListeners();
        socket.on('error', () => undefined);
        socket.destroy();
        resolve(outcome);
      };
      const timer = setTimeout(
        () =>
          done({ ok: false, status: 'timeout', latencyMs: elapsed(), detail: `no connection within ${timeoutMs}ms` }),
        timeoutMs,
      );
      socket.once('connect', () => done({ ok: true, status: 'connected', latencyMs: elapsed() }));
      socket.once('error', (error: NodeJS.ErrnoException) =>
        done({ ok: false, status: error.code ?? 'error', latencyMs: elapsed(), detail: error.message }),
      );
    });
}
