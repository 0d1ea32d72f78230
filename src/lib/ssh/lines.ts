import { StringDecoder } from 'node:string_decoder';

/** Turns a byte stream into complete lines (UTF-8 safe across chunk boundaries). */
export class LineSplitter {
  private readonly decoder = new StringDecoder('utf8');
  private pending = '';

  constructor(private readonly onLine: (line: string) => void) {}

  push(chunk: Buffer | string): void {
    this.pending += typeof chunk === 'string' ? chunk : this.decoder.write(chunk);
    let index = this.pending.search(/\r?\n|\r/);
    while (index >= 0) {
      const line = this.pending.slice(0, index);
      const sep = this.pending.startsWith('\r\n', index) ? 2 : 1;
      this.pending = this.pending.slice(index + sep);
      this.onLine(line);
      index = this.pending.search(/\r?\n|\r/);
    }
  }

  end(): void {
    this.pending += this.decoder.end();
    if (this.pending) this.onLine(this.pending);
    this.pending = '';
  }
}
