// What the example workflows get when they run on the lab instead of GitHub: the secrets a
// user would add to the repository (lab token, a fresh deploy key, a database password, the
// lab S3's keys) and the repository variables that point them at the lab (its API, its S3,
// and its local Debian image in place of the official postgres/nginx images). Nothing in
// the workflows themselves is lab-specific.
import { execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { LabEnv } from '../lab/contract.js';
import { REPO_ROOT, type RunWorkflowOptions } from './runner.js';

export const EXAMPLES_DIR = join(REPO_ROOT, 'workflows-examples');
export const SAMPLE_APP_DIR = join(EXAMPLES_DIR, 'app');

export interface LabWorkflowSettings {
  secrets: Record<string, string>;
  vars: Record<string, string>;
  /** The deploy key's public half (for checks). */
  deployPublicKey: string;
}

function deployKey(): { privateKey: string; publicKey: string } {
  const dir = mkdtempSync(join(tmpdir(), 'ddwf-key-'));
  try {
    const f = join(dir, 'deploy_key');
    execFileSync('ssh-keygen', ['-q', '-t', 'ed25519', '-N', '', '-C', 'deploy', '-f', f]);
    return { privateKey: readFileSync(f, 'utf8'), publicKey: readFileSync(`${f}.pub`, 'utf8').trim() };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

/**
 * The lab's Debian image with PostgreSQL, Redis and nginx, by the name in LAB_APP_IMAGES: tagged
 * on the host (so `transfer` and `docker build FROM` find it) and in the lab registry (so
 * droplets can pull it).
 */
export function servicesImage(env: LabEnv): string {
  const img = env.LAB_APP_IMAGES.split(',')
    .map((s) => s.trim())
    .find((s) => /(^|\/)ddlab\/services:/.test(s));
  if (!img) throw new Error(`no services image in LAB_APP_IMAGES (${env.LAB_APP_IMAGES})`);
  return img;
}

export function labWorkflowSettings(env: LabEnv): LabWorkflowSettings {
  const key = deployKey();
  const image = servicesImage(env);
  return {
    secrets: {
      DIGITALOCEAN_TOKEN: env.DIGITALOCEAN_TOKEN,
      DEPLOY_SSH_KEY: key.privateKey,
      POSTGRES_PASSWORD: `pg-${randomBytes(9).toString('base64url')}`,
      SPACES_ACCESS_KEY_ID: env.LAB_S3_ACCESS_KEY_ID,
      SPACES_SECRET_ACCESS_KEY: env.LAB_S3_SECRET_ACCESS_KEY,
      BACKUP_PASSPHRASE: `bk-${randomBytes(12).toString('base64url')}`,
    },
    vars: {
      DIGITALOCEAN_API_ENDPOINT: env.DIGITALOCEAN_API_URL,
      POSTGRES_IMAGE: image,
      NGINX_IMAGE: image,
      APP_BASE_IMAGE: image,
      SPACES_ENDPOINT: env.LAB_S3_ENDPOINT,
      SPACES_BUCKET: env.LAB_S3_BUCKET,
    },
    deployPublicKey: key.publicKey,
  };
}

/** Options to run one example workflow on the lab. */
export function labRunOptions(
  workflow: string,
  settings: LabWorkflowSettings,
  extra: Partial<RunWorkflowOptions> & { sha?: string } = {},
): RunWorkflowOptions {
  const { sha, ...rest } = extra;
  return {
    workflowPath: join(EXAMPLES_DIR, workflow),
    repository: SAMPLE_APP_DIR,
    secrets: settings.secrets,
    vars: settings.vars,
    github: {
      repository: 'acme/shop',
      actor: 'local-runner',
      ...(sha ? { sha } : {}),
    },
    ...rest,
  };
}
