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
  });

  test('no hint at all, or an unreadable one, is no retry time: the caller backs off by its count of waits', () => {
    expect(parseRetryAfter(new Headers(), now)).toBeUndefined();
    expect(parseRetryAfter(new Headers(), now, { remaining: 0, resetAt: new Date(now.getTime() - 1000) })).toBeUndefined();
    for (const value of ['soon', 'garbage 2030', '1e20', '3.5', '-5', '0x10', '120, 60', 'Mon, 23 Nov 2026 10:00:09', 'Mon, 31 Feb 2026 10:00:09 GMT', '2026-11-23T11:00:00Z']) {
      expect([value, parseRetryAfter(new Headers({ 'retry-after': value }), now)]).toEqual([value, undefined]);
    }
  });

  test('any wait is capped at one hour by default, or at the cap given, and at least a second away', () => {
    const hour = new Date(now.getTime() + 3_600_000);
    expect(parseRetryAfter(new Headers({ 'retry-after': '99999999' }), now)).toEqual(hour);
    expect(parseRetryAfter(new Headers({ 'retry-after': '9'.repeat(400) }), now)).toEqual(hour); // Infinity seconds
    expect(parseRetryAfter(new Headers({ 'retry-after': 'Fri, 01 Jan 2100 00:00:00 GMT' }), now)).toEqual(hour);
    expect(parseRetryAfter(new Headers({ 'retry-after': '600' }), now, undefined, 60_000)).toEqual(new Date(now.getTime() + 60_000));
    expect(parseRetryAfter(new Headers({ 'retry-after': '0' }), now)).toEqual(new Date(now.getTime() + 1000));
    expect(parseRetryAfter(new Headers({ 'retry-after': 'Sun, 01 Jan 2006 00:00:00 GMT' }), now)).toEqual(new Date(now.getTime() + 1000));
  });

  test('a reset above 10^12 is epoch milliseconds, and no reset lands past the cap', () => {
    const inSeven = now.getTime() + 7000;
    expect(parseRateLimit(new Headers({ 'x-ratelimit-reset': String(inSeven) }), now)?.resetAt).toEqual(new Date(inSeven));
    expect(parseRateLimit(new Headers({ 'x-ratelimit-reset': String(now.getTime() / 1000 + 86_400) }), now)?.resetAt).toEqual(new Date(now.getTime() + 3_600_000));
    expect(parseRateLimit(new Headers({ 'ratelimit-reset': '90' }), now, 30_000)?.resetAt).toEqual(new Date(now.getTime() + 30_000));
    expect(parseRateLimit(new Headers({ 'x-ratelimit-remaining': '1e3', 'x-ratelimit-reset': '-5' }), now)).toBeUndefined();
  });
});
