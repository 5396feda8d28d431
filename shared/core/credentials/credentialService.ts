import { hostname } from 'node:os';
import type { Credentials, RequestAuthorizer } from '../../adapters/adapter';
import type { Lease } from '../../ports/leaseStore';
import type { Platform } from '../../ports/platform';
import type { SecretValue } from '../../ports/secretStore';
import { SyncBridgeError, isSyncBridgeError } from '../errors';
import type { Connection } from '../model';
import { KeptLease } from './keptLease';
import { OAuth2Authorizer } from './oauth2Authorizer';
import { OAuthClient, isInvalidGrant, isUnusableRefreshAnswer, type UnusableRefreshAnswer } from './oauthClient';
import { grantOf, isClientRefusal } from './oauthGrant';
import { DEFAULT_CLIENT_SECRET_GRACE_MS, isNewClientSecretNotYetAccepted } from './clientSecretGrace';
import { randomUrlSafe } from './pkce';
import { releaseHeldPushesSoon } from '../outbound/connectionHold';

export type OAuth2Credentials = Extract<Credentials, { type: 'oauth2' }>;

/** An OAuth 2 credential as read from the secret store, with when this version was written. */
export interface LoadedOAuth2 {
  credentials: OAuth2Credentials;
  /** When the secret version was created: about when the access token was issued. */
  obtainedAtMs: number;
}

/**
 * What a caller needs of the access token. `staleAccessToken`: the provider refused this one (a
 * 401), so any other token will do. `minValidityMs`: it must stay valid at least this long.
 */
export interface FreshnessNeed {
  staleAccessToken?: string;
  minValidityMs?: number;
}

export interface CredentialServiceOptions {
  /** Refresh ahead of expiry by this much (capped at a quarter of the token's lifetime). Default 60,000 ms. */
  refreshMarginMs?: number;
  /** Lease `token-refresh:<connectionId>` lifetime; must exceed the token call's timeout. Default 30,000 ms. */
  leaseTtlMs?: number;
  /** How long a caller waits for another instance's refresh before giving up (transient). Default 15,000 ms. */
  leaseWaitMs?: number;
  /** Token endpoint client; its timeout (default 10 s) must stay below leaseTtlMs. */
  oauthClient?: OAuthClient;
  /**
   * How long the spend lease `token-spend:<connectionId>:<version>` (taken while that version's
   * refresh token is being spent and its result stored) outlives its holder's last renewal. A
   * refresh whose result has not landed by then counts as lost (its holder crashed or froze), and
   * the next refresh may spend that version again. Default 4 × leaseTtlMs.
   */
  spendLeaseTtlMs?: number;
  /** Writes of a rotated credential tried before giving up. Default 5. */
  storeAttempts?: number;
  /** Wait before the second write, doubling after each failure. Default 500 ms (5 attempts: ~7.5 s). */
  storeRetryDelayMs?: number;
  /**
   * Versions of a connection's credential kept after each write, the new one included (for
   * rollback and forensics); older ones are retired (SecretStore.retireVersions). Default 5.
   */
  credentialVersionsKept?: number;
  /**
   * How long after the OAuth client secret was replaced (PUT .../oauth-client-secret; the secret's
   * version time) an `invalid_client` from the token endpoint counts as the provider still
   * propagating the new secret: retried as `transient` instead of parking the connection
   * (clientSecretGrace.ts). Default 600,000 ms (10 minutes); 0 parks on the first refusal.
   */
  clientSecretGraceMs?: number;
}

/** Name of a connection's credential in the secret store. */
export function credentialSecretName(connectionId: string): string {
  return `connection-${connectionId}-credentials`;
}

/** Name of the OAuth client secret the connect flow uses (set with PUT /api/connections/{id}/oauth-client-secret). */
export function oauthClientSecretName(connectionId: string): string {
  return `connection-${connectionId}-oauth-client-secret`;
}

/**
 * Credentials of connections: reads and writes them in the secret store (every write a new
 * version, tagged with the expiry), hands out request authorizers, and owns the ONE refresh path.
 *
 * Refresh-token rotation makes a refresh token single-use: sending a spent one revokes the whole
 * token family at providers such as Salesforce, Okta, Auth0 (and the sandbox). So every refresh,
 * whether from the timer, a worker ahead of expiry or a worker after a 401, goes through
 * `ensureFresh`: one promise per connection in this process, and across processes the lease
 * `token-refresh:<connectionId>`, after which the secret is read again, because the holder before
 * us may have rotated it already. A caller that finds the lease taken waits for that holder's
 * result instead of refreshing itself.
 */
