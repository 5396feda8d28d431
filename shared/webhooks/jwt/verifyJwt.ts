import { decodeProtectedHeader, errors, jwtVerify, type JWTPayload, type JWTVerifyGetKey, type JWTVerifyOptions, type KeyLike } from 'jose';
import { isSymmetricAlgorithm } from './algorithms';
import { reasonForJoseError } from './joseErrorReasons';
import { sharedRemoteJwksCache } from './remoteJwks';

/** Where the keys for a token come from. */
export interface JwtKeySource {
  /** jose's key set for keys given inline (a JWKS passed in options). */
  keySet?: JWTVerifyGetKey;
  /** A jwks_uri fetched and cached when no inline keys are given. */
  jwksUri?: string;
  /** Shared secrets for HS256/384/512, as bytes; any one verifies (rotation). */
  sharedSecrets?: readonly Uint8Array[];
}

export interface VerifyJwtOptions {
  /** Where the token was found, for reasons ("the Authorization header"). */
  where: string;
  source: JwtKeySource;
  /** Algorithms accepted; anything else (always including "none") is rejected. */
  algorithms: readonly string[];
  issuers?: readonly string[];
  audiences?: readonly string[];
  /** Unix seconds; jose's `currentDate`. */
  now: number;
  clockToleranceSeconds: number;
  requireExpiration: boolean;
}

export type VerifyJwtResult = { ok: true; claims: JWTPayload } | { ok: false; reason: string };

/**
 * RFC 7515 §7.1: three base64url parts without padding. jose's Node decoder is lenient (Buffer skips
 * characters outside the alphabet and ignores "="), so "<token>=" or "<token>!" would verify as the
 * token itself; the fuzz tests found that, and a token must have exactly one spelling.
 */
const COMPACT_JWS = /^[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+$/;

type Attempt = { ok: true; claims: JWTPayload } | { ok: false; error: unknown };

/**
 * Verifies a compact JWT with jose: algorithm allow-list, signature against the configured secrets
 * or key set, then exp / nbf / iss / aud (RFC 7519 §4.1) at `now`. Expected failures come back as a
 * short reason, never as a throw.
 */
export async function verifyJwt(token: string, options: VerifyJwtOptions): Promise<VerifyJwtResult> {
  let header: ReturnType<typeof decodeProtectedHeader> | undefined;
  try {
    header = COMPACT_JWS.test(token) ? decodeProtectedHeader(token) : undefined;
  } catch {
    header = undefined;
  }
  if (!header) return { ok: false, reason: `The token in ${options.where} is not a compact JWT (three base64url parts).` };
  const alg = header.alg;
  const kid = typeof header.kid === 'string' ? header.kid : undefined;
  // jose enforces the allow-list itself; `alg` is read here only to pick secrets or key set, and the
  // list handed to jose holds only that family, so a key can never be read as the other kind.
  if (typeof alg !== 'string' || !options.algorithms.includes(alg)) {
    return { ok: false, reason: `The token in ${options.where} uses algorithm ${JSON.stringify(alg ?? null)}, which is not accepted.` };
  }
  const symmetric = isSymmetricAlgorithm(alg);
  const joseOptions: JWTVerifyOptions = {
    algorithms: options.algorithms.filter((allowed) => isSymmetricAlgorithm(allowed) === symmetric),
    issuer: options.issuers as string[] | undefined,
    audience: options.audiences as string[] | undefined,
    clockTolerance: options.clockToleranceSeconds,
    currentDate: new Date(options.now * 1000),
    requiredClaims: options.requireExpiration ? ['exp'] : [],
  };
  const keySet = symmetric ? undefined : keySetOf(options.source);
  if (!symmetric && !keySet) return { ok: false, reason: `No signing keys are configured to verify the token in ${options.where}.` };
  const attempt = symmetric
    ? await verifyWithSecrets(token, options.source.sharedSecrets ?? [], joseOptions)
    : await verifyWithKeySet(token, keySet!, joseOptions);
  if (!attempt.ok) {
    return { ok: false, reason: reasonForJoseError(attempt.error, { where: options.where, alg, kid, symmetric, now: options.now }) };
  }
  // jose checks iat only against a maximum age, which webhooks do not set; a token issued in the
  // future still means a sender clock or a forger we do not trust.
  const { iat } = attempt.claims;
  if (typeof iat === 'number' && options.now + options.clockToleranceSeconds < iat) {
    return { ok: false, reason: `The token in ${options.where} was issued ${Math.round(iat - options.now)} seconds in the future.` };
  }
  return attempt;
}

function keySetOf(source: JwtKeySource): JWTVerifyGetKey | undefined {
  if (source.keySet) return source.keySet;
  return source.jwksUri === undefined ? undefined : sharedRemoteJwksCache.keySetFor(source.jwksUri);
}

/** Tries every active secret; only a signature mismatch moves on to the next one. */
async function verifyWithSecrets(token: string, secrets: readonly Uint8Array[], options: JWTVerifyOptions): Promise<Attempt> {
  for (const secret of secrets) {
    try {
      return { ok: true, claims: (await jwtVerify(token, secret, options)).payload };
    } catch (error) {
      if (!(error instanceof errors.JWSSignatureVerificationFailed)) return { ok: false, error };
    }
  }
  return { ok: false, error: new errors.JWSSignatureVerificationFailed() };
}

async function verifyWithKeySet(token: string, keySet: JWTVerifyGetKey, options: JWTVerifyOptions): Promise<Attempt> {
  try {
    return { ok: true, claims: (await jwtVerify(token, keySet, options)).payload };
  } catch (error) {
    if (!(error instanceof errors.JWKSMultipleMatchingKeys)) return { ok: false, error };
    // Several keys fit the header (no kid, or a kid shared by a rotated key): jose hands them over
    // as an async iterable to try in turn.
    for await (const key of error as unknown as AsyncIterable<KeyLike>) {
      try {
        return { ok: true, claims: (await jwtVerify(token, key, options)).payload };
      } catch (attemptError) {
        const wrongKey = attemptError instanceof errors.JWSSignatureVerificationFailed || attemptError instanceof TypeError;
        if (!wrongKey) return { ok: false, error: attemptError };
      }
    }
    return { ok: false, error: new errors.JWSSignatureVerificationFailed() };
  }
}
