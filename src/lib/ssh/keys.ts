import ssh2 from 'ssh2';

import { ConfigurationError } from '../action/errors.js';

// Private keys as users paste them into GitHub secrets: CRLF line ends, literal "\n"
// sequences (from JSON or a one-line secret), surrounding quotes or blanks. We repair
// what is unambiguous and refuse the common mistakes with a message naming the input.

export interface NormalizedKey {
  /** The key text as ssh2 accepts it. */
  privateKey: string;
  /** ssh2's key type, e.g. ssh-ed25519. */
  type: string;
}

export function normalizePrivateKeyText(raw: string): string {
  let key = raw.trim();
  if ((key.startsWith('"') && key.endsWith('"')) || (key.startsWith("'") && key.endsWith("'"))) {
    key = key.slice(1, -1).trim();
  }
  if (!key.includes('\n') && key.includes('\\n')) key = key.replace(/\\r\\n|\\n/g, '\n');
  key = key.replace(/\r\n?/g, '\n');
  // Every line trimmed (copy/paste indentation in YAML block scalars), one trailing newline.
  key = key
    .split('\n')
    .map((line) => line.trim())
    .join('\n');
  return `${key}\n`;
}

/**
 * Normalises and parses a private key; throws a ConfigurationError naming `inputName`
 * for an empty value, a public key, a PuTTY key, a wrong/missing passphrase or garbage.
 * The key itself never appears in a message.
 */
export function normalizePrivateKey(raw: string, passphrase: string | undefined, inputName: string): NormalizedKey {
  const trimmed = raw.trim();
  if (!trimmed) {
    throw new ConfigurationError(
      `input "${inputName}" is empty: the secret it reads is probably not set for this repository or environment`,
    );
  }
  if (/^PuTTY-User-Key-File-\d+:/m.test(trimmed)) {
    throw new ConfigurationError(
      `input "${inputName}" holds a PuTTY key (.ppk); convert it with \`puttygen key.ppk -O private-openssh -o id_key\` and paste that`,
    );
  }
  if (/^(ssh-(ed25519|rsa|dss)|ecdsa-sha2-|sk-)\S* AAAA/.test(trimmed) || trimmed.includes('BEGIN SSH2 PUBLIC KEY')) {
    throw new ConfigurationError(
      `input "${inputName}" holds a public key; paste the private key (the file without .pub, starting with -----BEGIN)`,
    );
  }
  const text = normalizePrivateKeyText(raw);
  if (!/-----BEGIN [A-Z0-9 ]*PRIVATE KEY-----/.test(text)) {
    throw new ConfigurationError(
      `input "${inputName}" does not look like a private key (no "-----BEGIN … PRIVATE KEY-----" line)`,
    );
  }
  const parsed = ssh2.utils.parseKey(text, passphrase);
  if (parsed instanceof Error) {
    const reason = parsed.message;
    if (/passphrase/i.test(reason) || /encrypted/i.test(reason)) {
      throw new ConfigurationError(
        passphrase
          ? `input "${inputName}": the key could not be decrypted with the given passphrase`
          : `input "${inputName}" is encrypted: give its passphrase in "ssh-passphrase"`,
      );
    }
    throw new ConfigurationError(`input "${inputName}" could not be read as a private key: ${reason}`);
  }
  const key = Array.isArray(parsed) ? (parsed[0] as ssh2.ParsedKey) : parsed;
  if (!key.isPrivateKey()) {
    throw new ConfigurationError(`input "${inputName}" holds a public key; paste the private key`);
  }
  return { privateKey: text, type: key.type };
}
