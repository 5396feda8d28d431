import { SyncBridgeError } from '../errors';

export interface RetryPolicyOptions {
  /** First delay. Default 1,000 ms. */
  initialDelayMs?: number;
  /** Growth per attempt. Default 2. */
  multiplier?: number;
  /** Cap on one delay. Default 30,000 ms. */
  maxDelayMs?: number;
  /** Tries of one page before the run fails. Default 8. */
  maxAttempts?: number;
  /** Rate-limit reschedules of one page before the run fails. Default 100. */
  maxRateLimitWaits?: number;
}

export type RetryPolicy = Required<RetryPolicyOptions>;

export function retryPolicy(options: RetryPolicyOptions = {}): RetryPolicy {
  const policy: RetryPolicy = {
    initialDelayMs: options.initialDelayMs ?? 1_000,
    multiplier: options.multiplier ?? 2,
    maxDelayMs: options.maxDelayMs ?? 30_000,
    maxAttempts: options.maxAttempts ?? 8,
    maxRateLimitWaits: options.maxRateLimitWaits ?? 100,
  };
  for (const [name, value] of Object.entries(policy)) {
    if (!(typeof value === 'number' && value > 0)) throw new SyncBridgeError('configuration', `retry option ${name} must be a positive number.`);
  }
  return policy;
}

/**
 * Exponential backoff with jitter: the n-th retry waits between half and all of
 * min(max, initial × multiplier^(n-1)). The random half spreads retries of many runs apart.
 */
export function backoffDelayMs(policy: RetryPolicy, attempt: number, random: () => number = Math.random): number {
  const ceiling = Math.min(policy.maxDelayMs, policy.initialDelayMs * policy.multiplier ** Math.max(0, attempt - 1));
  return Math.round(ceiling / 2 + (ceiling / 2) * random());
}
