// A RemoteHost for unit tests: every command is rendered exactly as the real host would
// send it, recorded, and answered by the first matching rule. Uploads land in `files`.
import type { Writable } from 'node:stream';

import { render, type Script } from '../../src/lib/commands/cmd.js';
import {
  type ExecResult,
  RemoteCommandError,
  type RemoteHost,
  type RunOptions,
  StreamAbortedError,
  type StreamOptions,
} from '../../src/lib/ssh/executor.js';

export type Reply = Partial<ExecResult> | ((command: string, stdin: string) => Partial<ExecResult>);

export interface Rule {
  match: string | RegExp | ((command: string) => boolean);
  reply: Reply;
  /** Answer only this many times (then the rule is skipped). */
  times?: number;
}

/**
 * Produces a streamed command's stdout (e.g. an endless dump): writes to `stdout` and
 * resolves with the exit status. `signal` is StreamOptions.signal (stop when it aborts).
 */
export type StreamProducer = (stdout: Writable, signal: AbortSignal | undefined) => Promise<Partial<ExecResult>>;

export interface RecordedStream {
  command: string;
  /** The caller aborted it through StreamOptions.signal (stream() rejected with StreamAbortedError). */
  aborted: boolean;
}

export interface RecordedCall {
  /** As executed (secrets in clear). */
  command: string;
  /** As logged (secrets redacted). */
  logged: string;
  stdin: string;
}

export class FakeHost implements RemoteHost {
  readonly calls: RecordedCall[] = [];
  readonly files = new Map<string, { content: string; mode: number }>();
  private readonly rules: Rule[] = [];
  private readonly producers: { match: Rule['match']; produce: StreamProducer }[] = [];
  readonly streams: RecordedStream[] = [];
  closed = false;

  constructor(
    readonly label = 'fake-1 (192.0.2.10)',
    readonly address = '192.0.2.10',
  ) {}

  /** Adds a rule; later rules are checked first, so tests can override defaults. */
  on(match: Rule['match'], reply: Reply, times?: number): this {
    this.rules.unshift({ match, reply, ...(times !== undefined ? { times } : {}) });
    return this;
  }

  /** Streams matching commands from a producer instead of a rule's stdout (later ones checked first). */
  onStream(match: Rule['match'], produce: StreamProducer): this {
    this.producers.unshift({ match, produce });
    return this;
  }

  commands(): string[] {
    return this.calls.map((c) => c.command);
  }

  private answer(command: string, stdin: string): ExecResult {
    for (const rule of this.rules) {
      const m = rule.match;
      const hit = typeof m === 'string' ? command === m : m instanceof RegExp ? m.test(command) : m(command);
      if (!hit) continue;
      if (rule.times !== undefined) {
        if (rule.times <= 0) continue;
        rule.times -= 1;
      }
      const r = typeof rule.reply === 'function' ? rule.reply(command, stdin) : rule.reply;
      return { code: r.code ?? 0, stdout: r.stdout ?? '', stderr: r.stderr ?? '' };
    }
    return { code: 0, stdout: '', stderr: '' };
  }

  async run(script: Script, options: RunOptions = {}): Promise<ExecResult> {
    const command = render(script, 'exec');
    const logged = render(script, 'log');
    let stdin = '';
    if (typeof options.stdin === 'string') stdin = options.stdin;
    else if (Buffer.isBuffer(options.stdin)) stdin = options.stdin.toString('utf8');
    this.calls.push({ command, logged, stdin });
    await Promise.resolve();
    const result = this.answer(command, stdin);
    for (const line of result.stdout.split('\n').filter(Boolean)) options.onLine?.(line, 'stdout');
    if (result.code !== 0 && !options.allowFailure) throw new RemoteCommandError(this.label, logged, result);
    return result;
  }

  async upload(path: string, content: string | Buffer, mode: number): Promise<void> {
    await Promise.resolve();
    this.files.set(path, { content: typeof content === 'string' ? content : content.toString('utf8'), mode });
  }

  async stream(script: Script, options: StreamOptions): Promise<{ code: number; stderr: string }> {
    const command = render(script, 'exec');
    const producer = this.producers.find(({ match: m }) =>
      typeof m === 'string' ? command === m : m instanceof RegExp ? m.test(command) : m(command),
    );
    if (producer) {
      this.calls.push({ command, logged: render(script, 'log'), stdin: '' });
      const record: RecordedStream = { command, aborted: false };
      this.streams.push(record);
      const { signal } = options;
      return new Promise((resolve, reject) => {
        const onAbort = (): void => {
          record.aborted = true;
          reject(new StreamAbortedError(`${this.label}: \`${render(script, 'log')}\` was aborted`));
        };
        if (signal?.aborted) return onAbort();
        signal?.addEventListener('abort', onAbort, { once: true });
        producer.produce(options.stdout, signal).then(
          (r) => {
            signal?.removeEventListener('abort', onAbort);
            resolve({ code: r.code ?? 0, stderr: r.stderr ?? '' });
          },
          (error: unknown) => {
            signal?.removeEventListener('abort', onAbort);
            reject(error instanceof Error ? error : new Error(String(error)));
          },
        );
      });
    }
    const result = await this.run(script, { allowFailure: true });
    (options.stdout as Writable).write(result.stdout);
    return { code: result.code, stderr: result.stderr };
  }

  async close(): Promise<void> {
    await Promise.resolve();
    this.closed = true;
  }
}
