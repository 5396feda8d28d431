import { ensureError, isSyncBridgeError } from '../errors';
import type { WebhookInboundMessage } from '../runs/inboundMessage';
import { backoffDelayMs, type RetryPolicy } from '../runs/retryPolicy';

/** What a delivery does after the provider call it needed (an id-only fetch) failed. */
export type FetchFailurePlan =
  /** Try again later: `message` is the retry, to be sent scheduled for `at`; the delivery waits. */
  | { kind: 'retry'; message: WebhookInboundMessage; at: Date; detail: string }
  /** Final: a failure a retry cannot fix (auth, a refusal), or the retries are used up. */
  | { kind: 'failed'; reason: string }
  /** Not a provider failure (our bug, a store error): the caller's own error path decides. */
  | { kind: 'internal' };

/**
 * The webhook twin of the step runner's onProviderError, with the same retry policy: a 429 waits
 * for the provider's Retry-After (else backoff), up to `maxRateLimitWaits` times; a transient
 * failure (5xx, network, timeout) is retried with exponential backoff and jitter until
 * `maxAttempts` tries. A retry is a scheduled message, never an immediate redelivery, which would
 * call the provider again at once, ten times, and dead-letter the delivery.
 */
export function planFetchFailure(error: unknown, message: WebhookInboundMessage, policy: RetryPolicy, now: Date, random: () => number): FetchFailurePlan {
  if (!isSyncBridgeError(error)) return { kind: 'internal' };
  const reason = ensureError(error).message;
  const { retryAt } = error;
  if (isSyncBridgeError(error, 'rate_limited')) {
    const waits = (message.waits ?? 0) + 1;
    if (waits > policy.maxRateLimitWaits) return { kind: 'failed', reason: `Gave up after ${policy.maxRateLimitWaits} rate-limit waits: ${reason}` };
    const at = error.retryAt && error.retryAt > now ? error.retryAt : new Date(now.getTime() + backoffDelayMs(policy, waits, random));
    return { kind: 'retry', message: { ...message, waits }, at, detail: `Rate-limited by the provider; waiting to retry at ${at.toISOString()} (wait ${waits} of at most ${policy.maxRateLimitWaits}): ${reason}` };
  }
  if (isSyncBridgeError(error, 'transient')) {
    const attempt = (message.attempt ?? 0) + 1;
    if (attempt >= policy.maxAttempts) return { kind: 'failed', reason: `Gave up after ${attempt} attempts: ${reason}` };
    // A 5xx with Retry-After (maintenance) carries retryAt: wait for it when it is later than the backoff.
    const backoff = now.getTime() + backoffDelayMs(policy, attempt, random);
    const at = new Date(retryAt && retryAt.getTime() > backoff ? retryAt.getTime() : backoff);
    return { kind: 'retry', message: { ...message, attempt }, at, detail: `Waiting to retry at ${at.toISOString()} (attempt ${attempt + 1} of ${policy.maxAttempts}): ${reason}` };
  }
  return { kind: 'failed', reason };
}
