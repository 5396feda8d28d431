import type { Platform } from '../../ports/platform';
import type { SecretValue } from '../../ports/secretStore';
import { SyncBridgeError } from '../errors';
import type { Connection } from '../model';
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

/** The `transient` failure of an invalid_client within the grace period after the secret was replaced. */
export function newClientSecretRefused(platform: Platform, connection: Connection, sent: SecretValue, cause: unknown, graceMs: number): SyncBridgeError {
  const ageSeconds = Math.max(0, Math.round((platform.clock.now().getTime() - Date.parse(sent.createdAt)) / 1000));
  // One retry, when the grace period ends: a run step or push retried sooner would spend its
  // attempts on a provider that is still propagating the secret (a push would be dead-lettered
  // before the secret is accepted). Then it either works or parks the connection, which holds pushes.
  const retryAt = new Date(Date.parse(sent.createdAt) + graceMs);
  platform.telemetry.log('warn', 'The token endpoint refused a client secret replaced moments ago; retrying when its grace period ends, as providers can take minutes to accept a new one.', { connectionId: connection.id, ageSeconds, retryAt: retryAt.toISOString() });
  return new SyncBridgeError(
    'transient',
    `The token endpoint answered invalid_client, but the client secret of connection ${connection.id} was replaced ${ageSeconds} s ago and providers can take minutes to accept a new one: the refresh is tried again at ${retryAt.toISOString()}. An invalid_client more than ${Math.round(graceMs / 1000)} s after the change parks the connection for reauthorization.`,
    { cause, retryAt },
  );
}