export class CredentialService {
  private readonly inFlight = new Map<string, Promise<LoadedOAuth2>>();
  private readonly owner = `${hostname()}:${process.pid}:${randomUrlSafe(6)}`;
  private readonly refreshMarginMs: number;
  private readonly leaseTtlMs: number;
  private readonly leaseWaitMs: number;
  private readonly spendLeaseTtlMs: number;
  private readonly storeAttempts: number;
  private readonly storeRetryDelayMs: number;
  private readonly credentialVersionsKept: number;
  private readonly clientSecretGraceMs: number;
  readonly oauth: OAuthClient;

  constructor(private readonly platform: Platform, options: CredentialServiceOptions = {}) {
    this.refreshMarginMs = options.refreshMarginMs ?? 60_000;
    this.leaseTtlMs = options.leaseTtlMs ?? 30_000;
    this.leaseWaitMs = options.leaseWaitMs ?? 15_000;
    this.spendLeaseTtlMs = options.spendLeaseTtlMs ?? 4 * this.leaseTtlMs;
    this.oauth = options.oauthClient ?? new OAuthClient();
    this.storeAttempts = Math.max(1, Math.floor(options.storeAttempts ?? 5));
    this.storeRetryDelayMs = options.storeRetryDelayMs ?? 500;
    this.credentialVersionsKept = options.credentialVersionsKept ?? 5;
    this.clientSecretGraceMs = options.clientSecretGraceMs ?? DEFAULT_CLIENT_SECRET_GRACE_MS;
    if (!Number.isInteger(this.credentialVersionsKept) || this.credentialVersionsKept < 1) throw new SyncBridgeError('configuration', `credentialVersionsKept must be an integer of at least 1, got ${this.credentialVersionsKept}.`);
    for (const [name, value] of Object.entries({ refreshMarginMs: this.refreshMarginMs, leaseTtlMs: this.leaseTtlMs, leaseWaitMs: this.leaseWaitMs, spendLeaseTtlMs: this.spendLeaseTtlMs, storeRetryDelayMs: this.storeRetryDelayMs, clientSecretGraceMs: this.clientSecretGraceMs })) {
      if (!(value >= 0) || !Number.isFinite(value)) throw new SyncBridgeError('configuration', `${name} must be a non-negative number of milliseconds, got ${value}.`);
    }
  }

  /**
   * The credentials an adapter needs for a connection, and for OAuth 2 an authorizer that keeps the
   * access token fresh. Connections without a credential get `{ type: 'none' }`.
   */
  async forAdapter(connection: Connection): Promise<{ credentials: Credentials; authorizer?: RequestAuthorizer }> {
    if (!connection.credentialRef) return { credentials: { type: 'none' } };
    const secret = await this.readSecret(connection);
    const credentials = parseCredentials(secret, connection.id);
    this.registerSecrets(credentials);
    if (credentials.type !== 'oauth2') return { credentials };
    const loaded = { credentials, obtainedAtMs: Date.parse(secret.createdAt) };
    return { credentials, authorizer: new OAuth2Authorizer(this, connection.id, loaded) };
  }

  /** Stores a new version of the connection's credential (tagged with its expiry) and returns it. */
  async store(connection: Connection, credentials: Credentials): Promise<SecretValue> {
    this.registerSecrets(credentials);
    const expiresAt = credentials.type === 'oauth2' ? credentials.expiresAt : undefined;
    const stored = await this.platform.secrets.set(secretNameOf(connection), JSON.stringify(credentials), {
      contentType: 'application/json',
      expiresOn: expiresAt,
      tags: { tenantId: connection.tenantId, connectionId: connection.id, type: credentials.type, ...(expiresAt ? { expiresAt } : {}) },
    });
    await this.retireOldVersions(connection, stored.name);
    return stored;
  }

