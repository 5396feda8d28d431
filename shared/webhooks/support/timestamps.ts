/** The tolerance every timestamped scheme uses unless its options say otherwise (Slack, Stripe, Standard Webhooks all document 5 minutes). */
export const DEFAULT_TOLERANCE_SECONDS = 300;

const UNIX_SECONDS = /^[0-9]{1,12}$/;

/** Parses a header that must hold whole unix seconds; undefined when it holds anything else. */
export function parseUnixSeconds(text: string): number | undefined {
  return UNIX_SECONDS.test(text) ? Number(text) : undefined;
}

/**
 * Returns a sentence explaining why `timestamp` is outside `toleranceSeconds` of `now` (in the past
 * or in the future), or undefined when it is inside. Future timestamps are rejected too: a sender
 * whose clock runs ahead would otherwise widen the replay window.
 */
export function toleranceViolation(headerName: string, timestamp: number, now: number, toleranceSeconds: number): string | undefined {
  const ageSeconds = Math.round(now - timestamp);
  if (ageSeconds > toleranceSeconds) {
    return `The ${headerName} header is ${ageSeconds} seconds in the past, outside the ${toleranceSeconds}-second tolerance.`;
  }
  if (-ageSeconds > toleranceSeconds) {
    return `The ${headerName} header is ${-ageSeconds} seconds in the future, outside the ${toleranceSeconds}-second tolerance.`;
  }
  return undefined;
}
