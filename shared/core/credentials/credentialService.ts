import type { Credentials, RequestAuthorizer } from '../../adapters/adapter';
import type { Platform } from '../../ports/platform';
import type { SecretValue } from '../../ports/secretStore';
import type { Connection } from '../model';
import { AuthorizationReplacement } from './authorizationReplacement';
import { reactivateAfterClientSecretReplaced } from './clientSecretActivation';
import { CredentialReader, loadedFrom, type LoadedOAuth2 } from './credentialReader';
import { settleCredentialOptions, type CredentialServiceOptions, type CredentialSettings } from './credentialServiceOptions';
import { CredentialWriter } from './credentialWriter';
import { LeasedRefresh } from './leasedRefresh';
import { OAuth2Authorizer } from './oauth2Authorizer';
import { OAuthClient } from './oauthClient';
import { RefreshLeases } from './refreshLeases';
import { refreshExpiringTokens } from './refreshSweep';
import { RefreshTokenSpender } from './refreshTokenSpend';
import { marginFor, satisfies, windowFor, type FreshnessNeed } from './tokenFreshness';

export type { LoadedOAuth2, OAuth2Credentials } from './credentialReader';
export type { CredentialServiceOptions } from './credentialServiceOptions';
export type { FreshnessNeed } from './tokenFreshness';

/**
 * Credentials of connections: reads and writes them in the secret store (every write a new
 * version, tagged with the expiry), hands out request authorizers, and owns the ONE refresh path.
 * A facade: each job is its own module beside this one. Reading and checking credentials
 * (credentialReader.ts), writing them (credentialWriter.ts), how fresh a token must be
 * (tokenFreshness.ts), the refresh under leases (leasedRefresh.ts, refreshLeases.ts) and the
 * spending of a grant (refreshTokenSpend.ts), the refresher's sweep (refreshSweep.ts), a new
 * authorization stored under the refresh lease (authorizationReplacement.ts), parking for
 * reauthorization (reauthorizationParking.ts) and the activation after a new client secret
 * (clientSecretActivation.ts). One instance per platform (registry.ts): the in-process single
 * flight of the refresh only works when every caller shares it.
 */
export class CredentialService {
  readonly oauth: OAuthClient;
  private readonly settings: CredentialSettings;
  private readonly reader: CredentialReader;
  private readonly writer: CredentialWriter;
  private readonly refresh: LeasedRefresh;
  private readonly replacement: AuthorizationReplacement;

  constructor(private readonly platform: Platform, options: CredentialServiceOptions = {}) {
    this.settings = settleCredentialOptions(options);
    this.oauth = options.oauthClient ?? new OAuthClient();
    this.reader = new CredentialReader(platform);
    this.writer = new CredentialWriter(platform, this.settings);
    const leases = new RefreshLeases(platform, this.settings);
    const spender = new RefreshTokenSpender(platform, this.oauth, this.reader, this.writer, this.settings);
    this.refresh = new LeasedRefresh(platform, leases, this.reader, spender, this.settings);
    this.replacement = new AuthorizationReplacement(platform, leases, this.writer, this.settings);
  }

  /**
   * The credentials an adapter needs for a connection, and for OAuth 2 an authorizer that keeps the
   * access token fresh. Connections without a credential get `{ type: 'none' }`.
   */
  async forAdapter(connection: Connection): Promise<{ credentials: Credentials; authorizer?: RequestAuthorizer }> {
    if (!connection.credentialRef) return { credentials: { type: 'none' } };
    const { secret, credentials } = await this.reader.read(connection);
    if (credentials.type !== 'oauth2') return { credentials };
    return { credentials, authorizer: new OAuth2Authorizer(this, connection.id, loadedFrom(secret, credentials)) };
  }

  /** Stores a new version of the connection's credential (tagged with its expiry) and returns it. */
  store(connection: Connection, credentials: Credentials): Promise<SecretValue> {
    return this.writer.store(connection, credentials);
  }

  /** Stores a new authorization under the refresh lease, then runs `then`: AuthorizationReplacement.replace. */
  replaceAuthorization<T>(connection: Connection, credentials: Credentials, then: () => Promise<T>): Promise<T> {
    return this.replacement.replace(connection, credentials, then);
  }

  /** How long before expiry an access token counts as expiring: the margin, at most a quarter of its lifetime. */
  marginFor(loaded: LoadedOAuth2): number {
    return marginFor(loaded, this.settings.refreshMarginMs);
  }

  /** The refresher's window for one token: the configured window, at most half the token's lifetime (tokenFreshness.ts). */
  windowFor(loaded: LoadedOAuth2, windowMs: number): number {
    return windowFor(loaded, windowMs);
  }

  satisfies(loaded: LoadedOAuth2, need: FreshnessNeed): boolean {
    return satisfies(loaded, need, this.platform.clock);
  }

  /**
   * An access token that meets `need`, refreshing through the single-flight path when the stored
   * one does not. Throws `auth_failed` when the provider refuses the grant (after `invalid_grant`
   * the connection is parked as reauthorization_required), `transient` when the token endpoint or
   * another instance's refresh does not answer in time.
   */
  ensureFresh(connectionId: string, need: FreshnessNeed): Promise<LoadedOAuth2> {
    return this.refresh.ensureFresh(connectionId, need);
  }

  /** The token refresher's sweep over every active connection (refreshSweep.ts). */
  refreshExpiring(windowMs: number): Promise<{ checked: number; refreshed: number; failed: number }> {
    return refreshExpiringTokens(this.platform, this.reader, this.refresh, windowMs);
  }

  /** After the OAuth client secret was replaced: reactivates a parked connection that can renew (clientSecretActivation.ts). */
  clientSecretReplaced(connection: Connection): Promise<Connection> {
    return reactivateAfterClientSecretReplaced(this.platform, this.reader, connection);
  }
}
