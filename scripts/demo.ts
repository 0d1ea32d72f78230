// npm run demo — the main job on this machine, narrated:
//   1. bring up the lab (a local DigitalOcean; reuses one that is already running)
//   2. deploy-on-push: create a droplet and deploy the sample app (nginx → web → PostgreSQL)
//   3. change the app (a new migration) and deploy again while sending it traffic
//   4. scheduled-backup: snapshot + encrypted, verified pg_dump into the lab's S3
//   5. rollback.yml: back to the first release, checked over HTTP
//   6. a summary, then destroy.yml and the lab torn down (if this run started it)
// The workflows are the files in workflows-examples/, run by test/workflow-runner/ with the
// actions' committed dist/ bundles (--build: bundle the current sources instead).
// --verbose prints every line of every step; LAB_KEEP=1 leaves the lab running;
// WORKFLOWS_ACTION_REPO=DIR uses bundles built earlier (test/workflow-runner/bundle.ts).
import { spawn } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { LAB_DIR, downLab, labHealthy, readState } from '../test/lab/lab.js';
import { buildActionRepo, type ActionRepo } from '../test/workflow-runner/bundle.js';
import type { WorkflowRun } from '../test/workflow-runner/runner.js';
import { REPO_ROOT } from '../test/workflow-runner/runner.js';
import {
  appDroplets,
  appState,
  backup,
  changeApp,
  cleanupScenario,
  deploy,
  destroy,
  prepareScenario,
  rollback,
  type Scenario,
  sha,
  stepOutputs,
} from '../test/workflow-runner/scenario.js';

const ACTIONS = [
  'provision-droplet',
  'deploy-compose',
  'db-migrate',
  'rolling-update',
  'health-gate',
  'snapshot-and-backup',
];
const verbose = process.argv.includes('--verbose');
const build = process.argv.includes('--build');
const t0 = Date.now();
const secs = (ms: number): string => `${(ms / 1000).toFixed(1)} s`;
const say = (m: string): void => console.log(`\n\x1b[1m== ${m}\x1b[0m  (+${secs(Date.now() - t0)})`);
const info = (m: string): void => console.log(`   ${m}`);

/** Step-level progress from the runner's log: starts, ends, errors, warnings, key facts. */
function stepLog(line: string): void {
  if (verbose) return void console.log(`   ${line}`);
  const m = /^\[([^\]]+)\] (.*)$/.exec(line);
  const text = m ? m[2]! : line;
  if (
    /^(▶|✓|✗)|^Error:|^job |created droplet|usable after|transfer:|applied|rolled|release|Warning: (?!Unexpected input)/.test(
      text,
    )
  ) {
    console.log(`   ${m ? `[${m[1]!.replace(/^[^/]+\//, '')}] ` : ''}${text}`);
  }
}

function labUp(): Promise<void> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ['--import', 'tsx', 'test/lab/cli.ts', 'up'], {
      cwd: REPO_ROOT,
      stdio: ['ignore', 'ignore', 'pipe'],
    });
    child.stderr.on('data', (d: Buffer) => {
      for (const l of d.toString().split('\n').filter(Boolean)) info(`lab: ${l}`);
    });
    child.on('error', reject);
    child.on('close', (code) => (code === 0 ? resolve() : reject(new Error(`npm run lab -- up exited ${code}`))));
  });
}

interface Timing {
  name: string;
  ms: number;
  conclusion: string;
}
const timings: Timing[] = [];

function record(name: string, r: WorkflowRun): void {
  timings.push({ name, ms: r.durationMs, conclusion: r.conclusion });
  info(`${name}: ${r.conclusion} in ${secs(r.durationMs)}`);
  if (r.conclusion !== 'success') {
    for (const j of Object.values(r.jobs))
      for (const st of j.steps) if (st.error) info(`  ${j.id}/${st.name}: ${st.error}`);
    throw new Error(`${name} failed`);
  }
}

