import { hash } from 'node:crypto';

function isSorted(keys: string[]): boolean {
  for (let i = 1; i < keys.length; i += 1) if (keys[i - 1] > keys[i]) return false;
  return true;
}

/**
 * A copy of `value` whose objects have their keys inserted in sorted order (undefined members
 * dropped, undefined array items as null, as JSON does). Objects that are already sorted and
 * hold no objects needing a change are returned as they are, which saves most allocations.
 */
function sortKeysDeep(value: unknown): unknown {
  if (value === null || typeof value !== 'object') return value;
  if (Array.isArray(value)) {
    let copy: unknown[] | undefined;
    for (let i = 0; i < value.length; i += 1) {
      const item = value[i];
      const sorted = item === undefined ? null : sortKeysDeep(item);
      if (sorted !== item && !copy) copy = value.slice(0, i);
      if (copy) copy.push(sorted);
    }
    return copy ?? value;
  }
  const obj = value as Record<string, unknown>;
  const keys = Object.keys(obj);
  let changed = !isSorted(keys);
  if (changed) keys.sort();
  const out: Record<string, unknown> = {};
  for (const key of keys) {
    const member = obj[key];
    if (member === undefined) {
      changed = true;
      continue;
    }
    const sorted = sortKeysDeep(member);
    if (sorted !== member) changed = true;
    out[key] = sorted;
  }
  return changed ? out : value;
}

/**
 * JSON with object keys in sorted order at every level, so that two records with the same content
 * serialise (and hash) the same whatever order a provider sent their fields in. The keys are
 * inserted sorted and serialised by the engine's JSON.stringify (about twice as fast as a
 * hand-written serialiser); property order then follows the language's own rule — integer-like
 * keys first in numeric order, then the others in sorted order — which is just as deterministic.
 */
export function canonicalJson(value: unknown): string {
  return JSON.stringify(sortKeysDeep(value)) ?? 'null';
}

/** Content hash of a record's canonical data: SHA-256, hex. */
export function contentHash(data: unknown): string {
  return hash('sha256', canonicalJson(data), 'hex');
}
