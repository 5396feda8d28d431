import { SyncBridgeError } from '../errors';
import type { Connection } from '../model';
import { oauthUrlProblem } from './oauthUrl';

/**
 * A connection's OAuth 2 endpoints, from `config.oauth` (not secret). The client secret is not
 * here: it lives in the secret store (oauthClientSecretName).
 */
export interface OAuthProviderConfig {
  authorizeUrl: string;
  tokenUrl: string;
  clientId: string;
  scopes: string[];
  /** Where the provider sends the browser back; default `<this host>/api/connect/callback`. */
  redirectUri?: string;
}

/**
 * Reads and checks `config.oauth`; a missing or bad field is a `validation` error naming it. Run
 * when a connection is created (a 400) and again at use. The authorize and token URLs must be
 * https except on loopback hosts (oauthUrlProblem): the token endpoint gets the client secret.
 */
export function readOAuthProviderConfig(connection: Pick<Connection, 'id' | 'config'>): OAuthProviderConfig {
  const raw = connection.config.oauth;
  if (raw === null || typeof raw !== 'object' || Array.isArray(raw)) {
    throw new SyncBridgeError('validation', `Connection ${connection.id} has no config.oauth; set { authorizeUrl, tokenUrl, clientId, scopes } to connect it with OAuth 2.`);
  }
  const oauth = raw as Record<string, unknown>;
  const url = (field: string): string => {
    const value = oauth[field];
    if (field !== 'redirectUri') {
      const problem = oauthUrlProblem(value);
      if (problem) throw new SyncBridgeError('validation', `config.oauth.${field} of connection ${connection.id} ${problem}.`);
      return value as string;
    }
    try {
      if (typeof value === 'string' && /^https?:$/.test(new URL(value).protocol)) return value;
    } catch {
      // reported below
    }
    throw new SyncBridgeError('validation', `config.oauth.${field} of connection ${connection.id} must be an http(s) URL.`);
  };
  if (typeof oauth.clientId !== 'string' || oauth.clientId === '') {
    throw new SyncBridgeError('validation', `config.oauth.clientId of connection ${connection.id} must be a non-empty string.`);
  }
  const scopes = oauth.scopes === undefined ? [] : typeof oauth.scopes === 'string' ? oauth.scopes.split(' ').filter(Boolean) : oauth.scopes;
  if (!Array.isArray(scopes) || scopes.some((s) => typeof s !== 'string' || s === '' || /\s/.test(s))) {
    throw new SyncBridgeError('validation', `config.oauth.scopes of connection ${connection.id} must be a list of scope names.`);
  }
  return {
    authorizeUrl: url('authorizeUrl'),
    tokenUrl: url('tokenUrl'),
    clientId: oauth.clientId,
    scopes: scopes as string[],
    redirectUri: oauth.redirectUri === undefined ? undefined : url('redirectUri'),
  };
}
