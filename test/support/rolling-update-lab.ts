// Shared set-up for the rolling-update lab tests and benches: the bundled action run as the
// runner runs it, the fixture stack (nginx → 2 × web + worker), inputs for fixture droplets.
import { rmSync } from 'node:fs';

import type { FixtureDroplet, LabFixture } from '../lab/fixture.js';
import { buildPrivateBundle } from './private-bundle.js';
import { type ActionRunOptions, type ActionRunResult, REPO_ROOT, runAction } from './run-action.js';

export const RU_FIXTURE_DIR = 'test/e2e/fixtures/rolling-update';

/** A private bundle of rolling-update (test/support/private-bundle.ts): a concurrent build of dist/ cannot pull it away mid-run. */
let distRoot: string | undefined;

export function buildRollingUpdate(): void {
  if (distRoot) rmSync(distRoot, { recursive: true, force: true });
  distRoot = buildPrivateBundle('rolling-update');
}

export function labImages(lab: LabFixture): { web: string; nginx: string } {
  const images = lab.env.LAB_APP_IMAGES.split(',');
  const web = images.find((i) => i.includes('/web'));
  const nginx = images.find((i) => i.includes('/services'));
  if (!web || !nginx) throw new Error(`LAB_APP_IMAGES lacks web/services: ${lab.env.LAB_APP_IMAGES}`);
  return { web, nginx };
}

/** Inputs for one or more fixture droplets; `release` becomes RELEASE (what /v.txt serves). */
export function ruInputs(
  lab: LabFixture,
  droplets: readonly FixtureDroplet[],
  app: string,
  release: string,
  extraEnv = '',
): Record<string, string> {
  const { web, nginx } = labImages(lab);
  return {
    hosts: droplets.map((d) => d.publicIpv4).join(','),
    'ssh-private-key': lab.identity.privateKey,
    'known-hosts': droplets.map((d) => `${d.publicIpv4} ${d.hostKey}`).join('\n'),
    app,
    'compose-files': 'compose.yaml',
    files: 'nginx.conf',
    'working-directory': RU_FIXTURE_DIR,
    env: `WEB_IMAGE=${web}\nNGINX_IMAGE=${nginx}\nRELEASE=${release}${extraEnv ? `\n${extraEnv}` : ''}`,
    'release-id': release,
    'lock-timeout': '10s',
    'health-timeout': '40s',
  };
}

let counter = 0;

export function rollingUpdate(
  inputs: Record<string, string>,
  options: Omit<ActionRunOptions, 'inputs'> = {},
): Promise<ActionRunResult> {
  counter += 1;
  if (!distRoot) throw new Error('call buildRollingUpdate() first');
  return runAction('rolling-update', {
    ...options,
    distRoot,
    inputs,
    env: {
      GITHUB_SHA: `${counter.toString(16).padStart(7, '0')}cafe`,
      GITHUB_REPOSITORY: 'acme/shop',
      GITHUB_RUN_ID: String(2000 + counter),
      GITHUB_RUN_ATTEMPT: '1',
      GITHUB_ACTOR: 'tester',
      GITHUB_WORKSPACE: REPO_ROOT,
      ...options.env,
    },
  });
}

export async function getText(url: string): Promise<{ status: number; body: string }> {
  try {
    const res = await fetch(url, { signal: AbortSignal.timeout(5000) });
    return { status: res.status, body: (await res.text()).trim() };
  } catch (error) {
    return { status: 0, body: String(error) };
  }
}

export interface ContainerRow {
  name: string;
  service: string;
  status: string;
}

/** The app's containers on a droplet: name, compose service, status. */
export async function containers(lab: LabFixture, d: FixtureDroplet, app: string): Promise<ContainerRow[]> {
  const r = await lab.exec(
    d,
    `docker ps -a --filter label=com.docker.compose.project=${app} --format '{{.Names}}|{{.Label "com.docker.compose.service"}}|{{.Status}}'`,
  );
  return r.stdout
    .trim()
    .split('\n')
    .filter(Boolean)
    .map((l) => {
      const [name = '', service = '', status = ''] = l.split('|');
      return { name, service, status };
    })
    .sort((a, b) => a.name.localeCompare(b.name));
}
