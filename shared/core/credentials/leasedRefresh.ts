import type { Platform } from '../../ports/platform';
import { SyncBridgeError } from '../errors';
import type { Connection } from '../model';
import type { CredentialReader, LoadedOAuth2 } from './credentialReader';
import type { CredentialSettings } from './credentialServiceOptions';
import type { KeptLease } from './keptLease';
import { grantOf } from './oauthGrant';
import { connectionUnlessParked, needsReauthorization, parkForReauthorization } from './reauthorizationParking';
import type { RefreshLeases } from './refreshLeases';
import type { RefreshTokenSpender } from './refreshTokenSpend';
import { sleep } from './sleep';
import { hasExpired, satisfies, type FreshnessNeed } from './tokenFreshness';

/**
 * The ONE refresh path (CredentialService.ensureFresh). Refresh-token rotation makes a refresh
 * token single-use: sending a spent one revokes the whole token family at providers such as
 * Salesforce, Okta, Auth0 (and the sandbox). So every refresh, whether from the timer, a worker
 * ahead of expiry or a worker after a 401, comes here: one promise per connection in this process,
 * and across processes the lease `token-refresh:<connectionId>`, after which the secret is read
 * again, because the holder before us may have rotated it already. A caller that finds the lease
 * taken waits for that holder's result instead of refreshing itself.
 */
export class LeasedRefresh {
  private readonly inFlight = new Map<string, Promise<LoadedOAuth2>>();

  constructor(
    private readonly platform: Platform,
    private readonly leases: RefreshLeases,
    private readonly reader: CredentialReader,
    private readonly spender: RefreshTokenSpender,
    private readonly settings: Pick<CredentialSettings, 'leaseWaitMs'>,
  ) {}

  /** See CredentialService.ensureFresh. */
  async ensureFresh(connectionId: string, need: FreshnessNeed): Promise<LoadedOAuth2> {
    // Join a refresh under way: it usually ends with a token newer than ours. It may have been
    // started for a weaker need (and found the stored token good enough); then go again, at most twice.
    for (let joined = 0; ; joined += 1) {
      const running = this.inFlight.get(connectionId);
      if (!running) break;
      const result = await running;
      if (joined >= 1 || satisfies(result, need, this.platform.clock)) return result;
    }
    const started = this.refreshAcrossInstances(connectionId, need).finally(() => this.inFlight.delete(connectionId));
    this.inFlight.set(connectionId, started);
    return started;
  }

  private async refreshAcrossInstances(connectionId: string, need: FreshnessNeed): Promise<LoadedOAuth2> {
    const { leaseWaitMs } = this.settings;
    const deadline = Date.now() + leaseWaitMs;
    for (;;) {
      const connection = await connectionUnlessParked(this.platform, connectionId);
      const held = await this.leases.takeRefresh(connectionId);
      if (held) {
        try {
          return await this.refreshHoldingLease(connection, need, held);
        } finally {
          await held.release();
        }
      }
      // Another instance is refreshing: wait for its new token rather than spending the same refresh token.
      const loaded = await this.reader.loadOAuth2(connection);
      if (loaded && satisfies(loaded, need, this.platform.clock)) return loaded;
      if (Date.now() > deadline) {
        throw new SyncBridgeError('transient', `Another instance has been refreshing the token of connection ${connectionId} for over ${leaseWaitMs} ms.`);
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
    const deadline = Date.now() + this.settings.leaseWaitMs;
    // Read again under the lease, past any cache: the previous holder (maybe another instance) may
    // have rotated the refresh token already, and spending the old one would look like token theft.
    let secret = await this.reader.readSecret(connection, { fresh: true });
    for (;;) {
      const loaded = this.reader.oauth2From(secret, connection.id);
      if (satisfies(loaded, need, this.platform.clock)) return loaded;
      const { credentials } = loaded;
      if (grantOf(credentials, connection) === 'authorization_code' && !credentials.refreshToken) {
        // Nothing renews a user's token without a refresh token: the client-credentials grant would
        // hand back an app-only token, another identity. Use it while it lasts; once the provider
        // refused it or it expired, a person has to connect again.
        if (need.staleAccessToken === undefined && !hasExpired(loaded, this.platform.clock)) return loaded;
        const reason = 'its access token expired and the provider issued no refresh token';
        await parkForReauthorization(this.platform, connection.id, reason);
        throw needsReauthorization(connection.id, reason);
      }
      const kept = await this.leases.takeSpend(connection.id, secret.version);
      if (!kept) {
        // A refresh whose refresh lease ran out is still spending this version's refresh token:
        // its result (or its invalid_grant park) is coming; spending the token again would revoke
        // the whole token family at providers that detect reuse.
        if (Date.now() > deadline) {
          throw new SyncBridgeError('transient', `A refresh of connection ${connection.id} that lost its lease has not stored its result for over ${this.settings.leaseWaitMs} ms; nothing was spent, the refresh is tried again.`);
        }
        await sleep(50);
        await connectionUnlessParked(this.platform, connection.id);
        secret = await this.reader.readSecret(connection, { fresh: true });
        continue;
      }
      try {
        // Read again now that we hold it: the holder before us may have stored its result and let
        // go between our read and our acquire (or parked the connection).
        const now = await this.reader.readSecret(connection, { fresh: true });
        if (now.version !== secret.version) {
          secret = now;
          continue;
        }
        await connectionUnlessParked(this.platform, connection.id);
        return await this.spender.spend(connection, loaded, secret.version, { held, kept }, need);
      } finally {
        await kept.release();
      }
    }
  }
}
