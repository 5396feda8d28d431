/**
 * Insertion-order keys for documents listed "oldest first" (outbox entries, conflicts): the time of
 * insertion plus a counter that breaks ties within one process. Across instances, order follows
 * the clock; entries inserted in the same millisecond by two instances may interleave either way.
 */
let counter = 0;

export function nextOrderKey(now: Date = new Date()): string {
  counter = (counter + 1) % 1_000_000_000;
  return `${now.toISOString()}|${String(counter).padStart(9, '0')}`;
}
