import { constants, createHmac, verify as verifySignature, type KeyObject } from 'node:crypto';
import { constantTimeEqual } from '../support/constantTime';

/**
 * The JWS algorithms we verify (RFC 7518 §3 plus EdDSA from RFC 8037). "none" is never accepted;
 * every algorithm is tied to one key type so that a token cannot pick a weaker interpretation of a
 * key (the classic HS256-with-an-RSA-public-key confusion).
 */
export const ASYMMETRIC_ALGORITHMS = ['RS256', 'RS384', 'RS512', 'PS256', 'PS384', 'PS512', 'ES256', 'ES384', 'ES512', 'EdDSA'] as const;
export const SYMMETRIC_ALGORITHMS = ['HS256', 'HS384', 'HS512'] as const;

const DIGEST: Record<string, string> = {
  RS256: 'sha256', RS384: 'sha384', RS512: 'sha512',
  PS256: 'sha256', PS384: 'sha384', PS512: 'sha512',
  ES256: 'sha256', ES384: 'sha384', ES512: 'sha512',
  HS256: 'sha256', HS384: 'sha384', HS512: 'sha512',
};

const CURVE: Record<string, string> = { ES256: 'prime256v1', ES384: 'secp384r1', ES512: 'secp521r1' };

/** RSA keys shorter than this are refused (RFC 7518 §3.3 requires 2048 bits). */
const MIN_RSA_BITS = 2048;

/** Whether `key` is the right kind of key for `alg`. */
export function keyFitsAlgorithm(alg: string, key: KeyObject): boolean {
  const type = key.asymmetricKeyType;
  if (alg.startsWith('RS') || alg.startsWith('PS')) {
    const bits = key.asymmetricKeyDetails?.modulusLength ?? 0;
    return (type === 'rsa' || (alg.startsWith('PS') && type === 'rsa-pss')) && bits >= MIN_RSA_BITS;
  }
  if (alg.startsWith('ES')) return type === 'ec' && key.asymmetricKeyDetails?.namedCurve === CURVE[alg];
  if (alg === 'EdDSA') return type === 'ed25519' || type === 'ed448';
  return false;
}

/** Verifies an asymmetric JWS signature; false (never a throw) for any mismatch or malformed signature. */
export function verifyAsymmetric(alg: string, key: KeyObject, signingInput: Buffer, signature: Buffer): boolean {
  if (!keyFitsAlgorithm(alg, key)) return false;
  try {
    if (alg === 'EdDSA') return verifySignature(null, signingInput, key, signature);
    if (alg.startsWith('ES')) return verifySignature(DIGEST[alg], signingInput, { key, dsaEncoding: 'ieee-p1363' }, signature);
    if (alg.startsWith('PS')) {
      return verifySignature(
        DIGEST[alg],
        signingInput,
        { key, padding: constants.RSA_PKCS1_PSS_PADDING, saltLength: constants.RSA_PSS_SALTLEN_DIGEST },
        signature,
      );
    }
    return verifySignature(DIGEST[alg], signingInput, key, signature);
  } catch {
    return false;
  }
}

/** Verifies an HMAC JWS signature in constant time. */
export function verifySymmetric(alg: string, secret: Buffer, signingInput: Buffer, signature: Buffer): boolean {
  const digest = DIGEST[alg];
  if (!digest || !alg.startsWith('HS')) return false;
  const expected = createHmac(digest, secret).update(signingInput).digest();
  return constantTimeEqual(expected, signature);
}
