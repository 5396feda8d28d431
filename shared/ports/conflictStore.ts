import type { IsoTime, JsonObject } from '../core/model';

/**
 * data_mismatch: a field changed on both sides that the policy leaves to a person (or a change to a
 * record the provider deleted); duplicate_key: the provider refused a value another record holds;
 * validation_error: the provider refused the fields (422); auth_error: the provider refused our
 * credentials; retry_exhausted: the push failed in a way no data fix settles and is a dead letter,
 * replayed once the cause is gone — mostly a provider that kept failing until the retries ran out;
 * its `reasonCode` says what it was.
 *
 * The five kinds are fixed by the product spec; what they cannot tell apart, `reasonCode` does.
 */
export type ConflictKind = 'data_mismatch' | 'duplicate_key' | 'validation_error' | 'auth_error' | 'retry_exhausted';
export const CONFLICT_KINDS: readonly ConflictKind[] = ['data_mismatch', 'duplicate_key', 'validation_error', 'auth_error', 'retry_exhausted'];

/**
 * What killed a dead letter (a conflict of kind auth_error or retry_exhausted), for a program to
 * branch on and a person to know whom to call:
 * - `provider_auth`: the provider refused our credentials (kind auth_error);
 * - `retries_exhausted`: failures that may pass — the provider's 5xx, 429 or network errors, a
 *   transient fault of our own store — kept failing until the retries ran out;
 * - `configuration`: SyncBridge cannot make this push as set up (a read-only provider, a
 *   credential missing from the secret store, a store refusing our identity); not retried;
 * - `internal_error`: a fault in SyncBridge itself, not the provider's: an exception no layer
 *   classified (a bug, or a store fault the store did not name) once the retries ran out, or at
 *   once a contract breach SyncBridge declared (`internal`).
 */
export type DeadLetterReason = 'provider_auth' | 'retries_exhausted' | 'configuration' | 'internal_error';
export const DEAD_LETTER_REASONS: readonly DeadLetterReason[] = ['provider_auth', 'retries_exhausted', 'configuration', 'internal_error'];

export type ConflictState = 'open' | 'resolved';
/** A person's decision (`local`, `remote`, `custom`), a dead letter's replay, or `settled`: a pull or webhook merge left nothing to decide (settledPushes.ts). */
export type ConflictResolution = 'local' | 'remote' | 'custom' | 'replayed' | 'settled';

/**
 * A resolution in progress: who holds the conflict and until when. One resolver at a time decides
 * a conflict (ConflictResolver claims it before it writes the record); a claim past `until` is one
 * whose resolver died, and may be taken over.
 */
export interface ConflictClaim {
  /** The claimant's token (one per resolve request). */
  by: string;
  until: IsoTime;
}

export interface Conflict {
  /** Deterministic from the outbox entry (see conflictIdFor): one conflict per parked push. */
  id: string;
  tenantId: string;
  connectionId: string;
  entity: string;
  externalId: string;
  outboxId: string;
  kind: ConflictKind;
  state: ConflictState;
  /** Why, in a sentence (never a credential). */
  reason: string;
  /** Dead letters only (auth_error, retry_exhausted): what failed, as a code. Absent on parked conflicts. */
  reasonCode?: DeadLetterReason | null;
  /** The three versions side by side; null where a side has none (a create has no base). */
  base: JsonObject | null;
  local: JsonObject | null;
  remote: JsonObject | null;
  /** The fields where base, local and remote do not all agree (the manual ones for data_mismatch). */
  fields: string[];
  createdAt: IsoTime;
  updatedAt: IsoTime;
  resolution?: ConflictResolution | null;
  resolvedAt?: IsoTime | null;
  /** Set while a resolution is in progress (ConflictStore.claim); gone once resolved or released. */
  claim?: ConflictClaim | null;
}

export interface ConflictListQuery {
  tenantId: string;
  state?: ConflictState;
  connectionId?: string;
  /** Page size; implementations cap it at 500. */
  limit: number;
  /** Opaque cursor from a previous page. */
  cursor?: string;
}

export interface ConflictStats {
  connectionId: string;
  kind: ConflictKind;
  open: number;
  resolved: number;
}

/**
 * Conflicts of two-way sync, parked for a person or a replay.
 *
 * Semantics (tests/conformance/conflictStore.conformance.ts):
 * - `open` is idempotent by id: a second call returns the stored conflict unchanged (a redelivered
 *   push parks once).
 * - `get`, `list` and `stats` are scoped by tenant; another tenant's conflict is never returned.
 * - `list` is oldest first, keyset-paged (stable under inserts).
 * - `resolve` moves an open conflict to resolved (and drops its claim); resolving one that is not
 *   open fails with `conflict`, an unknown id with `not_found`. With `claimedBy`, it also fails with
 *   `conflict` when someone else holds a live claim (their `until` after `at`); without it, any live
 *   claim refuses.
 * - `claim` is a compare-and-set: it stores `claim` on an open conflict that has no claim, an
 *   expired one (`until` at or before `at`), or one by the same claimant, and returns the conflict
 *   as stored; a live claim by another, or a conflict not open, fails with `conflict`; of two
 *   claims racing, one wins. An unknown id fails with `not_found`.
 * - `release` drops the claim if it is `by`'s, and does nothing otherwise (someone else's claim, a
 *   resolved or unknown conflict): a resolver that failed lets the next one in at once.
 * - A conflict that was never claimed reads back without `claim`.
 */
export interface ConflictStore {
  open(conflict: Conflict): Promise<Conflict>;
  get(tenantId: string, id: string): Promise<Conflict | undefined>;
  list(query: ConflictListQuery): Promise<{ conflicts: Conflict[]; nextCursor: string | null }>;
  resolve(tenantId: string, id: string, resolution: ConflictResolution, at: IsoTime, options?: { claimedBy?: string }): Promise<Conflict>;
  claim(tenantId: string, id: string, claim: ConflictClaim, at: IsoTime): Promise<Conflict>;
  release(tenantId: string, id: string, by: string): Promise<void>;
  stats(tenantId: string): Promise<ConflictStats[]>;
}