  /**
   * Every version holds a generation of the credential (refresh token, maybe client secret): keep
   * the newest few, retire the rest. Never throws: the new version is stored, and a failure here
   * must not make a caller write it again; the next store retires what this one left.
   */
  private async retireOldVersions(connection: Connection, name: string): Promise<void> {
    try {
      await this.platform.secrets.retireVersions(name, this.credentialVersionsKept);
    } catch (error) {
      this.platform.telemetry.log('warn', 'Retiring old credential versions failed; the next write tries again.', { connectionId: connection.id, code: isSyncBridgeError(error) ? error.code : 'internal', reason: (error as Error).message });
    }
  }

  /**
   * Stores the credential of a new authorization (the connect callback, or new credentials given
   * through the admin API: authorizationInstall.ts) under the refresh lease,
   * then runs `then` (activating the connection) before letting go of it. A refresh of the old
   * authorization still under way finishes first, so its rotated token, or its `invalid_grant`
   * park, lands before the new credential instead of over it; and no refresh starts until the new
   * credential and `then` are in place. That includes a refresh whose refresh lease ran out while
   * it was still storing its result: its version's spend lease is still taken, and it is waited
   * for too. Waits as a refresh does (leaseWaitMs), then fails `transient` with nothing stored.
   */
  async replaceAuthorization<T>(connection: Connection, credentials: Credentials, then: () => Promise<T>): Promise<T> {
    const deadline = Date.now() + this.leaseWaitMs;
    const giveUp = () => new SyncBridgeError('transient', `A token refresh of connection ${connection.id} has been in flight for over ${this.leaseWaitMs} ms; nothing was stored; try again (the connect flow, or PUT /api/connections/${connection.id}/credentials).`);
    let lease = await this.platform.leases.acquire(refreshLeaseName(connection.id), this.owner, this.leaseTtlMs);
    while (!lease) {
      if (Date.now() > deadline) throw giveUp();
      await sleep(50);
      lease = await this.platform.leases.acquire(refreshLeaseName(connection.id), this.owner, this.leaseTtlMs);
    }
    const held = this.keep(lease, this.leaseTtlMs);
    try {
      const spend = await this.takeNewestVersion(connection, deadline, giveUp);
      try {
        await this.store(connection, credentials);
        return await then();
      } finally {
        await spend?.release();
      }
    } finally {
      await held.release();
    }
  }

  /**
   * The spend lease of the credential's newest version (undefined when there is no credential
   * yet), waiting while a refresh that lost its refresh lease still holds it.
   */
  private async takeNewestVersion(connection: Connection, deadline: number, giveUp: () => Error): Promise<KeptLease | undefined> {
    for (;;) {
      const newest = await this.platform.secrets.get(secretNameOf(connection), { fresh: true });
      if (!newest) return undefined;
      const spend = await this.platform.leases.acquire(spendLeaseName(connection.id, newest.version), this.owner, this.spendLeaseTtlMs);
      if (spend) return this.keep(spend, this.spendLeaseTtlMs);
      if (Date.now() > deadline) throw giveUp();
      await sleep(50);
    }
  }

  /** How long before expiry an access token counts as expiring: the margin, at most a quarter of its lifetime. */
  marginFor(loaded: LoadedOAuth2): number {
    const expiresAtMs = loaded.credentials.expiresAt ? Date.parse(loaded.credentials.expiresAt) : NaN;
    if (!Number.isFinite(expiresAtMs) || !Number.isFinite(loaded.obtainedAtMs)) return this.refreshMarginMs;
    return Math.min(this.refreshMarginMs, Math.max(0, (expiresAtMs - loaded.obtainedAtMs) / 4));
  }

  /**
   * The refresher's window for one token: the configured window, at most half the token's
   * lifetime. A window longer than the lifetime would be unmet right after every refresh, so each
   * tick would spend a refresh token on every such connection, busy or idle.
   */
  windowFor(loaded: LoadedOAuth2, windowMs: number): number {
    const expiresAtMs = loaded.credentials.expiresAt ? Date.parse(loaded.credentials.expiresAt) : NaN;
    if (!Number.isFinite(expiresAtMs) || !Number.isFinite(loaded.obtainedAtMs)) return windowMs;
    return Math.min(windowMs, Math.max(0, (expiresAtMs - loaded.obtainedAtMs) / 2));
  }

  satisfies(loaded: LoadedOAuth2, need: FreshnessNeed): boolean {
    const { accessToken, expiresAt } = loaded.credentials;
    if (need.staleAccessToken !== undefined && accessToken === need.staleAccessToken) return false;
    if (!expiresAt) return true; // the provider gave no lifetime: only a 401 tells
    return Date.parse(expiresAt) - this.platform.clock.now().getTime() > (need.minValidityMs ?? 0);
  }

