import { createPublicKey, type JsonWebKey, type KeyObject } from 'node:crypto';
import { isPlainObject } from '../support/encoding';

/** A verification key from a JWKS, with the metadata used to pick it for a token. */
export interface VerificationKey {
  key: KeyObject;
  kid?: string;
  /** The `alg` the key is restricted to, if its JWK names one. */
  alg?: string;
}

/**
 * Turns a JWKS into public keys. Keys that are not for signatures (`use` other than "sig"), are
 * private, or that Node cannot import are left out: a key set is provider data and one odd key
 * must not stop the others from working.
 */
export function importJwks(jwks: unknown): VerificationKey[] {
  if (!isPlainObject(jwks) || !Array.isArray(jwks.keys)) return [];
  const imported: VerificationKey[] = [];
  for (const jwk of jwks.keys as unknown[]) {
    if (!isPlainObject(jwk)) continue;
    if (jwk.use !== undefined && jwk.use !== 'sig') continue;
    if (jwk.d !== undefined) continue; // a private key has no place in a verification set
    try {
      const key = createPublicKey({ key: jwk as JsonWebKey, format: 'jwk' });
      imported.push({
        key,
        kid: typeof jwk.kid === 'string' ? jwk.kid : undefined,
        alg: typeof jwk.alg === 'string' ? jwk.alg : undefined,
      });
    } catch {
      continue;
    }
  }
  return imported;
}

/** The keys a token with this header may have been signed with: matching kid (when given) and alg. */
export function selectKeys(keys: readonly VerificationKey[], kid: string | undefined, alg: string): VerificationKey[] {
  return keys.filter((candidate) => (kid === undefined || candidate.kid === kid) && (candidate.alg === undefined || candidate.alg === alg));
}
