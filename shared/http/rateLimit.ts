import { parseHttpDate } from './httpDate';

/** What a provider told us about its rate limit in its last response. */
export interface RateLimitInfo {
  limit?: number;
  remaining?: number;
  /** When the current window ends; never further than the wait cap from the response. */
  resetAt?: Date;
}

/**
 * The longest wait a provider's Retry-After or window reset can ask of us (1 hour). A longer ask
 * (a typo, a reset in milliseconds read as seconds, `Retry-After: 99999999`) waits this long and
 * then tries again; how many such waits a step gets is the retry policy's `maxRateLimitWaits`.
 */
export const DEFAULT_MAX_RETRY_WAIT_MS = 3_600_000;

function header(headers: Headers, ...names: string[]): string | null {
  for (const name of names) {
    const value = headers.get(name);
    if (value !== null && value.trim() !== '') return value.trim();
  }
  return null;
}

/** A non-negative decimal such as `42` or `1470173023.123`; anything else (`1e20`, `-5`, `0x10`) is unreadable. */
function toNumber(value: string | null): number | undefined {
  return value !== null && /^\d+(\.\d+)?$/.test(value) ? Number(value) : undefined;
}

/** `at`, moved no further than `maxWaitMs` after `now`. */
function capped(at: number, now: Date, maxWaitMs: number): Date {
  return new Date(Math.min(at, now.getTime() + maxWaitMs));
}

/**
 * A time on the provider's clock (an epoch reset, a Retry-After date), as a time on ours. That clock
 * may differ from ours by minutes or hours; the answer's own `Date` says what it read when it
 * answered, so when `Date` is a valid IMF-fixdate the time is `now + (at − Date)`. `Date` has
 * whole seconds, so this waits up to a second longer than asked, never shorter. Without a readable
 * `Date`, `at` is read against our clock.
 */
function onOurClock(atMs: number, headers: Headers, now: Date): number {
  const sent = parseHttpDate(header(headers, 'date') ?? '');
  return sent ? now.getTime() + (atMs - sent.getTime()) : atMs;
}

/**
 * Reads the common rate-limit header families: `X-RateLimit-*` (GitHub, Shopify-like, the sandbox)
 * and the IETF draft `RateLimit-*`. A reset value above 10^12 is an epoch time in milliseconds (a
 * few providers); above 10^9, an epoch time in seconds (GitHub, the sandbox); a smaller one is
 * seconds from now (the IETF draft). An epoch reset is a time on the provider's clock, read like a
 * Retry-After date (onOurClock). A reset later than `maxWaitMs` from now is read as that.
 */
export function parseRateLimit(headers: Headers, now: Date, maxWaitMs = DEFAULT_MAX_RETRY_WAIT_MS): RateLimitInfo | undefined {
  const limit = toNumber(header(headers, 'x-ratelimit-limit', 'ratelimit-limit'));
  const remaining = toNumber(header(headers, 'x-ratelimit-remaining', 'ratelimit-remaining'));
  const reset = toNumber(header(headers, 'x-ratelimit-reset', 'ratelimit-reset'));
  if (limit === undefined && remaining === undefined && reset === undefined) return undefined;
  let resetAt: Date | undefined;
  if (reset !== undefined) {
    const at = reset > 1e9 ? onOurClock(reset > 1e12 ? reset : reset * 1000, headers, now) : now.getTime() + reset * 1000;
    resetAt = capped(at, now, maxWaitMs);
  }
  return { limit, remaining, resetAt };
}

/**
 * When the provider asked us to come back: Retry-After as delay-seconds (digits only) or an
 * IMF-fixdate (RFC 9110 §10.2.3), at least one second and at most `maxWaitMs` away; else the
 * window's reset when it is still ahead; else undefined — the caller backs off by its own count
 * of waits (a fixed fallback would hammer a provider that sends no hint at a steady rate).
 *
 * A Retry-After date is a time on the provider's clock: the wait is (Retry-After − Date), counted
 * from `now`, when the answer carries a valid `Date` (onOurClock).
 */
export function parseRetryAfter(headers: Headers, now: Date, rateLimit?: RateLimitInfo, maxWaitMs = DEFAULT_MAX_RETRY_WAIT_MS): Date | undefined {
  const value = header(headers, 'retry-after');
  if (value !== null) {
    const earliest = now.getTime() + 1000;
    if (/^\d+$/.test(value)) return capped(Math.max(now.getTime() + Number(value) * 1000, earliest), now, maxWaitMs);
    const date = parseHttpDate(value);
    if (date) return capped(Math.max(onOurClock(date.getTime(), headers, now), earliest), now, maxWaitMs);
  }
  if (rateLimit?.resetAt && rateLimit.resetAt.getTime() > now.getTime()) return capped(rateLimit.resetAt.getTime(), now, maxWaitMs);
  return undefined;
}
