#!/usr/bin/env node
/* global fetch, URLSearchParams */
// The local stand-in for doctl (see third-party.ts, digitalocean/action-doctl). It implements
// ONLY the sub-commands the example workflows use, with doctl's flags and text output, against
// the API at --api-url (the lab's). Anything else exits 2 saying it is not implemented, so an
// example can never depend on a doctl behaviour nobody checked.
//
//   doctl compute droplet list [--tag-name T] [--format ID,Name,PublicIPv4,Status,Tags] [--no-header]
//   doctl compute droplet delete --tag-name T --force
//   global: --api-url/-u URL, --access-token/-t TOKEN (else the token action-doctl stored)
import { readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const argv = process.argv.slice(2);
const flags = {};
const positional = [];
for (let i = 0; i < argv.length; i++) {
  const a = argv[i];
  const m = /^--?([a-z-]+)(?:=(.*))?$/i.exec(a);
  if (!m) {
    positional.push(a);
    continue;
  }
  const name = { u: 'api-url', t: 'access-token', f: 'force' }[m[1]] ?? m[1];
  if (m[2] !== undefined) flags[name] = m[2];
  else if (['force', 'no-header'].includes(name)) flags[name] = 'true';
  else flags[name] = argv[++i];
}

function fail(message, code = 1) {
  process.stderr.write(`Error: ${message}\n`);
  process.exit(code);
}

const token =
  flags['access-token'] ??
  process.env.DIGITALOCEAN_ACCESS_TOKEN ??
  (() => {
    try {
      return readFileSync(
        join(process.env.DOCTL_SHIM_DIR ?? dirname(process.argv[1] ?? fileURLToPath(import.meta.url)), '.token'),
        'utf8',
      );
    } catch {
      return undefined;
    }
  })();
const base = (flags['api-url'] ?? 'https://api.digitalocean.com').replace(/\/+$/, '').replace(/\/v2$/, '');

async function api(method, path) {
  if (!token) fail('no access token: run digitalocean/action-doctl first or pass --access-token');
  const res = await fetch(`${base}/v2${path}`, { method, headers: { authorization: `Bearer ${token}` } });
  const text = await res.text();
  if (!res.ok) fail(`${method} ${path}: ${res.status} ${text.slice(0, 300)}`);
  return text ? JSON.parse(text) : {};
}

async function listDroplets(tag) {
  const out = [];
  for (let page = 1; page < 100; page++) {
    const q = new URLSearchParams({ page: String(page), per_page: '200', ...(tag ? { tag_name: tag } : {}) });
    const body = await api('GET', `/droplets?${q}`);
    out.push(...body.droplets);
    if (!body.links?.pages?.next) break;
  }
  return out;
}

const COLUMNS = {
  ID: (d) => String(d.id),
  Name: (d) => d.name,
  PublicIPv4: (d) => d.networks?.v4?.find((n) => n.type === 'public')?.ip_address ?? '',
  Status: (d) => d.status,
  Tags: (d) => (d.tags ?? []).join(','),
};

const cmd = positional.join(' ');
if (cmd === 'compute droplet list') {
  const cols = (flags.format ?? 'ID,Name,PublicIPv4,Status,Tags').split(',');
  for (const c of cols) if (!COLUMNS[c]) fail(`column ${c} is not implemented by the local doctl`, 2);
  const rows = (await listDroplets(flags['tag-name'])).map((d) => cols.map((c) => COLUMNS[c](d)));
  if (flags['no-header'] !== 'true') rows.unshift(cols);
  for (const r of rows) process.stdout.write(`${r.join('\t')}\n`);
} else if (cmd === 'compute droplet delete' && flags['tag-name']) {
  if (flags.force !== 'true') fail('refusing to delete without --force (no prompt in CI)');
  await api('DELETE', `/droplets?tag_name=${encodeURIComponent(flags['tag-name'])}`);
} else {
  fail(`"doctl ${argv.join(' ')}" is not implemented by the local doctl (test/workflow-runner/doctl-shim.mjs)`, 2);
}
