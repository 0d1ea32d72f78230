import { connect as tcpConnect } from 'node:net';
import type { Readable } from 'node:stream';

import { NodeSSH } from 'node-ssh';
import type { ClientChannel, ConnectConfig, SFTPWrapper } from 'ssh2';

import type { Logger } from '../action/logger.js';
import { render, type Script } from '../commands/cmd.js';
import { realSleep, retry } from '../retry.js';
import type { ExecResult, RemoteHost, RunOptions, StreamOptions } from './executor.js';
import { RemoteCommandError, StreamAbortedError } from './executor.js';
import { type HostKeyPolicy, HostKeyMismatchError, hostKeyCheck, trustedFingerprints } from './host-keys.js';
import { LineSplitter } from './lines.js';
import { endpointLabel, type HostTarget, type SshEndpoint } from './target.js';

export interface SshSettings {
  privateKey: string;
  passphrase?: string;
  hostKeys: HostKeyPolicy;
  /** Per connection attempt (TCP + handshake + auth). */
  connectTimeoutMs: number;
  /** Attempts for the connection phase only; commands are never retried here. */
  connectAttempts: number;
  /** Default per-command deadline when RunOptions.timeoutMs is not given. */
  commandTimeoutMs: number;
  keepaliveIntervalMs: number;
  jump?: SshEndpoint;
  logger: Logger;
  sleep?: (ms: number) => Promise<void>;
}

export class SshConnectError extends Error {
  override readonly name = 'SshConnectError';
}

export class CommandTimeoutError extends Error {
  override readonly name = 'CommandTimeoutError';
}

function isPermanent(error: unknown): boolean {
  if (error instanceof HostKeyMismatchError) return true;
  const message = error instanceof Error ? error.message : String(error);
  return /All configured authentication methods failed|authentication/i.test(message);
}

/**
 * The TCP connection, with Nagle's algorithm off. ssh2 leaves it on, and then every exec paid
 * ~40 ms: its small packets sent back to back (the exec request, then EOF or stdin) waited
 * for the droplet's delayed ACK (sshd turns TCP_NODELAY on only for sessions with a pty).
 * Measured on the lab: an exec of `true` 45–50 ms → 2–3 ms, the handshake ~120 → ~85 ms.
 */
function openTcp(endpoint: SshEndpoint, timeoutMs: number): Promise<Readable> {
  return new Promise((resolve, reject) => {
    const sock = tcpConnect({ host: endpoint.host, port: endpoint.port, noDelay: true });
    const fail = (error: Error): void => {
      clearTimeout(timer);
      sock.destroy();
      reject(error);
    };
    const timer = setTimeout(() => fail(new Error(`TCP connect timed out after ${timeoutMs} ms`)), timeoutMs);
    sock.once('error', fail);
    sock.once('connect', () => {
      clearTimeout(timer);
      sock.removeListener('error', fail);
      resolve(sock);
    });
  });
}

async function connectOnce(endpoint: SshEndpoint, settings: SshSettings, via?: Readable): Promise<NodeSSH> {
  const check = hostKeyCheck(settings.hostKeys, endpoint.host, endpoint.port);
  const algorithms = check.preferredAlgorithms();
  let sock = via;
  if (!sock) {
    try {
      sock = await openTcp(endpoint, settings.connectTimeoutMs);
    } catch (error) {
      const message = error instanceof Error ? error.message : String(error);
      throw new SshConnectError(`could not connect to ${endpoint.user}@${endpointLabel(endpoint)}: ${message}`);
    }
  }
  const config: ConnectConfig = {
    host: endpoint.host,
    port: endpoint.port,
    username: endpoint.user,
    privateKey: settings.privateKey,
    ...(settings.passphrase ? { passphrase: settings.passphrase } : {}),
    readyTimeout: settings.connectTimeoutMs,
    keepaliveInterval: settings.keepaliveIntervalMs,
    keepaliveCountMax: 4,
    hostVerifier: (key: Buffer) => check.verify(key),
    ...(algorithms ? { algorithms: { serverHostKey: algorithms as never } } : {}),
    sock,
  };
  const ssh = new NodeSSH();
  try {
    await ssh.connect(config as Parameters<NodeSSH['connect']>[0]);
  } catch (error) {
    ssh.dispose();
    if (!via) sock.destroy();
    const message = error instanceof Error ? error.message : String(error);
    if (/verification failed/i.test(message)) {
      throw new HostKeyMismatchError(
        endpoint.host,
        endpoint.port,
        check.presented(),
        trustedFingerprints(settings.hostKeys, endpoint.host, endpoint.port),
      );
    }
    throw new SshConnectError(`could not connect to ${endpoint.user}@${endpointLabel(endpoint)}: ${message}`);
  }
  return ssh;
}

