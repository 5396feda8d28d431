import { createHash, timingSafeEqual } from 'node:crypto';

/**
 * Compares two byte strings in time that depends only on their lengths. A length mismatch still
 * runs one comparison (of `a` against itself) so that the reject path costs about as much as the
 * compare path; the lengths themselves are public (a signature's size is fixed by its algorithm).
 */
export function constantTimeEqual(a: Buffer, b: Buffer): boolean {
  if (a.length !== b.length) {
    timingSafeEqual(a, a);
    return false;
  }
  return timingSafeEqual(a, b);
}

/**
 * Compares secrets of any length (tokens, passwords) without leaking how long the expected one is:
 * both sides are hashed to 32 bytes first, then compared in constant time.
 */
export function constantTimeEqualSecret(provided: Buffer | string, expected: Buffer | string): boolean {
  const left = createHash('sha256').update(provided).digest();
  const right = createHash('sha256').update(expected).digest();
  return timingSafeEqual(left, right);
}

/**
 * Checks every (expected, provided) pair without stopping at the first match, so the time taken
 * does not reveal which rotated secret or which of several signatures matched. Returns the index
 * of the first expected value that matched, or -1.
 */
export function indexOfMatch(expected: readonly Buffer[], provided: readonly Buffer[]): number {
  let found = -1;
  for (let i = 0; i < expected.length; i += 1) {
    let matched = false;
    for (const candidate of provided) {
      // Evaluate the comparison first so that `||` cannot short-circuit it away.
      const equal = constantTimeEqual(expected[i], candidate);
      matched = equal || matched;
    }
    if (matched && found === -1) found = i;
  }
  return found;
}
