import { parseCompactJwt } from './compactJwt';
import { selectKeys, type VerificationKey } from './jwks';
import { ASYMMETRIC_ALGORITHMS, SYMMETRIC_ALGORITHMS, verifyAsymmetric, verifySymmetric } from './jwsAlgorithms';
import { isAllowedJwksUri, sharedRemoteJwksCache } from './remoteJwks';

/** Where the keys for a token come from. */
export interface JwtKeySource {
  /** Keys given inline (a JWKS passed in options). */
  keys?: readonly VerificationKey[];
  /** A jwks_uri fetched and cached when no inline keys are given. */
  jwksUri?: string;
  /** Shared secrets for HS256/384/512. */
  sharedSecrets?: readonly Buffer[];
}

export interface VerifyJwtOptions {
  /** Where the token was found, for reasons ("the Authorization header"). */
  where: string;
  source: JwtKeySource;
  /** Algorithms accepted; anything else (always including "none") is rejected. */
  algorithms: readonly string[];
  issuers?: readonly string[];
  audiences?: readonly string[];
  /** Unix seconds. */
  now: number;
  clockToleranceSeconds: number;
  requireExpiration: boolean;
}

export type VerifyJwtResult = { ok: true; claims: Record<string, unknown> } | { ok: false; reason: string };

/**
 * Verifies a compact JWT: algorithm allow-list, signature against the configured keys, then the
 * registered claims exp / nbf / iat / iss / aud (RFC 7519 §4.1). Expected failures come back as a
 * reason, never as a throw.
 */
export async function verifyJwt(token: string, options: VerifyJwtOptions): Promise<VerifyJwtResult> {
  const parsed = parseCompactJwt(token, options.where);
  if (typeof parsed === 'string') return { ok: false, reason: parsed };
  const { header, payload, signingInput, signature } = parsed;
  const alg = header.alg;
  if (typeof alg !== 'string' || !options.algorithms.includes(alg)) {
    return { ok: false, reason: `The token in ${options.where} uses algorithm ${JSON.stringify(alg)}, which is not accepted.` };
  }
  if (header.crit !== undefined) {
    return { ok: false, reason: `The token in ${options.where} has critical header extensions, which are not supported.` };
  }
  const kid = typeof header.kid === 'string' ? header.kid : undefined;
  const signatureOk = await checkSignature(alg, kid, signingInput, signature, options);
  if (signatureOk !== true) return { ok: false, reason: signatureOk };
  const claimsProblem = checkClaims(payload, options);
  return claimsProblem === undefined ? { ok: true, claims: payload } : { ok: false, reason: claimsProblem };
}

async function checkSignature(
  alg: string,
  kid: string | undefined,
  signingInput: Buffer,
  signature: Buffer,
  options: VerifyJwtOptions,
): Promise<true | string> {
  const { source, where } = options;
  if ((SYMMETRIC_ALGORITHMS as readonly string[]).includes(alg)) {
    const secrets = source.sharedSecrets ?? [];
    // Check every secret (rotation) without stopping early.
    let matched = false;
    for (const secret of secrets) matched = verifySymmetric(alg, secret, signingInput, signature) || matched;
    return matched ? true : `The token in ${where} is not signed by any configured secret.`;
  }
  if (!(ASYMMETRIC_ALGORITHMS as readonly string[]).includes(alg)) {
    return `The token in ${where} uses algorithm ${alg}, which is not accepted.`;
  }
  let candidates: VerificationKey[];
  if (source.keys !== undefined) {
    candidates = selectKeys(source.keys, kid, alg);
  } else if (source.jwksUri !== undefined && isAllowedJwksUri(source.jwksUri)) {
    const fetched = await sharedRemoteJwksCache.keysFor(source.jwksUri, kid, alg);
    if (!fetched.ok) return fetched.reason;
    candidates = fetched.keys;
  } else {
    return `No signing keys are configured to verify the token in ${where}.`;
  }
  if (candidates.length === 0) {
    return `The token in ${where} names key ${JSON.stringify(kid ?? null)}, which is not among the signing keys.`;
  }
  return candidates.some((candidate) => verifyAsymmetric(alg, candidate.key, signingInput, signature))
    ? true
    : `The token in ${where} has a signature that does not verify.`;
}

function checkClaims(claims: Record<string, unknown>, options: VerifyJwtOptions): string | undefined {
  const { now, clockToleranceSeconds: tolerance, where } = options;
  const numeric = (name: string): number | undefined | null => {
    const value = claims[name];
    if (value === undefined) return undefined;
    return typeof value === 'number' && Number.isFinite(value) ? value : null;
  };
  const exp = numeric('exp');
  const nbf = numeric('nbf');
  const iat = numeric('iat');
  if (exp === null || nbf === null || iat === null) return `The token in ${where} has a malformed exp, nbf or iat claim.`;
  if (exp === undefined && options.requireExpiration) return `The token in ${where} has no exp claim.`;
  if (exp !== undefined && now >= exp + tolerance) return `The token in ${where} expired ${Math.round(now - exp)} seconds ago.`;
  if (nbf !== undefined && now + tolerance < nbf) return `The token in ${where} is not valid for another ${Math.round(nbf - now)} seconds.`;
  if (iat !== undefined && now + tolerance < iat) return `The token in ${where} was issued ${Math.round(iat - now)} seconds in the future.`;
  if (options.issuers !== undefined) {
    if (typeof claims.iss !== 'string' || !options.issuers.includes(claims.iss)) {
      return `The token in ${where} has issuer ${JSON.stringify(claims.iss ?? null)}, which is not accepted.`;
    }
  }
  if (options.audiences !== undefined) {
    const audience = claims.aud;
    const given = typeof audience === 'string' ? [audience] : Array.isArray(audience) ? audience : [];
    if (!given.some((item) => typeof item === 'string' && options.audiences!.includes(item))) {
      return `The token in ${where} has audience ${JSON.stringify(audience ?? null)}, which is not accepted.`;
    }
  }
  return undefined;
}
