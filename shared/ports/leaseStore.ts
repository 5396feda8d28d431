export interface Lease {
  name: string;
  owner: string;
  /** Opaque token that proves this holder; renew and release need it. */
  token: string;
  expiresAt: string;
}

/**
 * Named, expiring, exclusive leases (single-flight token refresh, singleton timers).
 *
 * Semantics (tests/conformance/leaseStore.conformance.ts):
 * - `acquire` returns a lease when nobody holds an unexpired one, else undefined.
 * - `renew` extends a lease still held by that token and not yet expired, and returns it; else
 *   undefined (an expired lease cannot be renewed, even when nobody has taken it since).
 * - `release` frees the lease if the token still holds it; releasing twice is harmless.
 */
export interface LeaseStore {
  acquire(name: string, owner: string, ttlMs: number): Promise<Lease | undefined>;
  renew(lease: Lease, ttlMs: number): Promise<Lease | undefined>;
  release(lease: Lease): Promise<void>;
}