  /**
   * An access token that meets `need`, refreshing through the single-flight path when the stored
   * one does not. Throws `auth_failed` when the provider refuses the grant (after `invalid_grant`
   * the connection is parked as reauthorization_required), `transient` when the token endpoint or
   * another instance's refresh does not answer in time.
   */
  async ensureFresh(connectionId: string, need: FreshnessNeed): Promise<LoadedOAuth2> {
    // Join a refresh under way: it usually ends with a token newer than ours. It may have been
    // started for a weaker need (and found the stored token good enough); then go again, at most twice.
    for (let joined = 0; ; joined += 1) {
      const running = this.inFlight.get(connectionId);
      if (!running) break;
      const result = await running;
      if (joined >= 1 || this.satisfies(result, need)) return result;
    }
    const started = this.refreshAcrossInstances(connectionId, need).finally(() => this.inFlight.delete(connectionId));
    this.inFlight.set(connectionId, started);
    return started;
  }

  /**
   * The token refresher's sweep: refreshes every active connection's OAuth 2 credential that
   * expires within `windowMs` (per token at most half its lifetime, `windowFor`). A credential
   * nothing can renew (a code grant without a refresh token) is left alone until it has expired,
   * then parked. One connection's failure does not stop the others.
   */
  async refreshExpiring(windowMs: number): Promise<{ checked: number; refreshed: number; failed: number }> {
    let checked = 0;
    let refreshed = 0;
    let failed = 0;
    let afterId: string | undefined;
    for (;;) {
      const page = await this.platform.connections.listAll({ afterId, limit: 200 });
      if (page.length === 0) break;
      afterId = page[page.length - 1].id;
      for (const connection of page) {
        if (connection.status !== 'active' || !connection.credentialRef) continue;
        checked += 1;
        try {
          const loaded = await this.loadOAuth2(connection);
          if (!loaded) continue;
          const need = { minValidityMs: this.windowFor(loaded, windowMs) };
          if (this.satisfies(loaded, need)) continue;
          if (!this.renewable(loaded, connection) && !this.hasExpired(loaded)) continue;
          await this.ensureFresh(connection.id, need);
          refreshed += 1;
        } catch (error) {
          failed += 1;
          this.platform.telemetry.log('warn', 'Token refresh failed.', { connectionId: connection.id, code: isSyncBridgeError(error) ? error.code : 'internal', reason: (error as Error).message });
        }
      }
    }
    return { checked, refreshed, failed };
  }

  private async refreshAcrossInstances(connectionId: string, need: FreshnessNeed): Promise<LoadedOAuth2> {
    const { leases } = this.platform;
    const deadline = Date.now() + this.leaseWaitMs;
    for (;;) {
      const connection = await this.platform.connections.get(connectionId);
      if (!connection) throw new SyncBridgeError('not_found', `Connection ${connectionId} does not exist.`);
      if (connection.status === 'reauthorization_required') throw needsReauthorization(connectionId);
      const lease = await leases.acquire(refreshLeaseName(connectionId), this.owner, this.leaseTtlMs);
      if (lease) {
        const held = this.keep(lease, this.leaseTtlMs);
        try {
          return await this.refreshHoldingLease(connection, need, held);
        } finally {
          await held.release();
        }
      }
      // Another instance is refreshing: wait for its new token rather than spending the same refresh token.
      const loaded = await this.loadOAuth2(connection);
      if (loaded && this.satisfies(loaded, need)) return loaded;
      if (Date.now() > deadline) {
        throw new SyncBridgeError('transient', `Another instance has been refreshing the token of connection ${connectionId} for over ${this.leaseWaitMs} ms.`);
      }
      await sleep(50);
    }
  }

