import { canonicalJson } from '../hash';
import type { JsonObject } from '../model';
import { CustomMergeRules, policyFor } from './policy';
import type {
  ConflictPolicy,
  CustomDecision,
  FieldClock,
  FieldClocks,
  MergeInput,
  MergeResult,
  MergeSide,
  MergeSideInput,
} from './types';

const EMPTY_RULES = new CustomMergeRules();

/** Deep equality of two field values; `undefined` stands for an absent field. */
function same(a: unknown, b: unknown): boolean {
  if (a === b) return true;
  if (a === undefined || b === undefined) return false;
  return canonicalJson(a) === canonicalJson(b);
}

function clockOf(side: MergeSideInput, field: string): FieldClock | undefined {
  const entry = side.clock?.[field];
  if (entry) return entry;
  return side.updatedAt ? { timestamp: side.updatedAt, origin: side.origin ?? '' } : undefined;
}

/**
 * Three-way, field-level merge of `local` and `remote` against their common `base`.
 *
 * A field changed on one side only takes that side's value. A field changed on both sides to the
 * same value is no conflict (both converged). A field changed on both sides to different values
 * is settled by the policy for that field; `manual` (or a custom rule that defers) leaves it for a
 * person and keeps the local value in `merged`. Absent fields count as values, so a field removed
 * on one side and untouched on the other is removed in the result.
 *
 * Pure: no I/O, no clock reads; the same input always gives the same result.
 */
export function threeWayMerge(input: MergeInput, rules: CustomMergeRules = EMPTY_RULES): MergeResult {
  input = { ...input, local: { origin: 'local', ...input.local }, remote: { origin: 'remote', ...input.remote } };
  const base = input.base ?? {};
  const local = input.local.data;
  const remote = input.remote.data;
  const fields = new Set([...Object.keys(base), ...Object.keys(local), ...Object.keys(remote)]);

  const merged: JsonObject = {};
  const clock: FieldClocks = {};
  const result: MergeResult = {
    merged,
    clock,
    localOnly: [],
    remoteOnly: [],
    resolved: [],
    manualFields: [],
    pushNeeded: false,
    localChanged: false,
  };

  const take = (field: string, side: MergeSide): void => {
    const value = side === 'local' ? local[field] : remote[field];
    if (value !== undefined) merged[field] = value;
    const fieldClock = clockOf(side === 'local' ? input.local : input.remote, field);
    if (fieldClock) clock[field] = fieldClock;
  };

  for (const field of [...fields].sort()) {
    const baseValue = base[field];
    const localChanged = !same(local[field], baseValue);
    const remoteChanged = !same(remote[field], baseValue);

    if (!localChanged && !remoteChanged) {
      take(field, 'local');
    } else if (localChanged && !remoteChanged) {
      result.localOnly.push(field);
      take(field, 'local');
    } else if (!localChanged && remoteChanged) {
      result.remoteOnly.push(field);
      take(field, 'remote');
    } else if (same(local[field], remote[field])) {
      // Both sides made the same change: they agree, nothing to settle.
      take(field, latestSide(input, field));
    } else {
      const policy = policyFor(input.policy, field);
      const resolution = settle(input, field, policy, rules);
      if (resolution === 'manual') {
        result.manualFields.push(field);
        take(field, 'local');
      } else if ('value' in resolution) {
        result.resolved.push({ field, policy: policy.kind, winner: 'custom' });
        if (resolution.value !== undefined) merged[field] = resolution.value;
        const later = clockOf(input[latestSide(input, field)], field);
        if (later) clock[field] = later;
      } else {
        result.resolved.push({ field, policy: policy.kind, winner: resolution.side });
        take(field, resolution.side);
      }
    }
  }

  result.pushNeeded = canonicalJson(merged) !== canonicalJson(remote);
  result.localChanged = canonicalJson(merged) !== canonicalJson(local);
  return result;
}

/** The side whose clock for the field is later; remote on a tie or when neither has one. */
function latestSide(input: MergeInput, field: string): MergeSide {
  const l = clockOf(input.local, field)?.timestamp;
  const r = clockOf(input.remote, field)?.timestamp;
  if (l && (!r || Date.parse(l) > Date.parse(r))) return 'local';
  return 'remote';
}

type Settlement = 'manual' | { side: MergeSide } | { value: unknown };

function settle(input: MergeInput, field: string, policy: ConflictPolicy, rules: CustomMergeRules): Settlement {
  switch (policy.kind) {
    case 'source-wins':
      return { side: 'remote' };
    case 'target-wins':
      return { side: 'local' };
    case 'latest-timestamp':
      return { side: latestSide(input, field) };
    case 'authority':
      return { side: policy.owner };
    case 'manual':
      return 'manual';
    case 'custom': {
      const decision: CustomDecision = rules.get(policy.name)({
        entity: input.entity,
        field,
        base: input.base?.[field],
        local: input.local.data[field],
        remote: input.remote.data[field],
        localClock: clockOf(input.local, field),
        remoteClock: clockOf(input.remote, field),
      });
      if (decision === 'manual') return 'manual';
      if (decision === 'local' || decision === 'remote') return { side: decision };
      return { value: decision.value };
    }
  }
}

/** Fields whose values differ between any of base, local and remote (for showing a conflict). */
export function differingFields(base: JsonObject | null, local: JsonObject, remote: JsonObject): string[] {
  const b = base ?? {};
  const fields = new Set([...Object.keys(b), ...Object.keys(local), ...Object.keys(remote)]);
  return [...fields].filter((f) => !same(b[f], local[f]) || !same(b[f], remote[f]) || !same(local[f], remote[f])).sort();
}
