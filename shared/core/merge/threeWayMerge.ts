import { SyncBridgeError } from '../errors';
import { canonicalJson } from '../hash';
import { ownField as own, setField as put } from '../jsonFields';
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
  const entry = own(side.clock, field);
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
  input = { ...input, local: { ...input.local, origin: input.local.origin ?? 'local' }, remote: { ...input.remote, origin: input.remote.origin ?? 'remote' } };
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
    const value = own(side === 'local' ? local : remote, field);
    if (value !== undefined) put(merged, field, value);
    const fieldClock = clockOf(side === 'local' ? input.local : input.remote, field);
    if (fieldClock) put(clock, field, fieldClock);
  };

  for (const field of [...fields].sort()) {
    const baseValue = own(base, field);
    const localChanged = !same(own(local, field), baseValue);
    const remoteChanged = !same(own(remote, field), baseValue);

    if (!localChanged && !remoteChanged) {
      take(field, 'local');
    } else if (localChanged && !remoteChanged) {
      result.localOnly.push(field);
      take(field, 'local');
    } else if (!localChanged && remoteChanged) {
      result.remoteOnly.push(field);
      take(field, 'remote');
    } else if (same(own(local, field), own(remote, field))) {
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
        if (resolution.value !== undefined) put(merged, field, resolution.value);
        const later = clockOf(input[latestSide(input, field)], field);
        if (later) put(clock, field, later);
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
        base: own(input.base, field),
        local: own(input.local.data, field),
        remote: own(input.remote.data, field),
        localClock: clockOf(input.local, field),
        remoteClock: clockOf(input.remote, field),
      });
      if (decision === 'manual') return 'manual';
      if (decision === 'local' || decision === 'remote') return { side: decision };
      if (isValueDecision(decision)) return { value: decision.value };
      // Rules are registered from JavaScript, unchecked by the compiler: an answer read as
      // `{ value: undefined }` would silently remove the field.
      throw new SyncBridgeError(
        'configuration',
        `Custom merge rule "${policy.name}" answered ${answerText(decision)} for field "${field}" of ${input.entity}; a rule must answer 'local', 'remote', 'manual' or { value }.`,
      );
    }
  }
}

function isValueDecision(decision: unknown): decision is { value: unknown } {
  return typeof decision === 'object' && decision !== null && !Array.isArray(decision) && Object.hasOwn(decision, 'value');
}

/** A rule's unexpected answer, short enough for an error message. */
function answerText(answer: unknown): string {
  if (answer === undefined) return 'undefined';
  if (typeof answer === 'function') return 'a function';
  let text: string;
  try {
    text = JSON.stringify(answer) ?? String(answer);
  } catch {
    text = String(answer);
  }
  return text.length > 80 ? `${text.slice(0, 80)}…` : text;
}

/** Fields whose values differ between any of base, local and remote (for showing a conflict). */
export function differingFields(base: JsonObject | null, local: JsonObject, remote: JsonObject): string[] {
  const b = base ?? {};
  const fields = new Set([...Object.keys(b), ...Object.keys(local), ...Object.keys(remote)]);
  return [...fields]
    .filter((f) => !same(own(b, f), own(local, f)) || !same(own(b, f), own(remote, f)) || !same(own(local, f), own(remote, f)))
    .sort();
}
