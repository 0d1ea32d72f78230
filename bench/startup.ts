// Start-up cost of the bundled actions: time from process start to the first line the
// action's own code prints (the input check of a run with no inputs), median of N runs,
// beside `node -e ''` as the floor, and the process's peak RSS (the kernel's maxrss, read
// by /usr/bin/time). With `--against DIR` (the dist/ of another build, e.g. of an older
// commit: `git worktree add /tmp/old <rev> && cd /tmp/old && node scripts/build.mjs`) both
// builds run alternately, side by side in one run.
// Usage: npm run bench:startup [-- runs] [--against DIR]
import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { median } from './median.js';

const root = join(import.meta.dirname, '..');
const args = process.argv.slice(2);
const againstAt = args.indexOf('--against');
const against = againstAt >= 0 ? resolve(args[againstAt + 1] ?? '') : undefined;
if (against && !existsSync(against)) throw new Error(`--against ${against}: no such directory`);
const positional = args.filter((_, i) => againstAt < 0 || (i !== againstAt && i !== againstAt + 1));
const runs = Math.min(Math.max(Number(positional[0] ?? 20) || 20, 1), 200);
const timeFile = join(mkdtempSync(join(tmpdir(), 'dd-bench-startup-')), 'time');

interface Sample {
  ms: number;
  rssKb: number;
}

function timeToFirstLine(nodeArgs: string[], marker: string): Promise<Sample> {
  return new Promise((resolvePromise, reject) => {
    const started = process.hrtime.bigint();
    const child = spawn('/usr/bin/time', ['-o', timeFile, '-f', '%M', process.execPath, ...nodeArgs], {
      env: { PATH: process.env['PATH'] ?? '' },
      stdio: ['ignore', 'pipe', 'ignore'],
    });
    let ms: number | undefined;
    let buffered = '';
    const timer = setTimeout(() => child.kill('SIGKILL'), 30_000);
    child.stdout.on('data', (chunk: Buffer) => {
      buffered += chunk.toString();
      if (ms === undefined && buffered.includes(marker)) ms = Number(process.hrtime.bigint() - started) / 1e6;
    });
    child.on('close', () => {
      clearTimeout(timer);
      if (ms === undefined) reject(new Error(`${nodeArgs.join(' ')} never printed ${marker}`));
      else resolvePromise({ ms, rssKb: Number(readFileSync(timeFile, 'utf8').trim().split('\n').pop()) });
    });
  });
}

function summary(samples: Sample[]): { ms: number; rssMb: number } {
  return { ms: median(samples.map((s) => s.ms)), rssMb: median(samples.map((s) => s.rssKb)) / 1024 };
}

/** Alternates the commands run by run, so load changes hit all of them alike. */
async function measure(commands: string[][], marker: string): Promise<{ ms: number; rssMb: number }[]> {
  const samples: Sample[][] = commands.map(() => []);
  for (let i = 0; i < runs; i += 1)
    for (const [k, command] of commands.entries()) samples[k]!.push(await timeToFirstLine(command, marker));
  return samples.map(summary);
}

try {
  const [floor] = await measure([['-e', "process.stdout.write('ready\\n')"]], 'ready');
  console.log(
    `node floor (node -e, print one line): median ${floor!.ms.toFixed(1)} ms, peak RSS ${floor!.rssMb.toFixed(1)} MB over ${runs} runs`,
  );
  console.log(
    against
      ? `action                 median ms (this / against)   ÷ floor   peak RSS MB (this / against)   [against: ${against}]`
      : 'action                 median ms   ÷ floor   peak RSS MB',
  );
  for (const name of readdirSync(join(root, 'dist')).sort()) {
    const bundles = [join(root, 'dist', name, 'index.js')];
    if (against) bundles.push(join(against, name, 'index.js'));
    const [self, other] = await measure(
      bundles.map((b) => [b]),
      '::error::',
    );
    const ms = other ? `${self!.ms.toFixed(1)} / ${other.ms.toFixed(1)}` : self!.ms.toFixed(1);
    const rss = other ? `${self!.rssMb.toFixed(1)} / ${other.rssMb.toFixed(1)}` : self!.rssMb.toFixed(1);
    console.log(
      `${name.padEnd(22)} ${ms.padStart(against ? 24 : 9)}   ${(self!.ms / floor!.ms).toFixed(2)}×   ${rss.padStart(against ? 26 : 11)}`,
    );
  }
} finally {
  rmSync(join(timeFile, '..'), { recursive: true, force: true });
}
