import { spawnSync } from 'node:child_process';
import { chmodSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

import { afterEach, describe, expect, it } from 'vitest';

import { INSTALL_DOCKER_SCRIPT } from './cloud-config.js';

// Runs the install script with fake docker/apt-get/curl/systemctl on PATH that record their calls.
let dir = '';
afterEach(() => rmSync(dir, { recursive: true, force: true }));

function sandbox(tools: Record<string, string>): {
  run: () => { code: number | null; out: string };
  calls: () => string[];
} {
  dir = mkdtempSync(join(tmpdir(), 'install-docker-'));
  const bin = join(dir, 'bin');
  spawnSync('mkdir', ['-p', bin]);
  const log = join(dir, 'calls');
  writeFileSync(log, '');
  for (const [name, body] of Object.entries(tools)) {
    const f = join(bin, name);
    writeFileSync(f, `#!/bin/sh\necho "${name} $*" >> ${log}\n${body}\n`);
    chmodSync(f, 0o755);
  }
  const script = join(dir, 'install.sh');
  writeFileSync(script, INSTALL_DOCKER_SCRIPT);
  return {
    run: () => {
      const r = spawnSync('/bin/sh', [script], { encoding: 'utf8', env: { PATH: bin } });
      return { code: r.status, out: `${r.stdout}${r.stderr}` };
    },
    calls: () => readFileSync(log, 'utf8').trim().split('\n').filter(Boolean),
  };
}

describe('install-docker.sh', () => {
  it('does nothing when Docker and the Compose plugin are there (Docker images)', () => {
    const s = sandbox({ docker: 'exit 0', 'apt-get': 'exit 0' });
    const r = s.run();
    expect(r.code).toBe(0);
    expect(r.out).toContain('already installed');
    expect(s.calls()).toEqual(['docker compose version']);
  });

  it('accepts Compose v1 next to Docker', () => {
    const s = sandbox({
      docker: '[ "$1" = compose ] && exit 1; exit 0',
      'docker-compose': 'exit 0',
      'apt-get': 'exit 0',
    });
    expect(s.run().code).toBe(0);
    expect(s.calls()).not.toContain('apt-get update -q');
  });

  it('installs docker.io and docker-compose-v2 with apt on plain Ubuntu', () => {
    const s = sandbox({ 'apt-get': 'exit 0', systemctl: 'exit 0', curl: 'exit 1' });
    const r = s.run();
    expect(r.code, r.out).toBe(0);
    expect(s.calls()).toEqual([
      'apt-get update -q',
      'apt-get install -y -q docker.io docker-compose-v2',
      'systemctl enable --now docker',
    ]);
  });

  it("falls back to Docker's install script when the packages are not available", () => {
    const s = sandbox({
      'apt-get': '[ "$1" = install ] && exit 100; exit 0',
      systemctl: 'exit 0',
      curl: 'echo "echo installed-by-get-docker"',
      sh: 'exec /bin/sh "$@"',
    });
    const r = s.run();
    expect(r.code, r.out).toBe(0);
    expect(r.out).toContain('using Docker');
    expect(r.out).toContain('installed-by-get-docker');
    const calls = s.calls();
    expect(calls.slice(0, 3)).toEqual([
      'apt-get update -q',
      'apt-get install -y -q docker.io docker-compose-v2',
      'apt-get install -y -q docker.io docker-compose-plugin',
    ]);
    // curl and the sh it pipes into run at the same time: either may log first
    expect(calls.slice(3, 5).sort()).toEqual(['curl -fsSL https://get.docker.com', 'sh ']);
    expect(calls.slice(5)).toEqual(['systemctl enable --now docker']);
  });
});
