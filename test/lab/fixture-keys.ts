// SSH key generation for lab tests and scripts (no vitest import).
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { LabSshIdentity } from './contract.js';

/** Generates an ed25519 key pair with ssh-keygen (OpenSSH format). */
export function generateKeyPair(comment = 'ddlab'): LabSshIdentity {
  const dir = mkdtempSync(join(tmpdir(), 'ddlab-key-'));
  try {
    const f = join(dir, 'k');
    execFileSync('ssh-keygen', ['-q', '-t', 'ed25519', '-N', '', '-C', comment, '-f', f]);
    return { privateKey: readFileSync(f, 'utf8'), publicKey: readFileSync(`${f}.pub`, 'utf8').trim() };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}
