import { createHash, randomBytes } from 'node:crypto';

/** A random value of `bytes` bytes as base64url (43 characters for 32 bytes): states and verifiers. */
export function randomUrlSafe(bytes = 32): string {
  return randomBytes(bytes).toString('base64url');
}

/** RFC 7636 §4.2: the S256 challenge of a verifier. */
export function s256Challenge(verifier: string): string {
  return createHash('sha256').update(verifier, 'ascii').digest('base64url');
}

/** SHA-256 hex: how a state is named in stores, so that the stored key cannot be replayed as a state. */
export function sha256Hex(value: string): string {
  return createHash('sha256').update(value, 'utf8').digest('hex');
}
