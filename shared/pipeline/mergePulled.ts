import type { ProviderRecord } from '../adapters/adapter';
import { canonicalJson, contentHash } from '../core/hash';
import { setField } from '../core/jsonFields';
import { CustomMergeRules, threeWayMerge, type EntityMergePolicy } from '../core/merge';
import type { IsoTime, JsonObject, SyncRecord } from '../core/model';
import { LOCAL_ORIGIN } from '../core/outbound/localChanges';
import type { RecordWrite } from '../ports/recordStore';

/** Without a policy every field changed on both sides waits for a person: nothing is lost silently. */
const MANUAL: EntityMergePolicy = { default: { kind: 'manual' } };

export interface PulledMergeOptions {
  policy?: EntityMergePolicy;
  customRules?: CustomMergeRules;
  stepId: string;
  now: IsoTime;
  /** The provider's name: the origin of the field clocks its values set (as a push's merge names it). Default `remote`. */
  remoteOrigin?: string;
}

export type PulledMergeOutcome = {
  write: RecordWrite | null;
  counter: 'updated' | 'unchanged';
  /** Fields the merge left to a person (none when it settled every field, or wrote nothing). */
  manualFields?: string[];
};

/**
 * A pulled record whose local copy holds an unpushed change: merge instead of overwrite.
 *
 * - The remote equals the base: nothing changed there (or a pull re-read it); keep the local change.
 * - The remote equals the local data: the provider already has our change (an echo of our own
 *   push read back before the worker settled it): the record is agreed, the push is no longer pending.
 * - Otherwise a three-way merge. Settled completely: local data = merged, base = the remote (the
 *   pending push then sends exactly the local side's fields). Fields left to a person: the merged
 *   data is kept, and the base moves to the remote in every other field (manualBase), so the
 *   outbound worker meets exactly those fields' conflict and parks it. A base left behind would
 *   make the provider's own values, taken in here, look like local edits to every later merge.
 * - A remote tombstone is left to the outbound worker, which parks the change (it cannot push).
 * - So is a pending local delete: the worker compares the provider's copy with the base and parks
 *   a data_mismatch if the provider changed it. Merging here would clear the pending delete (or
 *   move its base to the provider's edit), and the delete would never reach the provider.
 */
export function mergePulled(local: SyncRecord, pulled: ProviderRecord, options: PulledMergeOptions): PulledMergeOutcome {
  if (pulled.deleted || local.deleted) return { write: null, counter: 'unchanged' };
  const remoteJson = canonicalJson(pulled.data);
  const base = local.base ?? null;
  if (base && remoteJson === canonicalJson(base)) return { write: null, counter: 'unchanged' };
  const stamp = { lastModifiedAt: options.now, lastStepId: options.stepId, version: local.version + 1, lastAction: 'updated' as const };
  if (remoteJson === canonicalJson(local.data)) {
    return { write: { ...local, ...stamp, sourceUpdatedAt: pulled.updatedAt, base: null, pendingPush: null }, counter: 'unchanged' };
  }
  const merge = threeWayMerge(
    {
      entity: local.entity,
      base,
      local: { data: local.data, clock: local.fieldClock ?? undefined, updatedAt: local.lastModifiedAt, origin: LOCAL_ORIGIN },
      remote: { data: pulled.data, updatedAt: pulled.updatedAt, origin: options.remoteOrigin },
      policy: options.policy ?? MANUAL,
    },
    options.customRules,
  );
  const data = merge.merged;
  const record: SyncRecord = { ...local, ...stamp, data, hash: contentHash(data), rawHash: null, fieldClock: merge.clock };
  if (merge.manualFields.length > 0) {
    return { write: { ...record, sourceUpdatedAt: pulled.updatedAt, base: manualBase(base, pulled.data, merge.manualFields) }, counter: 'updated', manualFields: merge.manualFields };
  }
  if (!merge.pushNeeded) return { write: { ...record, sourceUpdatedAt: pulled.updatedAt, base: null, pendingPush: null }, counter: 'updated' };
  return { write: { ...record, sourceUpdatedAt: pulled.updatedAt, base: pulled.data }, counter: 'updated' };
}

/**
 * The base of a record whose merge left `manualFields` to a person: the remote's values, except
 * that those fields keep the old base's (or stay absent, as there), so that they alone still
 * differ from the base on both sides.
 */
function manualBase(base: JsonObject | null, remote: JsonObject, manualFields: readonly string[]): JsonObject {
  const next: JsonObject = { ...remote };
  for (const field of manualFields) {
    if (base && Object.hasOwn(base, field)) setField(next, field, base[field]);
    else delete next[field];
  }
  return next;
}
