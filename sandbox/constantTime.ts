import { createHash, timingSafeEqual } from 'node:crypto';

/** Compares secrets in constant time over digests, so neither content nor length leaks through timing. */
export function constantTimeEquals(presented: string, expected: string): boolean {
  const a = createHash('sha256').update(presented).digest();
  const b = createHash('sha256').update(expected).digest();
  return timingSafeEqual(a, b);
}
