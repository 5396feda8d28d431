import type { Platform } from '../../ports/platform';
import { SyncBridgeError } from '../errors';
import type { Connection } from '../model';
import { installAuthorization } from './authorizationInstall';
import { oauthClientSecretName } from './credentialNames';
import type { CredentialService, OAuth2Credentials } from './credentialService';
import { OAuthGrantError } from './oauthClient';
import { readOAuthProviderConfig } from './oauthProviderConfig';
import { randomUrlSafe, s256Challenge, sha256Hex } from './pkce';

/** A state lives this long: long enough for a person to log in at the provider. */
export const CONNECT_STATE_TTL_MS = 10 * 60_000;

interface PendingConnect {
  tenantId: string;
  connectionId: string;
  codeVerifier: string;
  redirectUri: string;
}

/**
 * The OAuth 2 authorization-code flow with PKCE S256 (RFC 6749 §4.1, RFC 7636) that connects a
 * connection. `begin` remembers (tenant, connection, verifier, redirect URI) under the SHA-256 of
 * a random 256-bit state for ten minutes; `complete` accepts each state once, exchanges the code
 * and stores the credential as a new secret version. The state is the only thing that ties the
 * callback (which carries no API key: it is the provider's redirect of the browser) to a tenant.
 */
export class ConnectFlow {
  constructor(private readonly platform: Platform, private readonly credentials: CredentialService) {}

  /** The provider's authorize URL for this connection. Throws not_found / validation. */
  async begin(request: { tenantId: string; connectionId: string; provider: string; defaultRedirectUri: string }): Promise<string> {
    const connection = await this.platform.connections.get(request.connectionId);
    if (!connection || connection.tenantId !== request.tenantId) throw new SyncBridgeError('not_found', `Connection ${request.connectionId} does not exist.`);
    if (connection.provider !== request.provider) {
      throw new SyncBridgeError('validation', `Connection ${connection.id} belongs to provider ${connection.provider}, not ${request.provider}.`);
    }
    const config = readOAuthProviderConfig(connection);
    const state = randomUrlSafe(32);
    const codeVerifier = randomUrlSafe(32); // 43 characters: RFC 7636 §4.1's minimum, 256 bits
    const redirectUri = config.redirectUri ?? request.defaultRedirectUri;
    const key = stateKey(state);
    const claim = await this.platform.idempotency.claim(key, CONNECT_STATE_TTL_MS);
    if (!claim.claimed) throw new SyncBridgeError('internal', 'A freshly drawn OAuth state collided with a stored one.');
    const pending: PendingConnect = { tenantId: connection.tenantId, connectionId: connection.id, codeVerifier, redirectUri };
    await this.platform.idempotency.complete(key, pending);
    const url = new URL(config.authorizeUrl);
    url.searchParams.set('response_type', 'code');
    url.searchParams.set('client_id', config.clientId);
    url.searchParams.set('redirect_uri', redirectUri);
    url.searchParams.set('state', state);
    url.searchParams.set('code_challenge', s256Challenge(codeVerifier));
    url.searchParams.set('code_challenge_method', 'S256');
    if (config.scopes.length > 0) url.searchParams.set('scope', config.scopes.join(' '));
    return url.toString();
  }

  /**
   * Finishes the flow for the provider's redirect. `error` is the provider's refusal (RFC 6749
   * §4.1.2.1). Every failure is `validation` with a sentence for the person in the browser.
   */
  async complete(query: { code?: string; state?: string; error?: string }): Promise<Connection> {
    if (!query.state) throw new SyncBridgeError('validation', 'The callback has no state parameter; start again from /api/connect/{provider}.');
    const pending = await this.takeState(query.state);
    if (query.error) throw new SyncBridgeError('validation', `The provider did not authorize connection ${pending.connectionId}: ${query.error.slice(0, 100)}.`);
    if (!query.code) throw new SyncBridgeError('validation', 'The callback has no code parameter.');
    const connection = await this.platform.connections.get(pending.connectionId);
    if (!connection || connection.tenantId !== pending.tenantId) throw new SyncBridgeError('validation', `Connection ${pending.connectionId} no longer exists.`);
    const config = readOAuthProviderConfig(connection);
    // Past any cache, as a refresh reads it: a secret rotated moments ago on another instance would
    // otherwise be sent stale, and the provider's refusal burns the code.
    const clientSecret = (await this.platform.secrets.get(oauthClientSecretName(connection.id), { fresh: true }))?.value;
    const client = { tokenUrl: config.tokenUrl, clientId: config.clientId, clientSecret };
    // expires_in counts from when the provider issued the token: take the time before asking, so
    // that the stored expiry is early by the round trip rather than late by it.
    const sentAtMs = this.platform.clock.now().getTime();
    let tokens;
    try {
      tokens = await this.credentials.oauth.exchangeCode(client, { code: query.code, redirectUri: pending.redirectUri, codeVerifier: pending.codeVerifier });
    } catch (error) {
      if (error instanceof OAuthGrantError) throw new SyncBridgeError('validation', `The provider refused the authorization code of connection ${connection.id} (${error.oauthError}); start again.`, { cause: error });
      throw error;
    }
    const credentials: OAuth2Credentials = {
      type: 'oauth2',
      accessToken: tokens.accessToken,
      refreshToken: tokens.refreshToken,
      expiresAt: tokens.expiresInSeconds ? new Date(sentAtMs + tokens.expiresInSeconds * 1000).toISOString() : undefined,
      tokenUrl: config.tokenUrl,
      clientId: config.clientId,
      // No copy of the client secret: refreshes read it from its own secret, so rotating it there
      // (PUT .../oauth-client-secret) takes effect. And the grant, so that a provider that issued no
      // refresh token never gets this user's token "renewed" with the app's client-credentials grant.
      grant: 'authorization_code',
      scope: tokens.scope ?? (config.scopes.length > 0 ? config.scopes.join(' ') : undefined),
    };
    // Active again (a paused connection stays paused), its held pushes sent (authorizationInstall.ts).
    const connected = await installAuthorization(this.platform, this.credentials, connection, credentials);
    this.platform.telemetry.event('ConnectionAuthorized', { connectionId: connected.id, tenantId: connected.tenantId, provider: connected.provider });
    return connected;
  }

  /** Reads the state's record and spends it: a second presentation, even a concurrent one, fails. */
  private async takeState(state: string): Promise<PendingConnect> {
    const key = stateKey(state);
    const unknown = new SyncBridgeError('validation', 'This connect link is unknown, expired or was used already; start again from /api/connect/{provider}.');
    const claim = await this.platform.idempotency.claim(key, CONNECT_STATE_TTL_MS);
    if (claim.claimed) {
      await this.platform.idempotency.release(key); // we just created it: it was never issued
      throw unknown;
    }
    if (!isPendingConnect(claim.result)) throw unknown;
    // The lease is the single-use gate (exclusive even between instances); it outlives the state.
    const spent = await this.platform.leases.acquire(`connect-state:${sha256Hex(state)}`, 'connect-flow', CONNECT_STATE_TTL_MS);
    if (!spent) throw unknown;
    await this.platform.idempotency.release(key);
    return claim.result;
  }
}

function stateKey(state: string): string {
  return `connect-state:${sha256Hex(state)}`;
}

function isPendingConnect(value: unknown): value is PendingConnect {
  const v = value as PendingConnect | undefined;
  return typeof v?.tenantId === 'string' && typeof v.connectionId === 'string' && typeof v.codeVerifier === 'string' && typeof v.redirectUri === 'string';
}
