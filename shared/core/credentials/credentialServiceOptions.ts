import { SyncBridgeError } from '../errors';
import { DEFAULT_CLIENT_SECRET_GRACE_MS } from './clientSecretGrace';
import type { OAuthClient } from './oauthClient';

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

/** The numeric options with their defaults in place, checked. */
export type CredentialSettings = Required<Omit<CredentialServiceOptions, 'oauthClient'>>;

/** Fills in the defaults and fails `configuration`, naming the option, on a value that cannot work. */
export function settleCredentialOptions(options: CredentialServiceOptions): CredentialSettings {
  const leaseTtlMs = options.leaseTtlMs ?? 30_000;
  const settings: CredentialSettings = {
    refreshMarginMs: options.refreshMarginMs ?? 60_000,
    leaseTtlMs,
    leaseWaitMs: options.leaseWaitMs ?? 15_000,
    spendLeaseTtlMs: options.spendLeaseTtlMs ?? 4 * leaseTtlMs,
    storeAttempts: Math.max(1, Math.floor(options.storeAttempts ?? 5)),
    storeRetryDelayMs: options.storeRetryDelayMs ?? 500,
    credentialVersionsKept: options.credentialVersionsKept ?? 5,
    clientSecretGraceMs: options.clientSecretGraceMs ?? DEFAULT_CLIENT_SECRET_GRACE_MS,
  };
  if (!Number.isInteger(settings.credentialVersionsKept) || settings.credentialVersionsKept < 1) throw new SyncBridgeError('configuration', `credentialVersionsKept must be an integer of at least 1, got ${settings.credentialVersionsKept}.`);
  const { refreshMarginMs, leaseWaitMs, spendLeaseTtlMs, storeRetryDelayMs, clientSecretGraceMs } = settings;
  for (const [name, value] of Object.entries({ refreshMarginMs, leaseTtlMs, leaseWaitMs, spendLeaseTtlMs, storeRetryDelayMs, clientSecretGraceMs })) {
    if (!(value >= 0) || !Number.isFinite(value)) throw new SyncBridgeError('configuration', `${name} must be a non-negative number of milliseconds, got ${value}.`);
  }
  return settings;
}
