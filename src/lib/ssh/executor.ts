import type { Readable, Writable } from 'node:stream';

import type { Script } from '../commands/cmd.js';

/** What a remote command returned. stdout/stderr are the full text unless streamed elsewhere. */
export interface ExecResult {
  code: number;
  stdout: string;
  stderr: string;
}

export interface RunOptions {
  /** Data for the command's stdin (how secrets reach remote commands: never argv). */
  stdin?: string | Buffer | Readable;
  /** Kill the command and fail after this long. */
  timeoutMs?: number;
  /** Called with each complete output line as it arrives (for streaming to the log). */
  onLine?: (line: string, stream: 'stdout' | 'stderr') => void;
  /** Default false: a non-zero exit throws a RemoteCommandError. */
  allowFailure?: boolean;
}

export interface StreamOptions {
  /** The command's stdout is piped here (not buffered): dumps, image streams. */
  stdout: Writable;
  stdin?: Readable;
  timeoutMs?: number;
  onStderrLine?: (line: string) => void;
  /**
   * Aborting it closes the channel at once (after asking the server to KILL the command)
   * and rejects with a StreamAbortedError: a consumer that failed (e.g. the upload) does not
   * wait for the remote command to notice.
   */
  signal?: AbortSignal;
}

/** RemoteHost.stream was aborted through StreamOptions.signal. */
export class StreamAbortedError extends Error {
  override readonly name = 'StreamAbortedError';
}

/**
 * One connected droplet. One implementation over node-ssh, one fake for unit tests.
 * Every command is a Script (src/lib/commands) rendered and quoted in one place.
 */
export interface RemoteHost {
  /** How the host is named in logs, e.g. "web-1 (203.0.113.7)". */
  readonly label: string;
  /** The address connected to. */
  readonly address: string;
  run(script: Script, options?: RunOptions): Promise<ExecResult>;
  /** Writes a file over SFTP with the given mode (e.g. 0o600 for env files); parent dir must exist. */
  upload(path: string, content: string | Buffer, mode: number): Promise<void>;
  /** Runs a command whose stdout is streamed to a Writable (never buffered in memory). */
  stream(script: Script, options: StreamOptions): Promise<{ code: number; stderr: string }>;
  close(): Promise<void>;
}

/** The last `lines` lines of what a command printed: its stderr, or its stdout when stderr is empty. */
export function outputTail(result: { stdout?: string; stderr: string }, lines: number, separator = '\n'): string {
  return (result.stderr.trim() || (result.stdout ?? '').trim()).split('\n').slice(-lines).join(separator);
}

export class RemoteCommandError extends Error {
  override readonly name = 'RemoteCommandError';
  constructor(
    readonly host: string,
    /** The command as logged (sensitive values redacted). */
    readonly command: string,
    readonly result: ExecResult,
  ) {
    const tail = outputTail(result, 15);
    super(`on ${host}: \`${command}\` exited with code ${result.code}${tail ? `:\n${tail}` : ''}`);
  }
}
