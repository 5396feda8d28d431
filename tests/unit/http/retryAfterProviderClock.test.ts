import { isSyncBridgeError } from '../../../shared/core/errors';
import { ConnectionLimits } from '../../../shared/http/connectionLimits';
import { ProviderHttpClient } from '../../../shared/http/providerHttpClient';
import { systemClock } from '../../../shared/ports/clock';
import { useScriptedProvider } from '../../support/scriptedProvider';

/** `date` as an HTTP IMF-fixdate, as a provider's `Date` and `Retry-After` headers carry it. */
const httpDate = (ms: number): string => new Date(ms).toUTCString();

/**
 * A Retry-After date is a time on the provider's clock. Its answer's own `Date` header says what
 * that clock read when it answered, so the wait is the difference of the two, whatever our clock says.
 */
describe('a Retry-After date is read against the answer\'s Date header', () => {
  let answer: { retryAfterMs: number; providerOffsetMs: number; sendDate: boolean } = { retryAfterMs: 0, providerOffsetMs: 0, sendDate: true };
  const provider = useScriptedProvider(() => {
    const providerNow = Date.now() + answer.providerOffsetMs;
    const headers: Record<string, string> = { 'retry-after': httpDate(providerNow + answer.retryAfterMs) };
    // Node adds its own Date (our clock) unless the answer names one: `sendDate: false` sends none at all.
    headers.date = answer.sendDate ? httpDate(providerNow) : '';
    return { status: 429, body: { error: 'slow down' }, headers };
  });

  async function waitAskedMs(): Promise<number> {
    const client = new ProviderHttpClient({ baseUrl: provider.baseUrl, clock: systemClock });
    const before = Date.now();
    const error = await client.request({ path: '/v1/customers' }).then(() => undefined, (e: unknown) => e);
    if (!isSyncBridgeError(error, 'rate_limited') || !error.retryAt) throw new Error(`expected a rate limit with a retry time, got ${String(error)}`);
    return error.retryAt.getTime() - before;
  }

  test('a provider clock two hours ahead asking for 30 s gets 30 s, not the one-hour cap', async () => {
    answer = { retryAfterMs: 30_000, providerOffsetMs: 2 * 3_600_000, sendDate: true };
    const wait = await waitAskedMs();
    // Both headers have whole seconds: the wait is 30 s give or take the second they were cut to.
    expect(wait).toBeGreaterThan(28_000);
    expect(wait).toBeLessThan(32_000);
  });

  test('a provider clock an hour behind asking for 10 minutes gets 10 minutes, not the one-second floor', async () => {
    answer = { retryAfterMs: 600_000, providerOffsetMs: -3_600_000, sendDate: true };
    const wait = await waitAskedMs();
    expect(wait).toBeGreaterThan(598_000);
    expect(wait).toBeLessThan(602_000);
  });

  test('the wait read against Date is still capped at one hour', async () => {
    answer = { retryAfterMs: 5 * 3_600_000, providerOffsetMs: -86_400_000, sendDate: true };
    const wait = await waitAskedMs();
    expect(wait).toBeGreaterThan(3_590_000);
    expect(wait).toBeLessThanOrEqual(3_600_000 + 100);
  });

  test('without a readable Date the Retry-After date is read against our clock, as before', async () => {
    answer = { retryAfterMs: 45_000, providerOffsetMs: 0, sendDate: false };
    const wait = await waitAskedMs();
    expect(wait).toBeGreaterThan(43_000);
    expect(wait).toBeLessThan(46_000);
  });
});

/**
 * An epoch `X-RateLimit-Reset` (GitHub's style) is a time on the provider's clock as well: it is
 * read against the answer's `Date`, for the window a success spent (and the hold it sets on the
 * connection's other calls) as for a 429 without Retry-After.
 */
