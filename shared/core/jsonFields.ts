/**
 * Reading and writing a JSON object's members by a name that came from data: a provider's field
 * may be called `constructor` or `__proto__`. A plain read of an absent `constructor` finds
 * Object.prototype's; a plain write of `__proto__` sets the object's prototype instead of a member.
 */

/** The object's own member `field`, or undefined (never an inherited one). */
export function ownField<T>(obj: Readonly<Record<string, T>> | null | undefined, field: string): T | undefined {
  return obj && Object.hasOwn(obj, field) ? obj[field] : undefined;
}

/** Sets the member `field`, also one named `__proto__`. */
export function setField<T>(obj: Record<string, T>, field: string, value: T): void {
  Object.defineProperty(obj, field, { value, enumerable: true, writable: true, configurable: true });
}
