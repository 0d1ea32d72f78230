import { createCipheriv, createDecipheriv, pbkdf2, randomBytes } from 'node:crypto';
import { Transform, type TransformCallback } from 'node:stream';

// Client-side encryption in exactly the format of
//   openssl enc -aes-256-cbc -pbkdf2 -iter <N> -salt -md sha256
// so a user can decrypt a backup with the standard tool and nothing of ours:
//   openssl enc -d -aes-256-cbc -pbkdf2 -iter <N> -md sha256 -in backup.gz.enc -out backup.gz -pass env:BACKUP_PASSPHRASE
// Layout: the 8 bytes "Salted__", an 8-byte random salt, then AES-256-CBC ciphertext with
// PKCS#7 padding. Key and IV are the first 32 and next 16 bytes of
// PBKDF2-HMAC-SHA256(passphrase, salt, N iterations, 48 bytes).

export const OPENSSL_MAGIC = Buffer.from('Salted__', 'latin1');
export const CIPHER = 'aes-256-cbc';
export const DEFAULT_ITERATIONS = 600_000;

export interface EncryptionParams {
  /** Always the openssl-enc compatible format described above. */
  format: 'openssl-enc';
  cipher: typeof CIPHER;
  kdf: 'pbkdf2-sha256';
  iterations: number;
}

export function encryptionParams(iterations = DEFAULT_ITERATIONS): EncryptionParams {
  return { format: 'openssl-enc', cipher: CIPHER, kdf: 'pbkdf2-sha256', iterations };
}

/** The command a user runs to decrypt (the passphrase comes from an environment variable, never argv). */
export function decryptCommandHint(params: EncryptionParams, file = 'backup.enc'): string {
  const out = file.replace(/\.enc$/, '');
  return `openssl enc -d -aes-256-cbc -pbkdf2 -iter ${params.iterations} -md sha256 -in ${file} -out ${out} -pass env:BACKUP_PASSPHRASE`;
}

export function deriveKeyIv(
  passphrase: string,
  salt: Buffer,
  iterations: number,
): Promise<{ key: Buffer; iv: Buffer }> {
  return new Promise((resolve, reject) => {
    pbkdf2(Buffer.from(passphrase, 'utf8'), salt, iterations, 48, 'sha256', (error, derived) => {
      if (error) reject(error);
      else resolve({ key: derived.subarray(0, 32), iv: derived.subarray(32, 48) });
    });
  });
}

/** A Transform that encrypts its input into the openssl-enc format. */
export function createEncryptStream(
  passphrase: string,
  iterations = DEFAULT_ITERATIONS,
  salt: Buffer = randomBytes(8),
): Transform {
  if (!passphrase) throw new Error('encryption needs a non-empty passphrase');
  if (salt.length !== 8) throw new Error('openssl-enc salt must be 8 bytes');
  const ready = deriveKeyIv(passphrase, salt, iterations).then(({ key, iv }) => createCipheriv(CIPHER, key, iv));
  // The derivation is async; hold back the first chunk until the cipher exists.
  let cipher: ReturnType<typeof createCipheriv> | undefined;
  return new Transform({
    transform(chunk: Buffer, _enc, callback: TransformCallback) {
      const go = (c: ReturnType<typeof createCipheriv>): void => {
        if (!cipher) {
          cipher = c;
          this.push(Buffer.concat([OPENSSL_MAGIC, salt]));
        }
        callback(null, c.update(chunk));
      };
      if (cipher) go(cipher);
      else ready.then(go, (error: Error) => callback(error));
    },
    flush(callback: TransformCallback) {
      ready.then(
        (c) => {
          if (!cipher) this.push(Buffer.concat([OPENSSL_MAGIC, salt]));
          callback(null, c.final());
        },
        (error: Error) => callback(error),
      );
    },
  });
}

/** A Transform that decrypts the openssl-enc format (the salt is read from the header). */
export function createDecryptStream(passphrase: string, iterations: number): Transform {
  let header: Buffer = Buffer.alloc(0);
  let decipher: ReturnType<typeof createDecipheriv> | undefined;
  return new Transform({
    transform(chunk: Buffer, _enc, callback: TransformCallback) {
      if (decipher) {
        callback(null, decipher.update(chunk));
        return;
      }
      header = Buffer.concat([header, chunk]);
      if (header.length < 16) {
        callback();
        return;
      }
      if (!header.subarray(0, 8).equals(OPENSSL_MAGIC)) {
        callback(new Error('not an encrypted backup: the "Salted__" header is missing'));
        return;
      }
      const salt = header.subarray(8, 16);
      const rest = header.subarray(16);
      deriveKeyIv(passphrase, salt, iterations).then(
        ({ key, iv }) => {
          decipher = createDecipheriv(CIPHER, key, iv);
          callback(null, decipher.update(rest));
        },
        (error: Error) => callback(error),
      );
    },
    flush(callback: TransformCallback) {
      if (!decipher) {
        callback(new Error('encrypted backup is truncated (shorter than its header)'));
        return;
      }
      try {
        callback(null, decipher.final());
      } catch {
        callback(new Error('decryption failed: wrong passphrase or a corrupted backup'));
      }
    },
  });
}
