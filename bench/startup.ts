// Start-up cost of the bundled actions: time from process start to the first line the
// action's own code prints (the input check of a run with no inputs), median of N runs,
// beside `node -e ''` as the floor. Usage: npm run bench:startup [-- runs]
import { spawn } from 'node:child_process';
import { readdirSync } from 'node:fs';
import { join } from 'node:path';

const root = join(import.meta.dirname, '..');
const runs = Math.min(Math.max(Number(process.argv[2] ?? 20) || 20, 1), 200);

function timeToFirstLine(args: string[], marker: string): Promise<number> {
  return new Promise((resolve, reject) => {
    const started = process.hrtime.bigint();
    const child = spawn(process.execPath, args, {
      env: { PATH: process.env['PATH'] ?? '' },
      stdio: ['ignore', 'pipe', 'ignore'],
    });
    let seen = false;
    let buffered = '';
    const timer = setTimeout(() => child.kill('SIGKILL'), 30_000);
    child.stdout.on('data', (chunk: Buffer) => {
      buffered += chunk.toString();
      if (!seen && buffered.includes(marker)) {
        seen = true;
        resolve(Number(process.hrtime.bigint() - started) / 1e6);
      }
    });
    child.on('close', () => {
      clearTimeout(timer);
      if (!seen) reject(new Error(`${args.join(' ')} never printed ${marker}`));
    });
  });
}

function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  const mid = Math.floor(sorted.length / 2);
  return sorted.length % 2 ? (sorted[mid] as number) : ((sorted[mid - 1] as number) + (sorted[mid] as number)) / 2;
}

async function measure(args: string[], marker: string): Promise<number> {
  const times: number[] = [];
  for (let i = 0; i < runs; i += 1) times.push(await timeToFirstLine(args, marker));
  return median(times);
}

const floor = await measure(['-e', "process.stdout.write('ready\\n')"], 'ready');
console.log(`node floor (node -e, print one line): median ${floor.toFixed(1)} ms over ${runs} runs`);
console.log('action                 median ms   ÷ floor');
for (const name of readdirSync(join(root, 'dist')).sort()) {
  const bundle = join(root, 'dist', name, 'index.js');
  const ms = await measure([bundle], '::error::');
  console.log(`${name.padEnd(22)} ${ms.toFixed(1).padStart(9)}   ${(ms / floor).toFixed(2)}×`);
}
