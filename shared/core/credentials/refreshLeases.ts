import { hostname } from 'node:os';
import type { Platform } from '../../ports/platform';
import type { CredentialSettings } from './credentialServiceOptions';
import { KeptLease } from './keptLease';
import { randomUrlSafe } from './pkce';

/**
 * The two leases that decide who may spend a connection's refresh token, taken in this
 * instance's name and kept renewed in the background (KeptLease) until released:
 * `token-refresh:<connectionId>`, the lease of the one refresh path (and of replaceAuthorization),
 * and `token-spend:<connectionId>:<version>`, held while the refresh token of that credential
 * version is spent and its result stored.
 */
export class RefreshLeases {
  private readonly owner = `${hostname()}:${process.pid}:${randomUrlSafe(6)}`;

  constructor(
    private readonly platform: Platform,
    private readonly settings: Pick<CredentialSettings, 'leaseTtlMs' | 'spendLeaseTtlMs'>,
  ) {}

  /** The connection's refresh lease, kept; undefined while another holder has it. */
  async takeRefresh(connectionId: string): Promise<KeptLease | undefined> {
    return this.take(`token-refresh:${connectionId}`, this.settings.leaseTtlMs);
  }

  /** The spend lease of one credential version, kept; undefined while another holder has it. */
  async takeSpend(connectionId: string, version: string): Promise<KeptLease | undefined> {
    return this.take(`token-spend:${connectionId}:${version}`, this.settings.spendLeaseTtlMs);
  }

  private async take(name: string, ttlMs: number): Promise<KeptLease | undefined> {
    const lease = await this.platform.leases.acquire(name, this.owner, ttlMs);
    return lease ? new KeptLease(this.platform.leases, lease, ttlMs, this.platform.clock) : undefined;
  }
}
