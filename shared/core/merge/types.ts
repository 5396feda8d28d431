import type { FieldClock, FieldClocks, IsoTime, JsonObject } from '../model';

export type { FieldClock, FieldClocks };

/**
 * The two sides of a two-way sync. `local` is SyncBridge's copy (what the admin API edits); `remote`
 * is the provider's. In policy names the provider is the *source* and SyncBridge the *target*, as
 * in a pull: source-wins = remote wins, target-wins = local wins.
 */
export type MergeSide = 'local' | 'remote';

/** How a field changed on both sides since the base is settled. */
export type ConflictPolicy =
  | { kind: 'source-wins' }
  | { kind: 'target-wins' }
  /** The side whose clock for the field is later wins; on a tie the source (remote) wins. */
  | { kind: 'latest-timestamp' }
  /** The named side owns the field: its value wins whenever both changed it. */
  | { kind: 'authority'; owner: MergeSide }
  /** Nobody decides automatically: the field becomes an open conflict for a person. */
  | { kind: 'manual' }
  /** A function registered in code under `name` (see CustomMergeRules). */
  | { kind: 'custom'; name: string };

/** A connection's policy for one entity: a default, overridable per field. */
export interface EntityMergePolicy {
  default: ConflictPolicy;
  fields?: Record<string, ConflictPolicy>;
}

/** One side's view of the record. */
export interface MergeSideInput {
  data: JsonObject;
  clock?: FieldClocks;
  /** Fallback timestamp for fields without a clock entry (e.g. the provider's updated_at). */
  updatedAt?: IsoTime | null;
  /** The system this side is, for fallback clocks (e.g. 'syncbridge', 'sandbox'). Default: the side's name. */
  origin?: string;
}

/** What a custom rule sees for one field changed on both sides. `undefined` means "field absent". */
export interface CustomRuleContext {
  entity: string;
  field: string;
  base: unknown;
  local: unknown;
  remote: unknown;
  localClock?: FieldClock;
  remoteClock?: FieldClock;
}

/** A custom rule picks a side, supplies a value (undefined removes the field), or defers to a person. */
export type CustomDecision = 'local' | 'remote' | 'manual' | { value: unknown };
export type CustomMergeRule = (context: CustomRuleContext) => CustomDecision;

export interface MergeInput {
  entity: string;
  /** The last version both sides agreed on; null when there is none (treated as an empty record). */
  base: JsonObject | null;
  local: MergeSideInput;
  remote: MergeSideInput;
  policy: EntityMergePolicy;
}

/** How one field changed on both sides was settled. */
export interface FieldResolution {
  field: string;
  policy: ConflictPolicy['kind'];
  /** 'custom' when a custom rule supplied its own value. */
  winner: MergeSide | 'custom';
}

export interface MergeResult {
  /**
   * The merged data. Fields left to a person (`manualFields`) hold the local value here, so that a
   * parked record keeps showing what the user wrote until the conflict is resolved.
   */
  merged: JsonObject;
  /** Field clocks of the merged record. */
  clock: FieldClocks;
  /** Fields changed only locally / only remotely since the base (merged silently). */
  localOnly: string[];
  remoteOnly: string[];
  /** Fields changed on both sides and settled by policy. */
  resolved: FieldResolution[];
  /** Fields changed on both sides that wait for a person. Empty: the merge is complete. */
  manualFields: string[];
  /** The merged data differs from the remote: it has to be pushed. */
  pushNeeded: boolean;
  /** The merged data differs from the local copy: the local record has to be updated. */
  localChanged: boolean;
}
