// The fixed shell scripts PROBE (compose.ts probeScript) and SETTLE (state.ts settleScript),
// run for real by `sh` against stub `docker` / `docker-compose` programs on PATH — their
// rendered text alone would pass a broken script.
import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

import { afterAll, beforeEach, describe, expect, it } from 'vitest';

import { render, type Script } from '../commands/cmd.js';
import { parseBegin } from '../release/remote.js';
import { composeFromProbe, probeScript } from './compose.js';
import { settleScript } from './state.js';

const dir = mkdtempSync(join(tmpdir(), 'dd-scripts-'));
const bin = join(dir, 'bin');
const work = join(dir, 'work');
mkdirSync(bin);

const YAML = 'services:\n  web:\n    image: reg/web:1\n    environment:\n      SECRET: hunter2';

// docker: `compose version --short` → 2.29.7 (unless NO_V2); `compose … config` → the YAML,
// a warning on stderr, exit $CFG_EXIT, and the mode of the file its stdout goes to in
// $WORK/mode; `ps -q --filter label=… --filter health=<h>` → `abc` when container abc of
// project $PROJECT is in health <h>: "starting" for the first $STARTING calls (counted in
// $WORK/ps), then "healthy".
writeFileSync(
  join(bin, 'docker'),
  `#!/bin/sh
echo "$*" >>"$WORK/calls"
if [ "$1" = compose ]; then
  [ -n "$NO_V2" ] && { echo "docker: 'compose' is not a docker command." >&2; exit 1; }
  [ "$2" = version ] && { echo 2.29.7; exit 0; }
  stat -L -c %a /proc/$$/fd/1 >"$WORK/mode"
  printf '%s\\n' "$YAML"; echo "warn: the attribute version is obsolete" >&2; exit "\${CFG_EXIT:-0}"
fi
if [ "$1" = ps ]; then
  n=$(cat "$WORK/ps" 2>/dev/null || echo 0); n=$((n + 1)); echo "$n" >"$WORK/ps"
  health=healthy; [ "$n" -le "\${STARTING:-0}" ] && health=starting
  label=; want=
  for a; do case "$a" in label=*) label=$a ;; health=*) want=\${a#health=} ;; esac; done
  [ "$label" = "label=com.docker.compose.project=$PROJECT" ] && [ "$want" = "$health" ] && echo abc
  exit 0
fi
exit 0
`,
  { mode: 0o755 },
);
// docker-compose (v1): only when V1 is set
writeFileSync(
  join(bin, 'docker-compose'),
  `#!/bin/sh
[ -n "$V1" ] || { echo "docker-compose: not found" >&2; exit 127; }
echo "compose $*" >>"$WORK/calls"
[ "$1" = version ] && { echo 1.29.2; exit 0; }
printf '%s\\n' "$YAML"; exit "\${CFG_EXIT:-0}"
`,
  { mode: 0o755 },
);

afterAll(() => rmSync(dir, { recursive: true, force: true }));

beforeEach(() => {
  rmSync(work, { recursive: true, force: true });
  mkdirSync(work);
});

/**
 * Runs a rendered script with `sh -c` (as the droplet's shell runs the exec form) under
 * umask 022, like a login shell; stdout and stderr.
 */
function sh(script: Script, env: Record<string, string> = {}): { stdout: string; stderr: string } {
  const errFile = join(work, 'stderr');
  const stdout = execFileSync('sh', ['-c', `umask 022; { ${render(script)}; } 2>"$ERR"`], {
    env: { PATH: `${bin}:/usr/bin:/bin`, WORK: work, YAML, ERR: errFile, ...env },
    encoding: 'utf8',
    stdio: ['ignore', 'pipe', 'pipe'],
    timeout: 20_000,
  });
  return { stdout, stderr: readFileSync(errFile, 'utf8') };
}