  /**
   * Under the refresh lease (kept renewed in the background until the result is stored, however
   * long that write takes). The lease alone cannot cover a holder that stops renewing while its
   * write is still coming (a frozen process, a lease store that refuses it): the next holder would
   * read the old version and spend its refresh token a second time. So the refresh token of a
   * version is spent only under that version's spend lease, `token-spend:<connectionId>:<version>`,
   * which outlives its holder's last renewal by spendLeaseTtlMs: a holder that finds it taken
   * waits for the result to land instead of spending.
   */
  private async refreshHoldingLease(connection: Connection, need: FreshnessNeed, held: KeptLease): Promise<LoadedOAuth2> {
    const deadline = Date.now() + this.leaseWaitMs;
    // Read again under the lease, past any cache: the previous holder (maybe another instance) may
    // have rotated the refresh token already, and spending the old one would look like token theft.
    let secret = await this.readSecret(connection, { fresh: true });
    for (;;) {
      const loaded = this.oauth2From(secret, connection.id);
      if (this.satisfies(loaded, need)) return loaded;
      const { credentials } = loaded;
      if (grantOf(credentials, connection) === 'authorization_code' && !credentials.refreshToken) {
        // Nothing renews a user's token without a refresh token: the client-credentials grant would
        // hand back an app-only token, another identity. Use it while it lasts; once the provider
        // refused it or it expired, a person has to connect again.
        if (need.staleAccessToken === undefined && !this.hasExpired(loaded)) return loaded;
        const reason = 'its access token expired and the provider issued no refresh token';
        await this.parkForReauthorization(connection.id, reason);
        throw needsReauthorization(connection.id, reason);
      }
      const spend = await this.platform.leases.acquire(spendLeaseName(connection.id, secret.version), this.owner, this.spendLeaseTtlMs);
      if (!spend) {
        // A refresh whose refresh lease ran out is still spending this version's refresh token:
        // its result (or its invalid_grant park) is coming; spending the token again would revoke
        // the whole token family at providers that detect reuse.
        if (Date.now() > deadline) {
          throw new SyncBridgeError('transient', `A refresh of connection ${connection.id} that lost its lease has not stored its result for over ${this.leaseWaitMs} ms; nothing was spent, the refresh is tried again.`);
        }
        await sleep(50);
        await this.refuseIfParked(connection.id);
        secret = await this.readSecret(connection, { fresh: true });
        continue;
      }
      const kept = this.keep(spend, this.spendLeaseTtlMs);
      try {
        // Read again now that we hold it: the holder before us may have stored its result and let
        // go between our read and our acquire (or parked the connection).
        const now = await this.readSecret(connection, { fresh: true });
        if (now.version !== secret.version) {
          secret = now;
          continue;
        }
        await this.refuseIfParked(connection.id);
        return await this.spendRefreshToken(connection, loaded, secret.version, { held, kept }, need);
      } finally {
        await kept.release();
      }
    }
  }

