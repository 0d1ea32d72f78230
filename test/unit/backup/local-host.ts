import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { Readable } from 'node:stream';

import { render, type Script } from '../../../src/lib/commands/cmd.js';
import type { ExecResult, RemoteHost, RunOptions, StreamOptions } from '../../../src/lib/ssh/executor.js';
import { RemoteCommandError } from '../../../src/lib/ssh/executor.js';

/** A RemoteHost that runs the rendered script with the local sh: for pipeline tests without SSH. */
export class LocalHost implements RemoteHost {
  readonly label = 'local';
  readonly address = '127.0.0.1';
  readonly commands: string[] = [];

  async run(script: Script, options: RunOptions = {}): Promise<ExecResult> {
    const text = render(script);
    this.commands.push(render(script, 'log'));
    const child = spawn('sh', ['-c', text], { stdio: ['pipe', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    feed(child.stdin, options.stdin);
    const [code] = (await once(child, 'close')) as [number | null];
    const result = { code: code ?? 1, stdout, stderr };
    if (result.code !== 0 && !options.allowFailure)
      throw new RemoteCommandError(this.label, render(script, 'log'), result);
    return result;
  }

  async upload(): Promise<void> {
    throw new Error('not used');
  }

  async stream(script: Script, options: StreamOptions): Promise<{ code: number; stderr: string }> {
    this.commands.push(render(script, 'log'));
    const child = spawn('sh', ['-c', render(script)], { stdio: ['pipe', 'pipe', 'pipe'] });
    let stderr = '';
    child.stderr.on('data', (d: Buffer) => {
      stderr += d.toString();
      for (const line of d.toString().split('\n')) if (line) options.onStderrLine?.(line);
    });
    child.stdout.pipe(options.stdout);
    options.stdout.on('close', () => child.kill('SIGKILL'));
    feed(child.stdin, options.stdin);
    const [code] = (await once(child, 'close')) as [number | null];
    return { code: code ?? 137, stderr };
  }

  async close(): Promise<void> {}
}

function feed(stdin: NodeJS.WritableStream, data: string | Buffer | Readable | undefined): void {
  stdin.on('error', () => undefined);
  if (data === undefined) stdin.end();
  else if (data instanceof Readable) data.pipe(stdin);
  else stdin.end(data);
}
