// Shared set-up for the deploy-compose lab tests and benches: the bundled action, app images
// v1/v2 (busybox httpd + a version file) pushed to the lab registry under ONE moving tag,
// and a helper that runs the bundled action against a fixture droplet.
import { execFileSync, spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

import type { FixtureDroplet, LabFixture } from '../lab/fixture.js';
import { buildPrivateBundle } from './private-bundle.js';
import { type ActionRunOptions, type ActionRunResult, REPO_ROOT, runAction } from './run-action.js';
import { scratchDir } from './run-scratch.js';

export const DOCKER = '/usr/bin/docker';
export const FIXTURE_DIR = 'test/e2e/fixtures/deploy-compose';

/** Where the bundle under test lives: a private bundle of deploy-compose (test/support/private-bundle.ts). */
let distRoot: string | undefined;

export function bundleRoot(): string {
  if (!distRoot) throw new Error('call buildBundle() first');
  return distRoot;
}

export function buildBundle(): void {
  if (distRoot) rmSync(distRoot, { recursive: true, force: true });
  distRoot = buildPrivateBundle('deploy-compose');
}

export function docker(args: string[], input?: string): string {
  return execFileSync(DOCKER, args, {
    encoding: 'utf8',
    ...(input !== undefined ? { input } : {}),
    maxBuffer: 64 << 20,
  });
}

/** Builds `<name>:<version>` FROM the lab's web image with /www/version.txt = "version <version>". */
export function buildWebImage(baseImage: string, name: string, version: string, extraBytes = 0): string {
  const dir = scratchDir('ddlab-webimg-');
  try {
    writeFileSync(join(dir, 'version.txt'), `version ${version}\n`);
    let dockerfile = `FROM ${baseImage}\nCOPY version.txt /www/version.txt\n`;
    if (extraBytes > 0) {
      mkdirSync(join(dir, 'blob'));
      // incompressible, different per version: a layer of known size
      writeFileSync(join(dir, 'blob', 'payload.bin'), randomBytes(extraBytes));
      dockerfile += 'COPY blob/payload.bin /payload.bin\n';
    }
    writeFileSync(join(dir, 'Dockerfile'), dockerfile);
    const tag = `${name}:${version}`;
    docker(['build', '-q', '-t', tag, dir]);
    return tag;
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

export interface LabApp {
  /** The moving tag as droplets pull it (registry host as droplets reach it). */
  webRef: string;
  nginxRef: string;
  /** Points the moving tag at v1 or v2 (push to the lab registry). */
  publish(version: 'v1' | 'v2'): void;
  localTags: Record<'v1' | 'v2', string>;
  cleanup(): void;
}

export function prepareApp(lab: LabFixture, namespace: string): LabApp {
  const base = lab.info.images.web;
  const local = `ddlab-e2e-${namespace}/web`;
  const localTags = { v1: buildWebImage(base, local, 'v1'), v2: buildWebImage(base, local, 'v2') };
  const path = `ddlab-e2e-${namespace}/web:current`;
  const hostRef = `${lab.info.registryForHost}/${path}`;
  const nginxRef = lab.env.LAB_APP_IMAGES.split(',').find((i) => i.includes('/services'));
  if (!nginxRef) throw new Error(`no services image in LAB_APP_IMAGES=${lab.env.LAB_APP_IMAGES}`);
  return {
    webRef: `${lab.env.LAB_REGISTRY}/${path}`,
    nginxRef,
    localTags,
    publish(version) {
      docker(['tag', localTags[version], hostRef]);
      docker(['push', hostRef]);
    },
    cleanup() {
      spawnSync(DOCKER, ['rmi', hostRef, localTags.v1, localTags.v2], { stdio: 'ignore' });
    },
  };
}

export const SECRET_VALUE = 'sup3r-s3cret-Value-9f27';

export function baseInputs(lab: LabFixture, d: FixtureDroplet, app: LabApp, appName: string): Record<string, string> {
  return {
    hosts: d.publicIpv4,
    'ssh-private-key': lab.identity.privateKey,
    'known-hosts': `${d.publicIpv4} ${d.hostKey}`,
    app: appName,
    'compose-files': 'deploy/compose.yaml',
    files: 'deploy/nginx.conf',
    'working-directory': FIXTURE_DIR,
    env: `WEB_IMAGE=${app.webRef}\nNGINX_IMAGE=${app.nginxRef}`,
    secrets: `APP_SECRET=${SECRET_VALUE}`,
    'wait-timeout': '60s',
    'lock-timeout': '5s',
  };
}

let runCounter = 0;

export function deploy(
  inputs: Record<string, string>,
  options: Omit<ActionRunOptions, 'inputs'> & { sha?: string } = {},
): Promise<ActionRunResult> {
  runCounter += 1;
  return runAction('deploy-compose', {
    distRoot: bundleRoot(),
    ...options,
    inputs,
    env: {
      GITHUB_SHA: options.sha ?? `${runCounter.toString(16).padStart(7, '0')}deadbeef`,
      GITHUB_REPOSITORY: 'acme/shop',
      GITHUB_RUN_ID: String(1000 + runCounter),
      GITHUB_RUN_ATTEMPT: '1',
      GITHUB_ACTOR: `tester-${runCounter}`,
      GITHUB_WORKSPACE: REPO_ROOT,
      ...options.env,
    },
  });
}

/** GET http://<droplet>/<path> → body ('' + status on failure). */
export async function httpGet(d: FixtureDroplet, path: string): Promise<{ status: number; body: string }> {
  try {
    const res = await fetch(`http://${d.publicIpv4}${path}`, { signal: AbortSignal.timeout(5000) });
    return { status: res.status, body: (await res.text()).trim() };
  } catch (error) {
    return { status: 0, body: String(error) };
  }
}

/** The log as the runner would show it (add-mask commands are consumed by the runner, not shown). */
export function visibleLog(log: string): string {
  return log
    .split('\n')
    .filter((l) => !l.startsWith('::add-mask::'))
    .join('\n');
}
