import { isSyncBridgeError } from '../../../shared/core/errors';
import { backoffDelayMs, resolveBackoff } from '../../../shared/core/outbound/backoff';

describe('push retry backoff', () => {
  const defaults = resolveBackoff();

  it('defaults to 1 s, doubling, capped at 30 s, 8 attempts', () => {
    expect(defaults).toEqual({ initialDelayMs: 1000, multiplier: 2, maxDelayMs: 30_000, maxAttempts: 8 });
  });

  it('grows exponentially to the cap, with the jitter inside [half, whole] of the step', () => {
    const top = (attempt: number) => backoffDelayMs(attempt, defaults, () => 1);
    const bottom = (attempt: number) => backoffDelayMs(attempt, defaults, () => 0);
    expect([1, 2, 3, 4, 5, 6, 7].map(top)).toEqual([1000, 2000, 4000, 8000, 16_000, 30_000, 30_000]);
    expect([1, 2, 6].map(bottom)).toEqual([500, 1000, 15_000]);
  });

  it('spreads retries of one outage apart', () => {
    const delays = new Set(Array.from({ length: 20 }, () => backoffDelayMs(3, defaults)));
    expect(delays.size).toBeGreaterThan(1);
  });

  it('refuses options that are not positive numbers, naming the option', () => {
    let caught: unknown;
    try {
      resolveBackoff({ maxDelayMs: 0 });
    } catch (error) {
      caught = error;
    }
    expect(isSyncBridgeError(caught, 'configuration')).toBe(true);
    expect((caught as Error).message).toContain('maxDelayMs');
  });
});
