import { createHmac } from 'node:crypto';

export type HmacAlgorithm = 'sha1' | 'sha256' | 'sha512';

/** HMAC over the concatenation of `parts`, each a string (UTF-8) or raw bytes (the body). */
export function hmac(algorithm: HmacAlgorithm, key: string | Buffer, ...parts: Array<string | Buffer>): Buffer {
  const mac = createHmac(algorithm, key);
  for (const part of parts) mac.update(part);
  return mac.digest();
}

/** One HMAC per secret, in the order given, so that callers can tell which rotated secret matched. */
export function hmacPerSecret(
  algorithm: HmacAlgorithm,
  secrets: readonly (string | Buffer)[],
  ...parts: Array<string | Buffer>
): Buffer[] {
  return secrets.map((secret) => hmac(algorithm, secret, ...parts));
}