describe('an epoch X-RateLimit-Reset is read against the answer\'s Date header', () => {
  let answer: { status: number; resetInMs: number; providerOffsetMs: number; unit: 's' | 'ms'; sendDate: boolean } = { status: 200, resetInMs: 0, providerOffsetMs: 0, unit: 's', sendDate: true };
  const provider = useScriptedProvider(() => {
    const providerNow = Date.now() + answer.providerOffsetMs;
    const resetMs = providerNow + answer.resetInMs;
    const headers: Record<string, string> = {
      'x-ratelimit-limit': '5000',
      'x-ratelimit-remaining': '0',
      'x-ratelimit-reset': answer.unit === 's' ? String(Math.ceil(resetMs / 1000)) : String(Math.round(resetMs)),
      date: answer.sendDate ? httpDate(providerNow) : '',
    };
    return answer.status === 200 ? { status: 200, body: { data: [] }, headers } : { status: answer.status, body: { error: 'slow down' }, headers };
  });

  /** How long after the call the spent window ends, as the client read it, and as the connection's next call is held. */
  async function windowAfterSuccessMs(): Promise<{ resetInMs: number; heldForMs: number }> {
    const limits = new ConnectionLimits('c-reset');
    const client = new ProviderHttpClient({ baseUrl: provider.baseUrl, clock: systemClock, limits });
    const before = Date.now();
    const response = await client.request({ path: '/v1/customers' });
    const held = await client.request({ path: '/v1/orders' }).then(() => undefined, (e: unknown) => e);
    if (!isSyncBridgeError(held, 'rate_limited') || !held.retryAt) throw new Error(`expected the next call held, got ${String(held)}`);
    return { resetInMs: response.rateLimit!.resetAt!.getTime() - before, heldForMs: held.retryAt.getTime() - before };
  }

  test('a provider clock two hours ahead whose window resets in 30 s: resets in 30 s, not the one-hour cap', async () => {
    answer = { status: 200, resetInMs: 30_000, providerOffsetMs: 2 * 3_600_000, unit: 's', sendDate: true };
    const { resetInMs, heldForMs } = await windowAfterSuccessMs();
    // Reset and Date have whole seconds: 30 s give or take the seconds they were cut to.
    expect(resetInMs).toBeGreaterThan(28_000);
    expect(resetInMs).toBeLessThan(32_000);
    expect(heldForMs).toBe(resetInMs);
  });

  test('a provider clock an hour behind whose window resets in 10 minutes: the connection is held 10 minutes, not released at once', async () => {
    answer = { status: 200, resetInMs: 600_000, providerOffsetMs: -3_600_000, unit: 's', sendDate: true };
    const { resetInMs, heldForMs } = await windowAfterSuccessMs();
    expect(resetInMs).toBeGreaterThan(598_000);
    expect(resetInMs).toBeLessThan(602_000);
    expect(heldForMs).toBe(resetInMs);
  });

  test('a reset in epoch milliseconds is read against Date too', async () => {
    answer = { status: 200, resetInMs: 45_000, providerOffsetMs: 5 * 60_000, unit: 'ms', sendDate: true };
    const { resetInMs } = await windowAfterSuccessMs();
    expect(resetInMs).toBeGreaterThan(43_000);
    expect(resetInMs).toBeLessThan(47_000);
  });

  test('a 429 without Retry-After waits for the reset read against Date, still capped at one hour', async () => {
    const client = new ProviderHttpClient({ baseUrl: provider.baseUrl, clock: systemClock });
    const waitMs = async (): Promise<number> => {
      const before = Date.now();
      const error = await client.request({ path: '/v1/customers' }).then(() => undefined, (e: unknown) => e);
      if (!isSyncBridgeError(error, 'rate_limited') || !error.retryAt) throw new Error(`expected a rate limit with a retry time, got ${String(error)}`);
      return error.retryAt.getTime() - before;
    };
    answer = { status: 429, resetInMs: 20_000, providerOffsetMs: -2 * 3_600_000, unit: 's', sendDate: true };
    const wait = await waitMs();
    expect(wait).toBeGreaterThan(18_000);
    expect(wait).toBeLessThan(22_000);
    answer = { status: 429, resetInMs: 3 * 3_600_000, providerOffsetMs: -86_400_000, unit: 's', sendDate: true };
    const capped = await waitMs();
    expect(capped).toBeGreaterThan(3_590_000);
    expect(capped).toBeLessThanOrEqual(3_600_000 + 100);
  });

  test('without a readable Date the epoch reset is read against our clock, as before', async () => {
    answer = { status: 200, resetInMs: 40_000, providerOffsetMs: 0, unit: 's', sendDate: false };
    const { resetInMs } = await windowAfterSuccessMs();
    expect(resetInMs).toBeGreaterThan(38_000);
    expect(resetInMs).toBeLessThan(42_000);
  });
});