  /** Spends the credential's grant and stores the result, holding the refresh lease and the version's spend lease. */
  private async spendRefreshToken(connection: Connection, loaded: LoadedOAuth2, version: string, leases: { held: KeptLease; kept: KeptLease }, need: FreshnessNeed): Promise<LoadedOAuth2> {
    const current = loaded.credentials;
    const grant = grantOf(current, connection);
    // The client secret as set now (PUT .../oauth-client-secret), so a rotated one takes effect;
    // the copy in the credential only for credentials stored whole through the admin API.
    const storedClientSecret = await this.currentClientSecret(connection.id);
    const clientSecret = storedClientSecret?.value ?? current.clientSecret;
    // The reads may have been slow (a throttled vault): renew right before spending. A lease that
    // ran out meanwhile may be another instance's now: spend nothing. From here on the background
    // renewals keep both for as long as the token call and the write take.
    if (!(await leases.held.renew()) || !(await leases.kept.renew())) {
      throw new SyncBridgeError('transient', `The token refresh lease of connection ${connection.id} ran out before spending the refresh token; nothing was spent, the refresh is tried again.`);
    }
    const client = { tokenUrl: current.tokenUrl, clientId: current.clientId, clientSecret };
    let response;
    try {
      response = grant === 'client_credentials' ? await this.oauth.clientCredentials(client, current.scope) : await this.oauth.refresh(client, current.refreshToken!);
    } catch (error) {
      if (isNewClientSecretNotYetAccepted(error, storedClientSecret, this.platform.clock.now().getTime(), this.clientSecretGraceMs)) {
        throw this.newClientSecretRefused(connection, storedClientSecret!, error);
      }
      if (isInvalidGrant(error) || isClientRefusal(error)) {
        // The refused grant is this version's. A newer version (a reconnect that got in after our
        // leases ran out) is a new authorization: parking now would undo its activation.
        const newer = await this.newerVersion(connection, version);
        if (newer) return this.supersededBy(connection, newer, need, 'its refresh was refused');
        await this.parkForReauthorization(connection.id, error.message); // the provider's words (masked), for the operator
        throw needsReauthorization(connection.id, `the provider refused the ${grant === 'client_credentials' ? 'client_credentials' : 'refresh_token'} grant (${error.oauthError})`, error);
      }
      throw error;
    }
    if (isUnusableRefreshAnswer(response)) return this.keepRotatedRefreshToken(connection, current, grant, version, response, need);
    const now = this.platform.clock.now().getTime();
    const next: OAuth2Credentials = {
      ...current,
      grant, // recorded from now on, also for a credential whose grant was inferred
      accessToken: response.accessToken,
      // Rotation: keep the new refresh token when the provider sent one; else the old one stays valid.
      refreshToken: response.refreshToken ?? current.refreshToken,
      expiresAt: response.expiresInSeconds ? new Date(now + response.expiresInSeconds * 1000).toISOString() : undefined,
      scope: response.scope ?? current.scope,
    };
    const outcome = await this.storeRotated(connection, next, version);
    if (outcome.newer) return this.supersededBy(connection, outcome.newer, need, 'its rotated credential was not stored');
    const secret = outcome.stored!;
    this.platform.telemetry.event('CredentialRefreshed', { connectionId: connection.id, tenantId: connection.tenantId, rotated: response.refreshToken !== undefined, expiresAt: next.expiresAt ?? null });
    return { credentials: next, obtainedAtMs: Date.parse(secret.createdAt) };
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
    const outcome = await this.storeRotated(connection, next, version);
    // A newer credential (a reconnect) is a new authorization: the old one's rotated token is moot.
    if (outcome.newer) return this.supersededBy(connection, outcome.newer, need, 'its refresh answered without a usable access token');
    this.platform.telemetry.log('warn', 'The token endpoint answered a refresh without a usable access token but with a new refresh token; it was stored for the next refresh.', { connectionId: connection.id, code: answer.unusable.code });
    throw new SyncBridgeError(answer.unusable.code, `${answer.unusable.message} The answer carried a new refresh token: it was stored, and the next refresh uses it.`, { status: answer.unusable.status, cause: answer.unusable });
  }

  /**
   * Stores a refreshed credential over the version it was refreshed from, and only over that one.
   * The provider has rotated the refresh token already, so this process holds the only copy of the
   * new one: a failed write is retried (with backoff; the kept leases stay renewed meanwhile)
   * instead of thrown away, which would leave the next refresh to spend the old token and the
   * provider to revoke the connection's tokens. Before each attempt the newest version is read: if
   * it is not `fromVersion`, something newer was stored while this refresh was in flight (a
   * reconnect), and writing would revert it; `newer` is returned instead. An earlier attempt that
   * reported an error but landed counts as stored.
   */
  private async storeRotated(connection: Connection, next: OAuth2Credentials, fromVersion: string): Promise<{ stored?: SecretValue; newer?: SecretValue }> {
    const serialized = JSON.stringify(next);
    for (let attempt = 1; ; attempt += 1) {
      try {
        const newest = await this.platform.secrets.get(secretNameOf(connection), { fresh: true });
        if (newest && newest.version !== fromVersion) return newest.value === serialized ? { stored: newest } : { newer: newest };
        return { stored: await this.store(connection, next) };
      } catch (error) {
        if (attempt >= this.storeAttempts) {
          this.platform.telemetry.log('error', 'A rotated credential could not be stored; the connection may need reauthorization.', { connectionId: connection.id, attempts: attempt, reason: (error as Error).message });
          throw error;
        }
        this.platform.telemetry.log('warn', 'Storing a rotated credential failed; retrying.', { connectionId: connection.id, attempt, reason: (error as Error).message });
        await sleep(this.storeRetryDelayMs * 2 ** (attempt - 1));
      }
    }
  }

