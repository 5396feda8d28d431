import type { Platform } from '../../ports/platform';
import type { SecretValue } from '../../ports/secretStore';
import { SyncBridgeError } from '../errors';
import type { Connection } from '../model';
import { isNewClientSecretNotYetAccepted, newClientSecretRefused } from './clientSecretGrace';
import { parseCredentials, loadedFrom, type CredentialReader, type LoadedOAuth2, type OAuth2Credentials } from './credentialReader';
import type { CredentialSettings } from './credentialServiceOptions';
import type { CredentialWriter } from './credentialWriter';
import type { KeptLease } from './keptLease';
import { isInvalidGrant, isUnusableRefreshAnswer, type OAuthClient, type UnusableRefreshAnswer } from './oauthClient';
import { grantOf, isClientRefusal } from './oauthGrant';
import { needsReauthorization, parkForReauthorization } from './reauthorizationParking';
import { satisfies, type FreshnessNeed } from './tokenFreshness';

/**
 * Spends a credential version's grant at the token endpoint and stores the result, for the
 * refresh path (leasedRefresh.ts) once it holds both leases: a refusal parks the connection, a
 * rotated refresh token is never thrown away, and a newer credential stored meanwhile is left alone.
 */
export class RefreshTokenSpender {
  constructor(
    private readonly platform: Platform,
    private readonly oauth: OAuthClient,
    private readonly reader: CredentialReader,
    private readonly writer: CredentialWriter,
    private readonly settings: Pick<CredentialSettings, 'clientSecretGraceMs'>,
  ) {}

  /** Spends the credential's grant and stores the result, holding the refresh lease and the version's spend lease. */
  async spend(connection: Connection, loaded: LoadedOAuth2, version: string, leases: { held: KeptLease; kept: KeptLease }, need: FreshnessNeed): Promise<LoadedOAuth2> {
    const current = loaded.credentials;
    const grant = grantOf(current, connection);
    // The client secret as set now (PUT .../oauth-client-secret), so a rotated one takes effect;
    // the copy in the credential only for credentials stored whole through the admin API.
    const storedClientSecret = await this.reader.currentClientSecret(connection.id);
    const clientSecret = storedClientSecret?.value ?? current.clientSecret;
    // The reads may have been slow (a throttled vault): renew right before spending. A lease that
    // ran out meanwhile may be another instance's now: spend nothing. From here on the background
    // renewals keep both for as long as the token call and the write take.
    if (!(await leases.held.renew()) || !(await leases.kept.renew())) {
      throw new SyncBridgeError('transient', `The token refresh lease of connection ${connection.id} ran out before spending the refresh token; nothing was spent, the refresh is tried again.`);
    }
    const client = { tokenUrl: current.tokenUrl, clientId: current.clientId, clientSecret };
    // expires_in counts from when the provider issued the token: the time before sending keeps the
    // stored expiry from running late by the round trip.
    const sentAtMs = this.platform.clock.now().getTime();
    let response;
    try {
      response = grant === 'client_credentials' ? await this.oauth.clientCredentials(client, current.scope) : await this.oauth.refresh(client, current.refreshToken!);
    } catch (error) {
      if (isNewClientSecretNotYetAccepted(error, storedClientSecret, this.platform.clock.now().getTime(), this.settings.clientSecretGraceMs)) {
        throw newClientSecretRefused(this.platform, connection, storedClientSecret!, error, this.settings.clientSecretGraceMs);
      }
      if (isInvalidGrant(error) || isClientRefusal(error)) {
        // The refused grant is this version's. A newer version (a reconnect that got in after our
        // leases ran out) is a new authorization: parking now would undo its activation.
        const newer = await this.reader.newerVersion(connection, version);
        if (newer) return this.supersededBy(connection, newer, need, 'its refresh was refused');
        // The refused secret may be one an operator replaced while the request was in flight: the
        // connection has the right one now, and parking it would wait for a fix already made.
        if (isClientRefusal(error) && (await this.clientSecretReplacedSince(connection.id, storedClientSecret))) {
          throw new SyncBridgeError('transient', `The token endpoint answered ${error.oauthError} to the client secret the refresh of connection ${connection.id} sent, but a new client secret was set meanwhile; the refresh is tried again with it.`, { cause: error });
        }
        await parkForReauthorization(this.platform, connection.id, error.message); // the provider's words (masked), for the operator
        throw needsReauthorization(connection.id, `the provider refused the ${grant === 'client_credentials' ? 'client_credentials' : 'refresh_token'} grant (${error.oauthError})`, error);
      }
      throw error;
    }
    if (isUnusableRefreshAnswer(response)) return this.keepRotatedRefreshToken(connection, current, grant, version, response, need);
    const next: OAuth2Credentials = {
      ...current,
      grant, // recorded from now on, also for a credential whose grant was inferred
      accessToken: response.accessToken,
      // Rotation: keep the new refresh token when the provider sent one; else the old one stays valid.
      refreshToken: response.refreshToken ?? current.refreshToken,
      expiresAt: response.expiresInSeconds ? new Date(sentAtMs + response.expiresInSeconds * 1000).toISOString() : undefined,
      scope: response.scope ?? current.scope,
    };
    const outcome = await this.writer.storeRotated(connection, next, version);
    if (outcome.newer) return this.supersededBy(connection, outcome.newer, need, 'its rotated credential was not stored');
    const secret = outcome.stored!;
    this.platform.telemetry.event('CredentialRefreshed', { connectionId: connection.id, tenantId: connection.tenantId, rotated: response.refreshToken !== undefined, expiresAt: next.expiresAt ?? null });
    return loadedFrom(secret, next);
  }

