/** What a provider told us about its rate limit in its last response. */
export interface RateLimitInfo {
  limit?: number;
  remaining?: number;
  /** When the current window ends. */
  resetAt?: Date;
}

function header(headers: Headers, ...names: string[]): string | null {
  for (const name of names) {
    const value = headers.get(name);
    if (value !== null && value.trim() !== '') return value.trim();
  }
  return null;
}

function toNumber(value: string | null): number | undefined {
  if (value === null) return undefined;
  const n = Number(value);
  return Number.isFinite(n) ? n : undefined;
}

/**
 * Reads the common rate-limit header families: `X-RateLimit-*` (GitHub, Shopify-like, the sandbox)
 * and the IETF draft `RateLimit-*`. A reset value above 10^9 is an epoch time in seconds (GitHub,
 * the sandbox); a smaller one is seconds from now (the IETF draft).
 */
export function parseRateLimit(headers: Headers, now: Date): RateLimitInfo | undefined {
  const limit = toNumber(header(headers, 'x-ratelimit-limit', 'ratelimit-limit'));
  const remaining = toNumber(header(headers, 'x-ratelimit-remaining', 'ratelimit-remaining'));
  const reset = toNumber(header(headers, 'x-ratelimit-reset', 'ratelimit-reset'));
  if (limit === undefined && remaining === undefined && reset === undefined) return undefined;
  let resetAt: Date | undefined;
  if (reset !== undefined) resetAt = reset > 1e9 ? new Date(reset * 1000) : new Date(now.getTime() + reset * 1000);
  return { limit, remaining, resetAt };
}

/**
 * Retry-After is either delay-seconds or an HTTP date (RFC 9110 §10.2.3). Missing or unreadable
 * values fall back to the window reset, then to one second.
 */
export function parseRetryAfter(headers: Headers, now: Date, rateLimit?: RateLimitInfo): Date {
  const value = headers.get('retry-after');
  if (value !== null) {
    const seconds = Number(value);
    if (Number.isFinite(seconds) && seconds >= 0) return new Date(now.getTime() + Math.max(seconds, 1) * 1000);
    const date = Date.parse(value);
    if (!Number.isNaN(date)) return new Date(Math.max(date, now.getTime() + 1000));
  }
  if (rateLimit?.resetAt && rateLimit.resetAt.getTime() > now.getTime()) return rateLimit.resetAt;
  return new Date(now.getTime() + 1000);
}