const project = { project: 'shop', files: ['/srv/shop/compose.yaml'], envFile: '/srv/shop/.env', profiles: ['jobs'] };
const ARGS = '--project-name shop --file /srv/shop/compose.yaml --env-file /srv/shop/.env --profile jobs';

describe('PROBE run by sh', () => {
  it('v2: version + plugin, then the config and its exit code; stderr passed on; the temp folder removed', () => {
    const tmp = join(work, 'probe');
    const r = sh(probeScript(project, tmp), { CFG_EXIT: '15' });
    const state = parseBegin(`@@dd:compose\n${r.stdout}`);
    expect(state.compose).toBe('2.29.7\nplugin');
    expect(state.config?.code).toBe(15);
    expect(state.config?.yaml.trim()).toBe(YAML);
    expect(r.stderr).toContain('warn: the attribute version is obsolete');
    expect(composeFromProbe(state.compose)).toEqual({
      command: ['docker', 'compose'],
      version: '2.29.7',
      major: 2,
    });
    expect(readFileSync(join(work, 'calls'), 'utf8')).toContain(`compose ${ARGS} config`);
    expect(existsSync(tmp)).toBe(false);
  });

  it('v2: the resolved config (it holds secrets) is written only for the owner (0600), whatever the umask', () => {
    const r = sh(probeScript(project, join(work, 'probe')));
    expect(parseBegin(`@@dd:compose\n${r.stdout}`).config?.code).toBe(0);
    expect(readFileSync(join(work, 'mode'), 'utf8').trim()).toBe('600');
  });

  it('v1: without the plugin it falls back to docker-compose (version, no plugin line, then its config)', () => {
    const tmp = join(work, 'probe');
    const r = sh(probeScript(project, tmp), { NO_V2: '1', V1: '1', CFG_EXIT: '1' });
    const state = parseBegin(`@@dd:compose\n${r.stdout}`);
    expect(state.compose).toBe('1.29.2');
    expect(state.config).toEqual({ code: 1, yaml: `${YAML}\n` });
    expect(composeFromProbe(state.compose)?.command).toEqual(['docker-compose']);
    expect(readFileSync(join(work, 'calls'), 'utf8')).toContain(`compose ${ARGS} config`);
    expect(existsSync(tmp)).toBe(false);
  });

  it('neither Compose: prints nothing (no config section), exits 0, removes the temp folder', () => {
    const tmp = join(work, 'probe');
    const r = sh(probeScript(project, tmp), { NO_V2: '1' });
    expect(r.stdout).toBe('');
    expect(parseBegin(`@@dd:compose\n${r.stdout}`).config).toBeUndefined();
    expect(existsSync(tmp)).toBe(false);
  });

  it('probe mode (no project): only the version, with the plugin line for v2', () => {
    expect(sh(probeScript()).stdout).toBe('2.29.7\nplugin\n');
    expect(sh(probeScript(), { NO_V2: '1', V1: '1' }).stdout).toBe('1.29.2\n');
    expect(sh(probeScript(), { NO_V2: '1' }).stdout).toBe('');
  });
});

describe('SETTLE run by sh', () => {
  const psCalls = (): number => Number(readFileSync(join(work, 'ps'), 'utf8').trim());

  it('waits while a container of the project is in "starting", and returns once none is', () => {
    sh(settleScript('My.Shop', 20_000), { PROJECT: 'myshop', STARTING: '3' });
    // 3 checks see abc starting, the 4th sees none
    expect(psCalls()).toBe(4);
  });

  it('returns at once when nothing of the project is starting (another project is not waited on)', () => {
    sh(settleScript('shop', 20_000), { PROJECT: 'other', STARTING: '1000' });
    expect(psCalls()).toBe(1);
  });

  it('stops at its bound (whole seconds) even when a container never leaves "starting"', () => {
    sh(settleScript('shop', 1000), { PROJECT: 'shop', STARTING: '1000000' });
    expect(psCalls()).toBeGreaterThanOrEqual(1);
    expect(psCalls()).toBeLessThan(1000000);
  });
});