/** Connects with retries and backoff (connection phase only). */
export async function connectWithRetry(
  endpoint: SshEndpoint,
  settings: SshSettings,
  via?: () => Promise<NodeSSH>,
): Promise<NodeSSH> {
  return retry(
    async () => {
      let sock: Readable | undefined;
      if (via) {
        const jump = await via();
        try {
          sock = await jump.forwardOut('127.0.0.1', 0, endpoint.host, endpoint.port);
        } catch (error) {
          throw new SshConnectError(
            `jump host could not reach ${endpointLabel(endpoint)}: ${error instanceof Error ? error.message : String(error)}`,
          );
        }
      }
      return connectOnce(endpoint, settings, sock);
    },
    {
      attempts: settings.connectAttempts,
      baseDelayMs: 1000,
      maxDelayMs: 10_000,
      retryable: (e) => !isPermanent(e),
      onRetry: ({ attempt, error, delayMs }) =>
        settings.logger.warn(
          `${endpointLabel(endpoint)}: connection attempt ${attempt} failed (${error instanceof Error ? error.message : String(error)}); retrying in ${Math.round(delayMs / 100) / 10}s`,
        ),
      ...(settings.sleep ? { sleep: settings.sleep } : { sleep: realSleep }),
    },
  );
}

/**
 * Sends an SSH "signal" request. ssh2's Channel.signal() silently sends nothing once our
 * side has sent EOF — which exec() does at once for a command without stdin (every dump) —
 * although the protocol allows requests after EOF; so the request goes to ssh2's protocol
 * object directly while the channel is open or half-closed.
 */
function signalChannel(channel: ClientChannel, name: string): void {
  const c = channel as unknown as {
    outgoing?: { id: number; state: string };
    _client?: { _protocol?: { signal(id: number, signal: string): void } };
  };
  const state = c.outgoing?.state;
  if (c.outgoing && (state === 'open' || state === 'eof') && c._client?._protocol)
    c._client._protocol.signal(c.outgoing.id, name);
  else channel.signal(name);
}

/** One droplet over one SSH connection (node-ssh / ssh2). */
export class NodeSshHost implements RemoteHost {
  private sftp: Promise<SFTPWrapper> | undefined;

  constructor(
    private readonly ssh: NodeSSH,
    readonly target: HostTarget,
    private readonly settings: Pick<SshSettings, 'commandTimeoutMs' | 'logger'>,
    private readonly onClose?: () => Promise<void>,
  ) {}

  get label(): string {
    return this.target.label;
  }

  get address(): string {
    return this.target.host;
  }

  async run(script: Script, options: RunOptions = {}): Promise<ExecResult> {
    const logged = render(script, 'log');
    this.settings.logger.debug(`${this.label}: $ ${logged}`);
    const stdout: Buffer[] = [];
    const stderr: Buffer[] = [];
    const out = new LineSplitter((line) => options.onLine?.(line, 'stdout'));
    const err = new LineSplitter((line) => options.onLine?.(line, 'stderr'));
    const code = await this.exec(script, logged, options.timeoutMs, options.stdin, (channel) => {
      channel.on('data', (chunk: Buffer) => {
        stdout.push(chunk);
        out.push(chunk);
      });
      channel.stderr.on('data', (chunk: Buffer) => {
        stderr.push(chunk);
        err.push(chunk);
      });
    });
    out.end();
    err.end();
    const result = {
      code,
      stdout: Buffer.concat(stdout).toString('utf8'),
      stderr: Buffer.concat(stderr).toString('utf8'),
    };
    if (code !== 0 && !options.allowFailure) throw new RemoteCommandError(this.label, logged, result);
    return result;
  }

  async stream(script: Script, options: StreamOptions): Promise<{ code: number; stderr: string }> {
    const logged = render(script, 'log');
    this.settings.logger.debug(`${this.label}: $ ${logged} (streamed)`);
    const stderr: Buffer[] = [];
    const err = new LineSplitter((line) => options.onStderrLine?.(line));
    const code = await this.exec(
      script,
      logged,
      options.timeoutMs,
      options.stdin,
      (channel) => {
        channel.pipe(options.stdout, { end: false });
        channel.stderr.on('data', (chunk: Buffer) => {
          stderr.push(chunk);
          err.push(chunk);
        });
      },
      options.signal,
    );
    err.end();
    return { code, stderr: Buffer.concat(stderr).toString('utf8') };
  }

