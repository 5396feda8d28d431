export type IdempotencyClaim =
  | { claimed: true }
  /** Someone claimed the key before; `result` is what they stored with `complete`, if they did. */
  | { claimed: false; result?: unknown };

/**
 * Keys that make repeated deliveries harmless (webhook delivery ids, outbound push keys).
 *
 * Semantics (tests/conformance/idempotencyStore.conformance.ts):
 * - The first `claim` of a key within its TTL wins; later claims see `claimed: false`.
 * - `claimMany` answers as that many `claim` calls in order would.
 * - `complete` stores a JSON-serialisable result for later claimers; with `ttlMs` the key then
 *   lives that long from now (a short claim while work is in flight, the full window once done).
 * - `release` forgets a claim (after a failure, so that a retry can claim again).
 * - An expired key can be claimed again.
 */
export interface IdempotencyStore {
  claim(key: string, ttlMs: number): Promise<IdempotencyClaim>;
  /**
   * `claim` for many keys in one call (webhook intake claims a whole group commit at once): one
   * answer per key, in order, as if claimed one after another, so a key listed twice is won by its
   * first mention only.
   */
  claimMany(keys: readonly string[], ttlMs: number): Promise<IdempotencyClaim[]>;
  complete(key: string, result: unknown, options?: { ttlMs?: number }): Promise<void>;
  release(key: string): Promise<void>;
}
