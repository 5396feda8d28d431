import { backoffDelayMs, retryPolicy } from '../../../shared/core/runs/retryPolicy';
import { parseRateLimit, parseRetryAfter } from '../../../shared/http/rateLimit';

describe('retry backoff', () => {
  const policy = retryPolicy();

  test('defaults are 1 s initial, ×2, capped at 30 s', () => {
    expect(policy).toMatchObject({ initialDelayMs: 1000, multiplier: 2, maxDelayMs: 30_000 });
    expect([1, 2, 3, 4, 5, 6, 7].map((n) => backoffDelayMs(policy, n, () => 1))).toEqual([1000, 2000, 4000, 8000, 16000, 30000, 30000]);
  });

  test('jitter spreads a delay between half and all of its ceiling', () => {
    expect(backoffDelayMs(policy, 3, () => 0)).toBe(2000);
    expect(backoffDelayMs(policy, 3, () => 0.5)).toBe(3000);
  });

  test('bad options fail at construction, naming the option', () => {
    expect(() => retryPolicy({ maxDelayMs: -1 })).toThrow(/maxDelayMs/);
  });
});

describe('rate-limit headers', () => {
  const now = new Date('2026-11-23T10:00:00Z');

  test('reads X-RateLimit-* with an epoch reset', () => {
    const headers = new Headers({ 'x-ratelimit-limit': '100', 'x-ratelimit-remaining': '0', 'x-ratelimit-reset': String(now.getTime() / 1000 + 7) });
    expect(parseRateLimit(headers, now)).toEqual({ limit: 100, remaining: 0, resetAt: new Date(now.getTime() + 7000) });
  });

  test('reads the IETF RateLimit-* draft with a delta reset', () => {
    const headers = new Headers({ 'ratelimit-limit': '10', 'ratelimit-remaining': '3', 'ratelimit-reset': '2' });
    expect(parseRateLimit(headers, now)).toEqual({ limit: 10, remaining: 3, resetAt: new Date(now.getTime() + 2000) });
  });

  test('no headers, no information', () => {
    expect(parseRateLimit(new Headers(), now)).toBeUndefined();
  });

  test('Retry-After as seconds, as an HTTP date, and falling back to the window reset', () => {
    expect(parseRetryAfter(new Headers({ 'retry-after': '3' }), now)).toEqual(new Date(now.getTime() + 3000));
    expect(parseRetryAfter(new Headers({ 'retry-after': 'Mon, 23 Nov 2026 10:00:09 GMT' }), now)).toEqual(new Date('2026-11-23T10:00:09Z'));
    const reset = new Date(now.getTime() + 4000);
    expect(parseRetryAfter(new Headers(), now, { resetAt: reset })).toEqual(reset);
    expect(parseRetryAfter(new Headers({ 'retry-after': 'soon' }), now)).toEqual(new Date(now.getTime() + 1000));
  });
});
