import { isMap, parseDocument, stringify } from 'yaml';

import { ConfigurationError } from '../action/errors.js';
import type { HostKeyPair } from './host-key.js';

/** DigitalOcean accepts at most 64 KiB of user_data. */
export const MAX_USER_DATA_BYTES = 64 * 1024;

export interface CloudConfigOptions {
  hostKey: HostKeyPair;
  /** Non-root user in the docker group, e.g. `deploy`. */
  deployUser: string;
  /** OpenSSH public key lines authorised for the deploy user. */
  authorizedKeys: readonly string[];
  /** Swap file size in bytes (0 or undefined: none). */
  swapBytes?: number;
  /** Directory made for the app and owned by the deploy user, e.g. /opt/shop. */
  appDir?: string;
  /** The user's own `user-data` input (cloud-config or a `#!` script), merged into ours. */
  userData?: string;
  /** Name of the input userData came from, for error messages. */
  userDataInput?: string;
}

/** Docker Engine + Compose v2 plugin when either is missing (plain Ubuntu/Debian images); nothing on Docker images. */
export const INSTALL_DOCKER_SCRIPT = `#!/bin/sh
# droplet-deploy: install Docker Engine and the Compose plugin when they are missing.
set -eu
if command -v docker >/dev/null 2>&1 && { docker compose version >/dev/null 2>&1 || command -v docker-compose >/dev/null 2>&1; }; then
  echo "droplet-deploy: Docker and Compose already installed"
  exit 0
fi
export DEBIAN_FRONTEND=noninteractive
if command -v apt-get >/dev/null 2>&1; then
  apt-get update -q
  if apt-get install -y -q docker.io docker-compose-v2 || apt-get install -y -q docker.io docker-compose-plugin; then
    systemctl enable --now docker >/dev/null 2>&1 || true
    exit 0
  fi
fi
echo "droplet-deploy: distribution packages failed; using Docker's install script"
curl -fsSL https://get.docker.com | sh
systemctl enable --now docker >/dev/null 2>&1 || true
`;

const INSTALL_DOCKER_PATH = '/usr/local/lib/droplet-deploy/install-docker.sh';
const USER_SCRIPT_PATH = '/usr/local/lib/droplet-deploy/user-data.sh';

/** Keys we set that user-data may not also set (they would silently undo pinning or our swap). */
const RESERVED_KEYS: Record<string, string> = {
  ssh_keys: 'host keys are generated and pinned by the action',
  ssh_deletekeys: 'host keys are generated and pinned by the action',
  ssh_genkeytypes: 'host keys are generated and pinned by the action',
  swap: 'use the "swap" input instead',
};

/** Lists we set that the user's lists are appended to (ours run first). */
const MERGED_LISTS = ['users', 'groups', 'write_files', 'runcmd', 'bootcmd', 'packages'] as const;

type Config = Record<string, unknown>;

const SAFE_NAME = /^[a-z_][a-z0-9_-]{0,31}$/;
const SAFE_PATH = /^\/[A-Za-z0-9._/-]+$/;

function ours(options: CloudConfigOptions): Config {
  // runcmd entries are plain strings (run by sh); every value in them is checked to need no quoting.
  const runcmd: string[] = [`sh ${INSTALL_DOCKER_PATH}`];
  if (!SAFE_NAME.test(options.deployUser))
    throw new Error(`unsafe deploy user name ${JSON.stringify(options.deployUser)}`);
  if (options.appDir) {
    if (!SAFE_PATH.test(options.appDir)) throw new Error(`unsafe app directory ${JSON.stringify(options.appDir)}`);
    runcmd.push(`mkdir -p ${options.appDir}`);
    runcmd.push(`chown ${options.deployUser}:${options.deployUser} ${options.appDir}`);
  }
  const config: Config = {
    ssh_deletekeys: true,
    ssh_genkeytypes: [],
    ssh_keys: {
      ed25519_private: options.hostKey.privateKey,
      ed25519_public: options.hostKey.publicKey,
    },
    groups: ['docker'],
    users: [
      'default',
      {
        name: options.deployUser,
        groups: ['docker'],
        shell: '/bin/bash',
        lock_passwd: true,
        ssh_authorized_keys: [...options.authorizedKeys],
      },
    ],
    write_files: [
      { path: INSTALL_DOCKER_PATH, permissions: '0755', owner: 'root:root', content: INSTALL_DOCKER_SCRIPT },
    ],
    runcmd,
  };
  if (options.swapBytes && options.swapBytes > 0) {
    config['swap'] = { filename: '/swapfile', size: options.swapBytes, maxsize: options.swapBytes };
  }
  return config;
}