async function main(): Promise<void> {
  console.log('droplet-deploy demo: the example workflows, run on a local DigitalOcean (the lab).');
  console.log('Nothing here talks to DigitalOcean or any registry; all traffic stays on this machine.');

  say('1. The lab');
  let startedLab = false;
  if (await labHealthy()) info(`reusing the running lab (${LAB_DIR})`);
  else {
    info('starting it: Docker, locally built droplet/app images (first time: a few minutes), API fake, S3, registry');
    await labUp();
    startedLab = true;
  }
  const env = readState()?.env;
  if (!env) throw new Error('the lab did not come up');
  info(`DigitalOcean API: ${env.DIGITALOCEAN_API_URL}   Spaces (S3): ${env.LAB_S3_ENDPOINT}`);

  let repo: ActionRepo | undefined;
  let actionRepo = process.env['WORKFLOWS_ACTION_REPO'] ?? REPO_ROOT;
  if (process.env['WORKFLOWS_ACTION_REPO']) info(`actions: the bundles in ${actionRepo}`);
  else if (!build) {
    const stale = ACTIONS.filter((a) => {
      const f = join(REPO_ROOT, 'dist', a, 'index.js');
      return !existsSync(f) || readFileSync(f, 'utf8').includes('is not implemented yet');
    });
    if (stale.length) {
      throw new Error(
        `dist/ does not hold working bundles of ${stale.join(', ')}: run \`npm run build\`, or \`npm run demo -- --build\``,
      );
    }
    info('actions: the committed bundles in dist/ (as GitHub runs them)');
  } else {
    say('Bundling the actions from the current sources (ncc)');
    repo = await buildActionRepo(ACTIONS, (l) => info(l));
    actionRepo = repo.dir;
  }

  const s: Scenario = prepareScenario(env, { actionRepo, onLog: stepLog });
  info(`app "${s.app}" (the repository variable APP_NAME), sample app from workflows-examples/app`);
  let failedRequests: string;
  let backupKeys: string;
  const releases: string[] = [];
  try {
    say('2. deploy-on-push.yml — first push: a droplet is created, the app deployed');
    const v1 = sha();
    const d1 = await deploy(s, v1);
    record('deploy-on-push (first)', d1.run);
    releases.push(stepOutputs(d1.run, 'deploy', 'rollout')['release-id'] ?? v1.slice(0, 7));
    const st1 = await appState(s);
    info(`http://${s.ip}/ answers version ${st1.version.slice(0, 12)}…, ${st1.visits} visit(s) stored in PostgreSQL`);

    say('3. A change (new migration 002) pushed — deploy-on-push again, under load');
    changeApp(s);
    const v2 = sha();
    info(`sending 20 requests/s to http://${s.ip}/version during the whole workflow`);
    const d2 = await deploy(s, v2, { underLoad: true, rps: 20 });
    record('deploy-on-push (change, under load)', d2.run);
    releases.push(stepOutputs(d2.run, 'deploy', 'rollout')['release-id'] ?? v2.slice(0, 7));
    const l = d2.load!;
    failedRequests = `${l.failed} failed of ${l.total} (slower than 250 ms: ${l.slow}; p50 ${l.p50Ms} ms, p99 ${l.p99Ms} ms)`;
    info(`requests during the deploy: ${failedRequests}`);
    if (l.failures.length) info(`first failures: ${l.failures.join('; ')}`);
    const st2 = await appState(s);
    info(`now version ${st2.version.slice(0, 12)}…, ${st2.visits} visits (the pgdata volume survived the release)`);

    say('4. scheduled-backup.yml — snapshot + encrypted, verified pg_dump to Spaces');
    const b = await backup(s);
    record('scheduled-backup', b);
    const out = stepOutputs(b, 'backup', 'backup');
    backupKeys = out['backup-keys'] ?? '';
    info(`snapshots: ${out['snapshot-ids'] ?? ''}; backups: ${backupKeys}`);

    say('5. rollback.yml — release "previous"');
    const before = await appState(s);
    const rb = await rollback(s);
    record('rollback', rb);
    const after = await appState(s);
    info(
      `version ${before.version.slice(0, 12)}… → ${after.version.slice(0, 12)}… (first release: ${after.version === v1 ? 'yes' : 'NO'}); visits ${before.visits} → ${after.visits}`,
    );

    say('6. Summary');
    info(`releases deployed: ${releases.join(', ')}; serving now: ${after.version.slice(0, 7)}`);
    for (const t of timings) info(`${t.name.padEnd(38)} ${t.conclusion.padEnd(8)} ${secs(t.ms)}`);
    info(`requests during the second deploy: ${failedRequests}`);
    info(`backup keys: ${backupKeys}`);

    say('destroy.yml — confirmation "' + s.app + '"');
    const dr = await destroy(s, s.app);
    record('destroy', dr);
    info(`droplets left with tag ${s.app}: ${(await appDroplets(s)).length}`);
  } finally {
    await cleanupScenario(s);
    repo?.cleanup();
    if (startedLab && process.env.LAB_KEEP !== '1') {
      say('Tearing the lab down');
      const r = await downLab();
      info(`done in ${secs(r.seconds * 1000)}`);
    }
  }
  say(`Demo finished in ${secs(Date.now() - t0)}`);
}

main().catch((e: unknown) => {
  console.error(`\ndemo failed: ${(e as Error).message}`);
  process.exit(1);
});