  /** The newest version of the credential when it is not `version`, else undefined. */
  private async newerVersion(connection: Connection, version: string): Promise<SecretValue | undefined> {
    const newest = await this.platform.secrets.get(secretNameOf(connection), { fresh: true });
    return newest && newest.version !== version ? newest : undefined;
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
      this.registerSecrets(credentials);
      const loaded = { credentials, obtainedAtMs: Date.parse(newer.createdAt) };
      if (this.satisfies(loaded, need)) return loaded;
    }
    throw new SyncBridgeError('transient', `A newer credential of connection ${connection.id} was stored while its token refresh was in flight; the refresh is tried again with it.`);
  }

  private async refuseIfParked(connectionId: string): Promise<void> {
    const connection = await this.platform.connections.get(connectionId);
    if (!connection) throw new SyncBridgeError('not_found', `Connection ${connectionId} does not exist.`);
    if (connection.status === 'reauthorization_required') throw needsReauthorization(connectionId);
  }

  private keep(lease: Lease, ttlMs: number): KeptLease {
    return new KeptLease(this.platform.leases, lease, ttlMs, this.platform.clock);
  }

  private oauth2From(secret: SecretValue, connectionId: string): LoadedOAuth2 {
    const credentials = parseCredentials(secret, connectionId);
    if (credentials.type !== 'oauth2') throw new SyncBridgeError('configuration', `Connection ${connectionId} has no OAuth 2 credential to refresh.`);
    this.registerSecrets(credentials);
    return { credentials, obtainedAtMs: Date.parse(secret.createdAt) };
  }

  /** Whether the access token's expiry has passed (a token without one never counts as expired). */
  private hasExpired(loaded: LoadedOAuth2): boolean {
    const expiresAtMs = loaded.credentials.expiresAt ? Date.parse(loaded.credentials.expiresAt) : NaN;
    return Number.isFinite(expiresAtMs) && expiresAtMs <= this.platform.clock.now().getTime();
  }

  /** Whether a grant can renew the credential: not a code grant that came without a refresh token. */
  private renewable(loaded: LoadedOAuth2, connection: Connection): boolean {
    return grantOf(loaded.credentials, connection) === 'client_credentials' || loaded.credentials.refreshToken !== undefined;
  }

  /** The client secret set through the admin API (past any cache: it may have just been rotated). */
  private async currentClientSecret(connectionId: string): Promise<SecretValue | undefined> {
    const secret = await this.platform.secrets.get(oauthClientSecretName(connectionId), { fresh: true });
    if (secret) this.registerSecretValues([secret.value]);
    return secret;
  }

  /** The `transient` failure of an invalid_client within the grace period after the secret was replaced. */
  private newClientSecretRefused(connection: Connection, sent: SecretValue, cause: unknown): SyncBridgeError {
    const ageSeconds = Math.max(0, Math.round((this.platform.clock.now().getTime() - Date.parse(sent.createdAt)) / 1000));
    // One retry, when the grace period ends: a run step or push retried sooner would spend its
    // attempts on a provider that is still propagating the secret (a push would be dead-lettered
    // before the secret is accepted). Then it either works or parks the connection, which holds pushes.
    const retryAt = new Date(Date.parse(sent.createdAt) + this.clientSecretGraceMs);
    this.platform.telemetry.log('warn', 'The token endpoint refused a client secret replaced moments ago; retrying when its grace period ends, as providers can take minutes to accept a new one.', { connectionId: connection.id, ageSeconds, retryAt: retryAt.toISOString() });
    return new SyncBridgeError(
      'transient',
      `The token endpoint answered invalid_client, but the client secret of connection ${connection.id} was replaced ${ageSeconds} s ago and providers can take minutes to accept a new one: the refresh is tried again at ${retryAt.toISOString()}. An invalid_client more than ${Math.round(this.clientSecretGraceMs / 1000)} s after the change parks the connection for reauthorization.`,
      { cause, retryAt },
    );
  }

  /**
   * After the OAuth client secret was replaced: a connection parked as reauthorization_required
   * whose credential can still be renewed (a refresh token, or the client-credentials grant) is
   * active again, since a refused client secret may have been why it was parked. If the grant was
   * the problem (invalid_grant), the next refresh is refused once more and parks it again.
   * Its held pushes go out at once. Returns the connection as it is now.
   */
  async clientSecretReplaced(connection: Connection): Promise<Connection> {
    for (let attempt = 0; attempt < 20; attempt += 1) {
      const current = await this.platform.connections.get(connection.id);
      if (!current || current.status !== 'reauthorization_required') return current ?? connection;
      const loaded = await this.loadOAuth2(current).catch(() => undefined);
      if (!loaded || !this.renewable(loaded, current)) return current;
      try {
        const active = await this.platform.connections.update({ ...current, status: 'active', updatedAt: this.platform.clock.now().toISOString() });
        await releaseHeldPushesSoon(this.platform, active.id);
        return active;
      } catch (error) {
        if (!isSyncBridgeError(error, 'conflict')) throw error;
      }
    }
    throw new SyncBridgeError('conflict', `Connection ${connection.id} kept changing while it was being reactivated.`);
  }

  /** Marks the connection reauthorization_required (the scheduler skips it, new runs are refused). */
  private async parkForReauthorization(connectionId: string, reason: string): Promise<void> {
    for (let attempt = 0; attempt < 20; attempt += 1) {
      const connection = await this.platform.connections.get(connectionId);
      if (!connection || connection.status === 'reauthorization_required') return;
      try {
        await this.platform.connections.update({ ...connection, status: 'reauthorization_required', updatedAt: this.platform.clock.now().toISOString() });
        this.platform.telemetry.event('ConnectionReauthorizationRequired', { connectionId, tenantId: connection.tenantId, reason });
        return;
      } catch (error) {
        if (!isSyncBridgeError(error, 'conflict')) throw error;
      }
    }
    throw new SyncBridgeError('conflict', `Could not mark connection ${connectionId} as reauthorization_required: it kept changing.`);
  }

  /** `fresh`: past any cache of the secret store, for the read under the refresh lease. */
  private async loadOAuth2(connection: Connection, options: { fresh?: boolean } = {}): Promise<LoadedOAuth2 | undefined> {
    if (!connection.credentialRef) return undefined;
    const secret = await this.readSecret(connection, options);
    const credentials = parseCredentials(secret, connection.id);
    if (credentials.type !== 'oauth2') return undefined;
    this.registerSecrets(credentials);
    return { credentials, obtainedAtMs: Date.parse(secret.createdAt) };
  }

  private async readSecret(connection: Connection, options: { fresh?: boolean } = {}): Promise<SecretValue> {
    const secret = await this.platform.secrets.get(secretNameOf(connection), options);
    if (!secret) throw new SyncBridgeError('configuration', `The credential of connection ${connection.id} is missing from the secret store.`);
    return secret;
  }

  /**
   * Defence in depth: telemetry learns every token we hold, each time we load or store it, so that
   * its bounded registry (ports/telemetry.ts) keeps every value still in use.
   */
  private registerSecrets(credentials: Credentials): void {
    this.registerSecretValues(
      credentials.type === 'oauth2' ? [credentials.accessToken, credentials.refreshToken, credentials.clientSecret]
      : credentials.type === 'apiKey' ? [credentials.apiKey]
      : credentials.type === 'bearer' ? [credentials.token]
      : [],
    );
  }

  private registerSecretValues(values: Array<string | undefined>): void {
    for (const value of values) if (value) this.platform.telemetry.registerSecretValue(value);
  }
}

