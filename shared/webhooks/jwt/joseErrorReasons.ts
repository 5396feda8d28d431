import { errors } from 'jose';
import { isSyncBridgeError } from '../../core/errors';

/** What a reason may name about the token; all of it is from the token's unverified header or our options. */
export interface JoseErrorContext {
  /** Where the token was found ("the Authorization header"). */
  where: string;
  alg: string;
  kid?: string;
  /** Whether the token was checked against shared secrets rather than a key set. */
  symmetric: boolean;
  /** Unix seconds the token was checked at. */
  now: number;
}

/**
 * Turns what jose throws into the short sentence a rejected webhook carries. Everything maps to a
 * reason, including errors we did not foresee: refusing the request is the safe answer, and the
 * sender controls the token that provoked it.
 */
export function reasonForJoseError(error: unknown, context: JoseErrorContext): string {
  const token = `The token in ${context.where}`;
  if (error instanceof errors.JOSEAlgNotAllowed) return `${token} uses algorithm ${JSON.stringify(context.alg)}, which is not accepted.`;
  if (error instanceof errors.JWSSignatureVerificationFailed) {
    return context.symmetric ? `${token} is not signed by any configured secret.` : `${token} has a signature that does not verify.`;
  }
  if (error instanceof errors.JWKSNoMatchingKey) {
    return `${token} names key ${JSON.stringify(context.kid ?? null)}, which is not among the signing keys.`;
  }
  if (error instanceof errors.JWTExpired) return `${token} expired ${Math.round(context.now - Number(error.payload.exp))} seconds ago.`;
  if (error instanceof errors.JWTClaimValidationFailed) return claimReason(token, error, context.now);
  if (error instanceof errors.JWSInvalid || error instanceof errors.JWTInvalid) return `${token} is not a well-formed JWT: ${sentence(error)}.`;
  if (error instanceof errors.JOSENotSupported) return `${token} uses something that is not supported: ${sentence(error)}.`;
  // A key set the provider could not serve (SyncBridgeError 'transient' from RemoteJwksCache).
  if (isSyncBridgeError(error)) return error.message;
  // jose throws TypeError for a key that cannot check this algorithm, e.g. an RSA key under 2048 bits.
  if (error instanceof TypeError) return `${token} names a key that cannot be used for ${context.alg}: ${sentence(error)}.`;
  return `${token} could not be verified: ${sentence(error)}.`;
}

function claimReason(token: string, error: InstanceType<typeof errors.JWTClaimValidationFailed>, now: number): string {
  const { claim, payload } = error;
  if (error.reason === 'missing') return `${token} has no ${claim} claim.`;
  if (error.reason === 'invalid') return `${token} has a malformed ${claim} claim.`;
  if (claim === 'iss') return `${token} has issuer ${JSON.stringify(payload.iss ?? null)}, which is not accepted.`;
  if (claim === 'aud') return `${token} has audience ${JSON.stringify(payload.aud ?? null)}, which is not accepted.`;
  if (claim === 'nbf') return `${token} is not valid for another ${Math.round(Number(payload.nbf) - now)} seconds.`;
  return `${token} failed the ${claim} claim check.`;
}

function sentence(error: unknown): string {
  const message = error instanceof Error ? error.message : String(error);
  return message.replace(/\.$/, '');
}
