import type { SecretValue } from '../../ports/secretStore';
import { OAuthGrantError } from './oauthClient';

/** Default of CredentialServiceOptions.clientSecretGraceMs: how long several providers may take to accept a new secret. */
export const DEFAULT_CLIENT_SECRET_GRACE_MS = 10 * 60_000;

/**
 * Whether a token endpoint's refusal is a provider still propagating a client secret that was just
 * replaced, rather than a wrong secret: an `invalid_client` to a request that sent the separately
 * stored client secret (PUT .../oauth-client-secret) within `graceMs` of that secret's version
 * being written. Several providers take minutes before a new secret is accepted everywhere; parking
 * the connection on the first refusal left it parked until someone set the secret again, although
 * the provider would have taken it a few minutes later. So such a refusal is retried (transient,
 * with the callers' backoff); past the grace period it parks the connection as any client refusal.
 *
 * `sentSecret` is the stored client secret the request sent, or undefined when it sent the
 * credential document's own copy (a refresh writes a new document version each time, so its
 * version time says nothing of when that copy changed: no grace for it).
 */
export function isNewClientSecretNotYetAccepted(error: unknown, sentSecret: SecretValue | undefined, nowMs: number, graceMs: number): boolean {
  if (!(error instanceof OAuthGrantError) || error.oauthError !== 'invalid_client' || !sentSecret) return false;
  const ageMs = nowMs - Date.parse(sentSecret.createdAt);
  return Number.isFinite(ageMs) && ageMs < graceMs;
}