function secretNameOf(connection: Connection): string {
  return connection.credentialRef ?? credentialSecretName(connection.id);
}

/** The lease of the one refresh path (and of replaceAuthorization) for a connection. */
function refreshLeaseName(connectionId: string): string {
  return `token-refresh:${connectionId}`;
}

/** Held while the refresh token of that credential version is spent and its result stored. */
function spendLeaseName(connectionId: string, version: string): string {
  return `token-spend:${connectionId}:${version}`;
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

function needsReauthorization(connectionId: string, reason?: string, cause?: unknown): SyncBridgeError {
  const why = reason ? `: ${reason}` : '';
  return new SyncBridgeError('auth_failed', `Connection ${connectionId} needs reauthorization${why}. Connect it again through /api/connect, or give it new credentials with PUT /api/connections/${connectionId}/credentials (after a client secret refusal, set the secret with PUT /api/connections/${connectionId}/oauth-client-secret).`, { cause });
}

function parseCredentials(secret: SecretValue, connectionId: string): Credentials {
  let value: unknown;
  try {
    value = JSON.parse(secret.value);
  } catch {
    value = undefined; // never echo the text: it is a secret
  }
  if (value === null || typeof value !== 'object' || typeof (value as { type?: unknown }).type !== 'string') {
    throw new SyncBridgeError('configuration', `The credential of connection ${connectionId} is not a valid credential document.`);
  }
  return value as Credentials;
}
