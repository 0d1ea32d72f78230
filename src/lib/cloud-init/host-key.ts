import { createHash, generateKeyPairSync, randomBytes } from 'node:crypto';

/** An ed25519 SSH host key pair made by us, so the droplet's identity is known before it boots. */
export interface HostKeyPair {
  /** OpenSSH private key file (`-----BEGIN OPENSSH PRIVATE KEY-----`), for cloud-init `ssh_keys`. Secret. */
  privateKey: string;
  /** `ssh-ed25519 AAAA…` (no comment). */
  publicKey: string;
  /** `SHA256:<43 base64 chars>` as ssh-keygen -l prints it. */
  fingerprint: string;
}

function sshString(data: Buffer | string): Buffer {
  const buf = typeof data === 'string' ? Buffer.from(data, 'utf8') : data;
  const len = Buffer.alloc(4);
  len.writeUInt32BE(buf.length, 0);
  return Buffer.concat([len, buf]);
}

function uint32(n: number): Buffer {
  const b = Buffer.alloc(4);
  b.writeUInt32BE(n >>> 0, 0);
  return b;
}

/** The wire-format public key blob of an ed25519 key. */
function ed25519Blob(publicKey: Buffer): Buffer {
  return Buffer.concat([sshString('ssh-ed25519'), sshString(publicKey)]);
}

/** `SHA256:…` of a public key line's blob (what ssh-keygen -lf and ssh's host key prompt show). */
export function fingerprintOfPublicKey(publicKeyLine: string): string {
  const data = publicKeyLine.trim().split(/\s+/)[1] ?? '';
  const digest = createHash('sha256').update(Buffer.from(data, 'base64')).digest('base64');
  return `SHA256:${digest.replace(/=+$/, '')}`;
}

/** The fingerprint's digest as lowercase hex (64 chars): tag-safe, `SHA256:` base64 is not. */
export function fingerprintHex(fingerprint: string): string {
  const b64 = fingerprint.replace(/^SHA256:/, '');
  return Buffer.from(b64, 'base64').toString('hex');
}

export function fingerprintFromHex(hex: string): string {
  return `SHA256:${Buffer.from(hex, 'hex').toString('base64').replace(/=+$/, '')}`;
}

/**
 * A fresh ed25519 key pair in OpenSSH formats. node:crypto makes the key; the OpenSSH
 * private key container ("openssh-key-v1", unencrypted) is assembled here, as ssh-keygen
 * writes it.
 */
export function generateHostKeyPair(comment = 'droplet-deploy host key'): HostKeyPair {
  const { publicKey, privateKey } = generateKeyPairSync('ed25519');
  const pubJwk = publicKey.export({ format: 'jwk' });
  const privJwk = privateKey.export({ format: 'jwk' });
  const pub = Buffer.from(pubJwk.x ?? '', 'base64url');
  const seed = Buffer.from(privJwk.d ?? '', 'base64url');
  if (pub.length !== 32 || seed.length !== 32) throw new Error('unexpected ed25519 key length');
  const blob = ed25519Blob(pub);
  const check = randomBytes(4);
  let priv = Buffer.concat([
    check,
    check,
    sshString('ssh-ed25519'),
    sshString(pub),
    sshString(Buffer.concat([seed, pub])),
    sshString(comment),
  ]);
  const pad: number[] = [];
  for (let i = 1; (priv.length + pad.length) % 8 !== 0; i += 1) pad.push(i);
  priv = Buffer.concat([priv, Buffer.from(pad)]);
  const file = Buffer.concat([
    Buffer.from('openssh-key-v1\0', 'latin1'),
    sshString('none'),
    sshString('none'),
    sshString(''),
    uint32(1),
    sshString(blob),
    sshString(priv),
  ]);
  const b64 = file.toString('base64');
  const lines = b64.match(/.{1,70}/g) ?? [];
  const privateKeyText = `-----BEGIN OPENSSH PRIVATE KEY-----\n${lines.join('\n')}\n-----END OPENSSH PRIVATE KEY-----\n`;
  const publicKeyLine = `ssh-ed25519 ${blob.toString('base64')}`;
  return { privateKey: privateKeyText, publicKey: publicKeyLine, fingerprint: fingerprintOfPublicKey(publicKeyLine) };
}

/** Tag recording a droplet's host key fingerprint: `hostkey-sha256-<64 hex>` (tags allow [A-Za-z0-9_:-] only). */
export const HOST_KEY_TAG_PREFIX = 'hostkey-sha256-';

export function hostKeyTag(fingerprint: string): string {
  return `${HOST_KEY_TAG_PREFIX}${fingerprintHex(fingerprint)}`;
}

/** The fingerprint recorded in a droplet's tags, if any (undefined when none or ambiguous). */
export function fingerprintFromTags(tags: readonly string[]): string | undefined {
  const found = tags.filter(
    (t) => t.startsWith(HOST_KEY_TAG_PREFIX) && /^[0-9a-f]{64}$/.test(t.slice(HOST_KEY_TAG_PREFIX.length)),
  );
  if (found.length !== 1) return undefined;
  return fingerprintFromHex((found[0] as string).slice(HOST_KEY_TAG_PREFIX.length));
}

/** Tag recording a droplet's ed25519 host public key itself: `hostkey-ed25519-<64 hex>` (the raw 32-byte key). */
export const HOST_PUBLIC_KEY_TAG_PREFIX = 'hostkey-ed25519-';

export function hostPublicKeyTag(publicKeyLine: string): string {
  const [type, data = ''] = publicKeyLine.trim().split(/\s+/);
  const blob = Buffer.from(data, 'base64');
  if (type !== 'ssh-ed25519' || blob.length !== 51) throw new Error('hostPublicKeyTag needs an ssh-ed25519 public key');
  return `${HOST_PUBLIC_KEY_TAG_PREFIX}${blob.subarray(19).toString('hex')}`;
}

/** The ed25519 host public key line recorded in a droplet's tags, if exactly one is. */
export function publicKeyFromTags(tags: readonly string[]): string | undefined {
  const found = tags.filter(
    (t) =>
      t.startsWith(HOST_PUBLIC_KEY_TAG_PREFIX) && /^[0-9a-f]{64}$/.test(t.slice(HOST_PUBLIC_KEY_TAG_PREFIX.length)),
  );
  if (found.length !== 1) return undefined;
  const raw = Buffer.from((found[0] as string).slice(HOST_PUBLIC_KEY_TAG_PREFIX.length), 'hex');
  return `ssh-ed25519 ${ed25519Blob(raw).toString('base64')}`;
}
