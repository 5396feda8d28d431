import { MAX_DELIVERY_COUNT } from '../../ports/queue';
import { backoffDelayMs, type RetryPolicy } from './retryPolicy';

/**
 * What to do after a failure of our own (a store error, a bug) in one message's work: a run's step
 * (StepRunner) or a webhook delivery (WebhookApplier, whose onInternalFailure is the same rule).
 * A throw would have the broker deliver the message again at once, so its ten deliveries would be
 * spent in milliseconds and a store that is down for a second or two would fail the work. Instead
 * the message completes and a scheduled copy (`attempt` counted, so it has a new id) tries again
 * after the retry policy's backoff. Bounded like the broker bounds a message: MAX_DELIVERY_COUNT
 * tries in all, counting the tries the message's `attempt` already carries (transient and provider
 * retries of the same page or delivery); the last try, or the broker's last delivery, gives up.
 */
export type InternalRetryPlan =
  | { kind: 'retry'; /** The try the retry will be (1 = the first retry). */ attempt: number; at: Date }
  | { kind: 'give_up'; attempt: number };

export interface InternalRetryOptions {
  /** Tries the failed message already counted (its `attempt`, 0 on the first try). */
  attemptsBefore: number;
  /** The broker will not deliver this message again (its delivery count reached MAX_DELIVERY_COUNT). */
  finalDelivery: boolean;
  policy: RetryPolicy;
  now: Date;
  random: () => number;
}

export function planInternalRetry(options: InternalRetryOptions): InternalRetryPlan {
  const attempt = options.attemptsBefore + 1;
  if (options.finalDelivery || attempt >= MAX_DELIVERY_COUNT) return { kind: 'give_up', attempt };
  return { kind: 'retry', attempt, at: new Date(options.now.getTime() + backoffDelayMs(options.policy, attempt, options.random)) };
}
