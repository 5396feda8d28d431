import type { Credentials } from '../../adapters/adapter';
import { OAuthGrantError } from './oauthClient';
import type { Connection } from '../model';

export type OAuth2Grant = NonNullable<Extract<Credentials, { type: 'oauth2' }>['grant']>;

/**
 * The grant that renews an OAuth 2 credential. Credentials written by this version carry it
 * (`grant`). Older documents do not; for them it is inferred, erring toward authorization_code:
 * guessing client_credentials for a user's token would silently swap the user's identity for the
 * app's, while guessing authorization_code for an app's token at worst parks the connection as
 * reauthorization_required, where an operator sees it.
 *
 * - a refresh token: authorization_code (RFC 6749 §4.4.3: client credentials come without one);
 * - the connection is configured for the connect flow (`config.oauth`): authorization_code;
 * - no client secret: authorization_code (client_credentials could not be asked for anyway);
 * - otherwise (a client secret, no refresh token, no connect flow): client_credentials, which is
 *   what such a credential, stored through the admin API, was always renewed with.
 */
export function grantOf(credentials: Extract<Credentials, { type: 'oauth2' }>, connection: Connection): OAuth2Grant {
  if (credentials.grant === 'authorization_code' || credentials.grant === 'client_credentials') return credentials.grant;
  if (credentials.refreshToken) return 'authorization_code';
  if (connection.config.oauth !== undefined) return 'authorization_code';
  if (!credentials.clientSecret) return 'authorization_code';
  return 'client_credentials';
}

/**
 * Token-endpoint refusals that say the client itself (its secret, or its permission to use this
 * grant) is wrong, not the grant: asking again with the same client gets the same answer, so the
 * connection is parked instead of failing every tick while it stays active.
 */
const CLIENT_REFUSALS = new Set(['invalid_client', 'unauthorized_client', 'unsupported_grant_type']);

export function isClientRefusal(error: unknown): error is OAuthGrantError {
  return error instanceof OAuthGrantError && CLIENT_REFUSALS.has(error.oauthError);
}