  private exec(
    script: Script,
    logged: string,
    timeoutMs: number | undefined,
    stdin: string | Buffer | Readable | undefined,
    attach: (channel: ClientChannel) => void,
    signal?: AbortSignal,
  ): Promise<number> {
    const connection = this.ssh.connection;
    if (!connection) return Promise.reject(new Error(`${this.label}: not connected`));
    if (signal?.aborted) return Promise.reject(new StreamAbortedError(`${this.label}: \`${logged}\` was aborted`));
    const deadline = timeoutMs ?? this.settings.commandTimeoutMs;
    return new Promise<number>((resolve, reject) => {
      connection.exec(render(script, 'exec'), (error, channel) => {
        if (error) {
          reject(new Error(`${this.label}: could not start \`${logged}\`: ${error.message}`));
          return;
        }
        let exitCode: number | undefined;
        let settled = false;
        const kill = (): void => {
          try {
            signalChannel(channel, 'KILL');
          } catch {
            /* the server may not support signals */
          }
          // unpipe first: data still in flight must not reach a consumer that gave up
          channel.unpipe();
          channel.close();
        };
        const onAbort = (): void => {
          if (settled) return;
          settled = true;
          clearTimeout(timer);
          kill();
          reject(new StreamAbortedError(`${this.label}: \`${logged}\` was aborted`));
        };
        const timer = setTimeout(() => {
          if (settled) return;
          settled = true;
          signal?.removeEventListener('abort', onAbort);
          kill();
          reject(
            new CommandTimeoutError(
              `${this.label}: \`${logged}\` did not finish within ${Math.round(deadline / 1000)}s`,
            ),
          );
        }, deadline);
        signal?.addEventListener('abort', onAbort, { once: true });
        // The SSH socket keeps the process alive while a command runs; the deadline timer must
        // not keep it alive after the connection is gone (a stream abandoned after a failed
        // upload would otherwise hold the action open until its dump-timeout).
        timer.unref();
        attach(channel);
        channel.on('exit', (code: number | null, signal?: string) => {
          exitCode = code ?? (signal ? 128 + 9 : 255);
        });
        channel.on('close', (code?: number | null) => {
          clearTimeout(timer);
          signal?.removeEventListener('abort', onAbort);
          if (settled) return;
          settled = true;
          resolve(exitCode ?? (typeof code === 'number' ? code : 255));
        });
        channel.on('error', (e: Error) => {
          clearTimeout(timer);
          signal?.removeEventListener('abort', onAbort);
          if (settled) return;
          settled = true;
          reject(new Error(`${this.label}: \`${logged}\` failed: ${e.message}`));
        });
        if (stdin === undefined) channel.end();
        else if (typeof stdin === 'string' || Buffer.isBuffer(stdin)) channel.end(stdin);
        else {
          stdin.on('error', () => channel.close());
          stdin.pipe(channel);
        }
      });
    });
  }

  private getSftp(): Promise<SFTPWrapper> {
    this.sftp ??= this.ssh.requestSFTP().catch((error: unknown) => {
      this.sftp = undefined;
      throw error;
    });
    return this.sftp;
  }

  async upload(path: string, content: string | Buffer, mode: number): Promise<void> {
    this.settings.logger.debug(`${this.label}: upload ${path} (mode ${mode.toString(8).padStart(4, '0')})`);
    const sftp = await this.getSftp();
    const data = typeof content === 'string' ? Buffer.from(content, 'utf8') : content;
    await new Promise<void>((resolve, reject) => {
      // Created with the final mode (never wider first), then chmod in case the file existed.
      sftp.writeFile(path, data, { mode }, (error) => {
        if (error) {
          reject(new Error(`${this.label}: could not upload ${path}: ${error.message}`));
          return;
        }
        sftp.chmod(path, mode, (chmodError) => {
          if (chmodError) reject(new Error(`${this.label}: could not chmod ${path}: ${chmodError.message}`));
          else resolve();
        });
      });
    });
  }

  async close(): Promise<void> {
    if (this.sftp) {
      try {
        (await this.sftp).end();
      } catch {
        /* already gone */
      }
    }
    this.ssh.dispose();
    await this.onClose?.();
  }
}
