import { createPublicKey, type JsonWebKey } from 'node:crypto';
import { createLocalJWKSet, type JWK, type JWTVerifyGetKey } from 'jose';
import { isPlainObject } from '../support/encoding';

/** Distinct inline key sets kept; options are re-read on every request, so this is a small LRU. */
const MAX_CACHED_KEY_SETS = 64;
const keySetsByContent = new Map<string, JWTVerifyGetKey>();

/**
 * jose's local key set for a JWKS passed inline, or undefined when it holds no usable public
 * signing key (a configuration mistake the caller reports). Keys that are not for signatures, are
 * private or symmetric, or that Node cannot import are left out rather than failing the set: a key
 * set is provider data, and one odd key must not stop the others from working.
 *
 * Sets are cached by content: options are parsed on every request, and re-importing the same keys
 * each time would dominate an RS256 verification, while a changed set still takes effect at once.
 */
export function localKeySet(jwks: unknown): JWTVerifyGetKey | undefined {
  if (!isPlainObject(jwks) || !Array.isArray(jwks.keys)) return undefined;
  let content: string;
  try {
    content = JSON.stringify(jwks.keys);
  } catch {
    return undefined; // not JSON (a cycle, a BigInt): not a key set
  }
  const cached = keySetsByContent.get(content);
  if (cached) {
    // Re-insert so the Map's insertion order is least-recently-used first.
    keySetsByContent.delete(content);
    keySetsByContent.set(content, cached);
    return cached;
  }
  const usable = (jwks.keys as unknown[]).filter(isUsablePublicSigningKey);
  if (usable.length === 0) return undefined;
  const keySet = createLocalJWKSet({ keys: usable });
  if (keySetsByContent.size >= MAX_CACHED_KEY_SETS) keySetsByContent.delete(keySetsByContent.keys().next().value as string);
  keySetsByContent.set(content, keySet);
  return keySet;
}

function isUsablePublicSigningKey(jwk: unknown): jwk is JWK {
  if (!isPlainObject(jwk) || typeof jwk.kty !== 'string' || jwk.kty === 'oct') return false;
  if (jwk.d !== undefined) return false; // a private key has no place in a verification set
  if (jwk.use !== undefined && jwk.use !== 'sig') return false;
  try {
    // Only a sanity check at configuration time, so that a set of unreadable keys fails when a
    // connection is saved; jose imports and checks the key again when a token names it.
    return createPublicKey({ key: jwk as JsonWebKey, format: 'jwk' }).type === 'public';
  } catch {
    return false;
  }
}
