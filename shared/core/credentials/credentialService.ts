import { hostname } from 'node:os';
import type { Credentials, RequestAuthorizer } from '../../adapters/adapter';
import type { Lease } from '../../ports/leaseStore';
import type { Platform } from '../../ports/platform';
import type { SecretValue } from '../../ports/secretStore';
import { SyncBridgeError, isSyncBridgeError } from '../errors';
import type { Connection } from '../model';
import { OAuth2Authorizer } from './oauth2Authorizer';
import { OAuthClient, isInvalidGrant } from './oauthClient';
import { grantOf, isClientRefusal } from './oauthGrant';
import { randomUrlSafe } from './pkce';

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
  /** Writes of a rotated credential tried before giving up. Default 5. */
  storeAttempts?: number;
  /** Wait before the second write, doubling after each failure. Default 500 ms (5 attempts: ~7.5 s). */
  storeRetryDelayMs?: number;
  /**
   * Versions of a connection's credential kept after each write, the new one included (for
   * rollback and forensics); older ones are retired (SecretStore.retireVersions). Default 5.
   */
  credentialVersionsKept?: number;
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
  private readonly storeAttempts: number;
  private readonly storeRetryDelayMs: number;
  private readonly credentialVersionsKept: number;
  readonly oauth: OAuthClient;

  constructor(private readonly platform: Platform, options: CredentialServiceOptions = {}) {
    this.refreshMarginMs = options.refreshMarginMs ?? 60_000;
    this.leaseTtlMs = options.leaseTtlMs ?? 30_000;
    this.leaseWaitMs = options.leaseWaitMs ?? 15_000;
    this.oauth = options.oauthClient ?? new OAuthClient();
    this.storeAttempts = Math.max(1, Math.floor(options.storeAttempts ?? 5));
    this.storeRetryDelayMs = options.storeRetryDelayMs ?? 500;
    this.credentialVersionsKept = options.credentialVersionsKept ?? 5;
    if (!Number.isInteger(this.credentialVersionsKept) || this.credentialVersionsKept < 1) throw new SyncBridgeError('configuration', `credentialVersionsKept must be an integer of at least 1, got ${this.credentialVersionsKept}.`);
    for (const [name, value] of Object.entries({ refreshMarginMs: this.refreshMarginMs, leaseTtlMs: this.leaseTtlMs, leaseWaitMs: this.leaseWaitMs, storeRetryDelayMs: this.storeRetryDelayMs })) {
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
    const stored = await this.platform.secrets.set(connection.credentialRef ?? credentialSecretName(connection.id), JSON.stringify(credentials), {
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
   * Stores the credential of a new authorization (the connect callback) under the refresh lease,
   * then runs `then` (activating the connection) before letting go of it. A refresh of the old
   * authorization still under way finishes first, so its rotated token, or its `invalid_grant`
   * park, lands before the new credential instead of over it; and no refresh starts until the new
   * credential and `then` are in place. Waits for the lease as a refresh does (leaseWaitMs), then
   * fails `transient` with nothing stored.
   */
  async replaceAuthorization<T>(connection: Connection, credentials: Credentials, then: () => Promise<T>): Promise<T> {
    const name = `token-refresh:${connection.id}`;
    const deadline = Date.now() + this.leaseWaitMs;
    let lease = await this.platform.leases.acquire(name, this.owner, this.leaseTtlMs);
    while (!lease) {
      if (Date.now() > deadline) throw new SyncBridgeError('transient', `A token refresh of connection ${connection.id} has held its lease for over ${this.leaseWaitMs} ms; nothing was stored, start the connect flow again.`);
      await new Promise((resolve) => setTimeout(resolve, 50));
      lease = await this.platform.leases.acquire(name, this.owner, this.leaseTtlMs);
    }
    try {
      await this.store(connection, credentials);
      return await then();
    } finally {
      await this.platform.leases.release(lease);
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
      const lease = await leases.acquire(`token-refresh:${connectionId}`, this.owner, this.leaseTtlMs);
      if (lease) {
        const held = { lease };
        try {
          return await this.refreshHoldingLease(connection, need, held);
        } finally {
          await leases.release(held.lease);
        }
      }
      // Another instance is refreshing: wait for its new token rather than spending the same refresh token.
      const loaded = await this.loadOAuth2(connection);
      if (loaded && this.satisfies(loaded, need)) return loaded;
      if (Date.now() > deadline) {
        throw new SyncBridgeError('transient', `Another instance has been refreshing the token of connection ${connectionId} for over ${this.leaseWaitMs} ms.`);
      }
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
  }

  private async refreshHoldingLease(connection: Connection, need: FreshnessNeed, held: { lease: Lease }): Promise<LoadedOAuth2> {
    // Read again under the lease, past any cache: the previous holder (maybe another instance) may
    // have rotated the refresh token already, and spending the old one would look like token theft.
    const loaded = await this.loadOAuth2(connection, { fresh: true });
    if (!loaded) throw new SyncBridgeError('configuration', `Connection ${connection.id} has no OAuth 2 credential to refresh.`);
    if (this.satisfies(loaded, need)) return loaded;
    // The read may have been slow (a throttled vault): renew right before spending the refresh
    // token, so the token call (its timeout is below the lease's) and the write of its result run
    // under a whole lease. A lease that ran out meanwhile may be another instance's now: spend nothing.
    const current = loaded.credentials;
    const grant = grantOf(current, connection);
    if (grant === 'authorization_code' && !current.refreshToken) {
      // Nothing renews a user's token without a refresh token: the client-credentials grant would
      // hand back an app-only token, another identity. Use it while it lasts; once the provider
      // refused it or it expired, a person has to connect again.
      if (need.staleAccessToken === undefined && !this.hasExpired(loaded)) return loaded;
      const reason = 'its access token expired and the provider issued no refresh token';
      await this.parkForReauthorization(connection.id, reason);
      throw needsReauthorization(connection.id, reason);
    }
    // The client secret as set now (PUT .../oauth-client-secret), so a rotated one takes effect;
    // the copy in the credential only for credentials stored whole through the admin API.
    const clientSecret = (await this.currentClientSecret(connection.id)) ?? current.clientSecret;
    // The read may have been slow (a throttled vault): renew right before spending the refresh
    // token, so the token call (its timeout is below the lease's) and the write of its result run
    // under a whole lease. A lease that ran out meanwhile may be another instance's now: spend nothing.
    await this.renewOrAbandon(connection.id, held, 'before spending the refresh token');
    const client = { tokenUrl: current.tokenUrl, clientId: current.clientId, clientSecret };
    let response;
    try {
      response = grant === 'client_credentials' ? await this.oauth.clientCredentials(client, current.scope) : await this.oauth.refresh(client, current.refreshToken!);
    } catch (error) {
      if (isInvalidGrant(error) || isClientRefusal(error)) {
        await this.parkForReauthorization(connection.id, error.message); // the provider's words (masked), for the operator
        throw needsReauthorization(connection.id, `the provider refused the ${grant === 'client_credentials' ? 'client_credentials' : 'refresh_token'} grant (${error.oauthError})`, error);
      }
      throw error;
    }
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
    const secret = await this.storeRotated(connection, next, held);
    this.platform.telemetry.event('CredentialRefreshed', { connectionId: connection.id, tenantId: connection.tenantId, rotated: response.refreshToken !== undefined, expiresAt: next.expiresAt ?? null });
    return { credentials: next, obtainedAtMs: Date.parse(secret.createdAt) };
  }

  /** Extends the refresh lease by a whole TTL, or fails (`transient`) when it was lost. */
  private async renewOrAbandon(connectionId: string, held: { lease: Lease }, when: string): Promise<void> {
    const renewed = await this.platform.leases.renew(held.lease, this.leaseTtlMs);
    if (!renewed) throw new SyncBridgeError('transient', `The token refresh lease of connection ${connectionId} ran out ${when}; nothing was spent, the refresh is tried again.`);
    held.lease = renewed;
  }

  /**
   * Stores a refreshed credential. The provider has rotated the refresh token already, so this
   * process holds the only copy of the new one: a failed write is retried (with backoff, the lease
   * renewed before each attempt so no other instance reads the spent token meanwhile) instead of
   * thrown away, which would leave the next refresh to spend the old token and the provider to
   * revoke the connection's tokens.
   */
  private async storeRotated(connection: Connection, next: OAuth2Credentials, held: { lease: Lease }): Promise<SecretValue> {
    for (let attempt = 1; ; attempt += 1) {
      try {
        return await this.store(connection, next);
      } catch (error) {
        if (attempt >= this.storeAttempts) {
          this.platform.telemetry.log('error', 'A rotated credential could not be stored; the connection may need reauthorization.', { connectionId: connection.id, attempts: attempt, reason: (error as Error).message });
          throw error;
        }
        this.platform.telemetry.log('warn', 'Storing a rotated credential failed; retrying.', { connectionId: connection.id, attempt, reason: (error as Error).message });
        await new Promise((resolve) => setTimeout(resolve, this.storeRetryDelayMs * 2 ** (attempt - 1)));
        const renewed = await this.platform.leases.renew(held.lease, this.leaseTtlMs).catch(() => undefined);
        if (renewed) held.lease = renewed; // lost or not, this write goes on: it holds the only copy
      }
    }
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
  private async currentClientSecret(connectionId: string): Promise<string | undefined> {
    const secret = await this.platform.secrets.get(oauthClientSecretName(connectionId), { fresh: true });
    if (secret) this.registerSecretValues([secret.value]);
    return secret?.value;
  }

  /**
   * After the OAuth client secret was replaced: a connection parked as reauthorization_required
   * whose credential can still be renewed (a refresh token, or the client-credentials grant) is
   * active again, since a refused client secret may have been why it was parked. If the grant was
   * the problem (invalid_grant), the next refresh is refused once more and parks it again.
   * Returns the connection as it is now.
   */
  async clientSecretReplaced(connection: Connection): Promise<Connection> {
    for (let attempt = 0; attempt < 20; attempt += 1) {
      const current = await this.platform.connections.get(connection.id);
      if (!current || current.status !== 'reauthorization_required') return current ?? connection;
      const loaded = await this.loadOAuth2(current).catch(() => undefined);
      if (!loaded || !this.renewable(loaded, current)) return current;
      try {
        return await this.platform.connections.update({ ...current, status: 'active', updatedAt: this.platform.clock.now().toISOString() });
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
    const secret = await this.platform.secrets.get(connection.credentialRef ?? credentialSecretName(connection.id), options);
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

function needsReauthorization(connectionId: string, reason?: string, cause?: unknown): SyncBridgeError {
  const why = reason ? `: ${reason}` : '';
  return new SyncBridgeError('auth_failed', `Connection ${connectionId} needs reauthorization${why}. Connect it again through /api/connect (after a client secret refusal, set the secret with PUT /api/connections/${connectionId}/oauth-client-secret first).`, { cause });
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