  /** Whether the stored client secret is another version than the one a refresh sent (`sent` undefined: it sent the document's copy). */
  private async clientSecretReplacedSince(connectionId: string, sent: SecretValue | undefined): Promise<boolean> {
    const now = await this.reader.currentClientSecret(connectionId);
    return now?.version !== sent?.version;
  }

  /**
   * A 200 to the refresh without a usable access token, but with a refresh token: the provider may
   * have rotated, and the token just sent be spent. Throwing the answer away would leave the next
   * refresh to send the spent token (reuse: invalid_grant, the family revoked, the connection
   * parked). So the new refresh token is stored like any rotation, under the same leases and
   * version check, with the access token marked expired (expiresAt now) so that the next use
   * refreshes again, with the new token; then the call fails with the answer's error (`transient`
   * for a missing access token), and the caller's retry does that refresh.
   */
  private async keepRotatedRefreshToken(connection: Connection, current: OAuth2Credentials, grant: OAuth2Credentials['grant'], version: string, answer: UnusableRefreshAnswer, need: FreshnessNeed): Promise<LoadedOAuth2> {
    const next: OAuth2Credentials = { ...current, grant, refreshToken: answer.refreshToken, expiresAt: this.platform.clock.now().toISOString() };
    const outcome = await this.writer.storeRotated(connection, next, version);
    // A newer credential (a reconnect) is a new authorization: the old one's rotated token is moot.
    if (outcome.newer) return this.supersededBy(connection, outcome.newer, need, 'its refresh answered without a usable access token');
    this.platform.telemetry.log('warn', 'The token endpoint answered a refresh without a usable access token but with a new refresh token; it was stored for the next refresh.', { connectionId: connection.id, code: answer.unusable.code });
    throw new SyncBridgeError(answer.unusable.code, `${answer.unusable.message} The answer carried a new refresh token: it was stored, and the next refresh uses it.`, { status: answer.unusable.status, cause: answer.unusable });
  }

  /**
   * A refresh found a newer credential than the one it started from (stored while it was in
   * flight): it leaves that one alone and returns it when it meets the need, else fails
   * `transient` so that the caller tries again with the new credential.
   */
  private supersededBy(connection: Connection, newer: SecretValue, need: FreshnessNeed, what: string): LoadedOAuth2 {
    this.platform.telemetry.log('warn', `A newer credential was stored while a token refresh was in flight; ${what}.`, { connectionId: connection.id });
    const credentials = parseCredentials(newer, connection.id);
    if (credentials.type === 'oauth2') {
      this.reader.registerSecrets(credentials);
      const loaded = loadedFrom(newer, credentials);
      if (satisfies(loaded, need, this.platform.clock)) return loaded;
    }
    throw new SyncBridgeError('transient', `A newer credential of connection ${connection.id} was stored while its token refresh was in flight; the refresh is tried again with it.`);
  }
}
