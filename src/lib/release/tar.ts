// A minimal ustar writer: the release's files (compose files, extra files, the 0600 .env)
// go to the droplet as ONE archive on the stdin of `tar -x` — one round trip instead of an
// SFTP open/write/chmod/close per file, and the secrets still never touch argv.
import { cmd, type Cmd } from '../commands/cmd.js';

export interface TarFile {
  /** Relative path inside the archive (no leading "/" or ".."). */
  path: string;
  content: Buffer | string;
  mode: number;
}

function octal(value: number, width: number): string {
  return `${value.toString(8).padStart(width - 1, '0')}\0`;
}

function splitName(path: string): { name: string; prefix: string } {
  if (Buffer.byteLength(path) <= 100) return { name: path, prefix: '' };
  const cut = path.lastIndexOf('/', 155);
  const prefix = path.slice(0, cut);
  const name = path.slice(cut + 1);
  if (cut <= 0 || Buffer.byteLength(prefix) > 155 || Buffer.byteLength(name) > 100) {
    throw new Error(`path too long for the release archive: ${path}`);
  }
  return { name, prefix };
}

function header(path: string, size: number, mode: number, mtime: number): Buffer {
  const h = Buffer.alloc(512, 0);
  const { name, prefix } = splitName(path);
  h.write(name, 0, 100, 'utf8');
  h.write(octal(mode & 0o7777, 8), 100, 8, 'latin1');
  h.write(octal(0, 8), 108, 8, 'latin1');
  h.write(octal(0, 8), 116, 8, 'latin1');
  h.write(octal(size, 12), 124, 12, 'latin1');
  h.write(octal(mtime, 12), 136, 12, 'latin1');
  h.write('        ', 148, 8, 'latin1');
  h.write('0', 156, 1, 'latin1');
  h.write('ustar\0', 257, 6, 'latin1');
  h.write('00', 263, 2, 'latin1');
  h.write(prefix, 345, 155, 'utf8');
  let sum = 0;
  for (const byte of h) sum += byte;
  h.write(`${sum.toString(8).padStart(6, '0')}\0 `, 148, 8, 'latin1');
  return h;
}

export function tarArchive(files: readonly TarFile[], mtimeSeconds = Math.floor(Date.now() / 1000)): Buffer {
  const parts: Buffer[] = [];
  for (const f of files) {
    if (!f.path || f.path.startsWith('/') || f.path.split('/').includes('..')) {
      throw new Error(`refusing to archive ${JSON.stringify(f.path)}`);
    }
    const data = typeof f.content === 'string' ? Buffer.from(f.content, 'utf8') : f.content;
    parts.push(header(f.path, data.length, f.mode, mtimeSeconds), data);
    const pad = (512 - (data.length % 512)) % 512;
    if (pad) parts.push(Buffer.alloc(pad, 0));
  }
  parts.push(Buffer.alloc(1024, 0));
  return Buffer.concat(parts);
}

/** The droplet's side of tarArchive: unpack the archive on stdin into `dir` (which must exist). */
export function untarStdin(dir: string): Cmd {
  return cmd('tar', '-x', '-f', '-', '-C', dir);
}