function userConfig(userData: string, inputName: string, deployUser: string): Config {
  const text = userData.replace(/^\uFEFF/, '').replace(/^\s+/, '');
  if (text.startsWith('#!')) {
    // A script: run it after ours (Docker is installed by then), as cloud-init runs scripts.
    return {
      write_files: [{ path: USER_SCRIPT_PATH, permissions: '0755', owner: 'root:root', content: userData }],
      runcmd: [USER_SCRIPT_PATH],
    };
  }
  if (!text.startsWith('#cloud-config')) {
    throw new ConfigurationError(
      `input "${inputName}" must be a cloud-config document (first line "#cloud-config") or a script (first line "#!...")`,
    );
  }
  // cloud-init reads YAML 1.1 (PyYAML): parse and write in that dialect so `yes`, `0644` keep their meaning.
  const doc = parseDocument(text, { version: '1.1' });
  if (doc.errors.length > 0) {
    throw new ConfigurationError(`input "${inputName}" is not valid YAML: ${doc.errors[0]?.message ?? ''}`);
  }
  if (doc.contents === null) return {};
  if (!isMap(doc.contents))
    throw new ConfigurationError(`input "${inputName}": cloud-config must be a mapping of keys`);
  const parsed = doc.toJS() as Config;
  for (const [key, why] of Object.entries(RESERVED_KEYS)) {
    if (key in parsed) throw new ConfigurationError(`input "${inputName}" sets "${key}": ${why}`);
  }
  for (const key of MERGED_LISTS) {
    if (key in parsed && !Array.isArray(parsed[key])) {
      throw new ConfigurationError(`input "${inputName}": "${key}" must be a list`);
    }
  }
  for (const u of (parsed['users'] as unknown[] | undefined) ?? []) {
    const name = typeof u === 'string' ? u : (u as { name?: unknown } | null)?.name;
    if (name === deployUser) {
      throw new ConfigurationError(
        `input "${inputName}" defines user "${deployUser}", which is the deploy user the action creates; use another name or the "deploy-user" input`,
      );
    }
  }
  return parsed;
}

/**
 * Our cloud-config (pinned ed25519 host key, deploy user in the docker group, swap, Docker +
 * Compose when missing, the app directory), merged with the user's `user-data`: their lists
 * are appended to ours, their other keys kept, and keys that would undo ours refused.
 * Returns the complete user_data text (`#cloud-config` first line). Contains the host's
 * private key: never log it.
 */
export function buildCloudConfig(options: CloudConfigOptions): string {
  const inputName = options.userDataInput ?? 'user-data';
  const base = ours(options);
  const extra = options.userData?.trim() ? userConfig(options.userData, inputName, options.deployUser) : {};
  const merged: Config = { ...base };
  for (const [key, value] of Object.entries(extra)) {
    if ((MERGED_LISTS as readonly string[]).includes(key)) {
      const mine = (base[key] as unknown[] | undefined) ?? [];
      let theirs = value as unknown[];
      if (key === 'users') theirs = theirs.filter((u) => u !== 'default');
      if (key === 'groups') theirs = theirs.filter((g) => !mine.includes(g));
      merged[key] = [...mine, ...theirs];
    } else {
      merged[key] = value;
    }
  }
  const text = `#cloud-config\n${stringify(merged, { lineWidth: 0, version: '1.1' })}`;
  const bytes = Buffer.byteLength(text, 'utf8');
  if (bytes > MAX_USER_DATA_BYTES) {
    throw new ConfigurationError(
      `input "${inputName}" makes the droplet's user_data ${bytes} bytes; DigitalOcean accepts at most ${MAX_USER_DATA_BYTES}`,
    );
  }
  return text;
}

/** `1G`, `512M`, `2048M`, `1.5G`: bytes (binary units, as cloud-init reads them). */
export function parseSizeToBytes(value: string): number | undefined {
  const m = /^(\d+(?:\.\d+)?)\s*([KMGT])i?B?$/i.exec(value.trim());
  if (!m) return undefined;
  const unit = { K: 1, M: 2, G: 3, T: 4 }[(m[2] as string).toUpperCase() as 'K' | 'M' | 'G' | 'T'];
  return Math.round(Number(m[1]) * 1024 ** unit);
}
