import { SyncBridgeError } from '../errors';

/** Retry schedule of failed pushes (5xx, 429, network). All optional; defaults in `resolveBackoff`. */
export interface PushRetryOptions {
  /** First delay. Default 1,000 ms. */
  initialDelayMs?: number;
  /** Growth per attempt. Default 2. */
  multiplier?: number;
  /** Cap of one delay. Default 30,000 ms. */
  maxDelayMs?: number;
  /** Attempts before the push dead-letters. Default 8. */
  maxAttempts?: number;
}

export type ResolvedPushRetryOptions = Required<PushRetryOptions>;

export function resolveBackoff(options: PushRetryOptions = {}): ResolvedPushRetryOptions {
  const resolved = { initialDelayMs: 1000, multiplier: 2, maxDelayMs: 30_000, maxAttempts: 8, ...options };
  for (const [name, value] of Object.entries(resolved)) {
    if (!(typeof value === 'number' && Number.isFinite(value) && value > 0)) {
      throw new SyncBridgeError('configuration', `outbound retry option ${name} must be a positive number, got ${String(value)}.`);
    }
  }
  return resolved;
}

/**
 * Delay before retry number `attempt` (1-based): exponential, capped, with "equal jitter" — half
 * fixed, half random — so that pushes failed by one outage do not come back in lockstep, yet
 * never retry almost at once.
 */
export function backoffDelayMs(attempt: number, options: ResolvedPushRetryOptions, random: () => number = Math.random): number {
  const ceiling = Math.min(options.maxDelayMs, options.initialDelayMs * options.multiplier ** Math.max(0, attempt - 1));
  return Math.round(ceiling / 2 + random() * (ceiling / 2));
}
