/**
 * The JWS algorithms a scheme may allow (RFC 7518 §3 plus EdDSA from RFC 8037). "none" is never
 * among them. The two families never mix: shared secrets are offered to jose only for HS
 * algorithms and key sets only for the others, so a token cannot have an RSA public key read as an
 * HMAC secret (the classic HS256 key confusion); jose then checks the key type against `alg` again.
 */
export const ASYMMETRIC_ALGORITHMS = ['RS256', 'RS384', 'RS512', 'PS256', 'PS384', 'PS512', 'ES256', 'ES384', 'ES512', 'EdDSA'] as const;
export const SYMMETRIC_ALGORITHMS = ['HS256', 'HS384', 'HS512'] as const;

export function isSymmetricAlgorithm(alg: string): boolean {
  return (SYMMETRIC_ALGORITHMS as readonly string[]).includes(alg);
}
