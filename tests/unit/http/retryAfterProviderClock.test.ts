import { isSyncBridgeError } from '../../../shared/core/errors';
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
