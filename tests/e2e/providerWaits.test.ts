import { Harness } from '../support/harness';
import { useScriptedProvider, type ScriptedAnswer } from '../support/scriptedProvider';

/**
 * How a pull run waits when the provider asks it to, on the real stack (local host, local queue,
 * a provider on loopback whose answers each test scripts): a 429 with no hint backs off by its
 * count of waits, and a 403 that is GitHub's secondary rate limit waits instead of failing the run.
 */
describe('provider waits (loopback provider → local host)', () => {
  const provider = useScriptedProvider(() => ({ status: 500, body: {} }));
  const { requests } = provider;
  const answerWith = (next: (n: number) => ScriptedAnswer) => provider.script(next);
  let h: Harness;
  afterEach(async () => h?.close());

  async function pullRun(): Promise<any> {
    const created = await h.api('POST', '/api/connections', {
      id: 'waits', provider: 'sandbox', config: { baseUrl: provider.baseUrl, pageSize: 10 },
      credentials: { type: 'apiKey', apiKey: 'k' }, entities: [{ name: 'customers', direction: 'pull' }],
    });
    expect(created.status).toBe(201);
    requests.length = 0;
    return h.waitForRun(await h.startSync('full', 'waits'), 30_000);
  }

  test('a 429 without Retry-After is retried after growing backoff, not every second, until the waits run out', async () => {
    // The harness's jitter is fixed at 0.5: waits of 150, 300, 600 and 1200 ms.
    h = await Harness.start({ sandbox: { recordsPerEntity: 1 }, engine: { retry: { initialDelayMs: 200, maxDelayMs: 1600, maxRateLimitWaits: 4 } } });
    answerWith(() => ({ status: 429, body: { error: 'slow down' } }));
    const run = await pullRun();
    expect(run.state).toBe('failed');
    expect(requests).toHaveLength(5);
    const gaps = requests.slice(1).map((t, i) => t - requests[i]);
    expect(gaps[0]).toBeGreaterThanOrEqual(150);
    expect(gaps[0]).toBeLessThan(700); // a fixed fallback waited a whole second each time
    expect(gaps[3]).toBeGreaterThanOrEqual(1200);
    expect(gaps[3]).toBeGreaterThan(gaps[0] * 3);
  });

  test("a 403 with Retry-After (GitHub's secondary rate limit) waits, then the run completes", async () => {
    h = await Harness.start({ sandbox: { recordsPerEntity: 1 } });
    answerWith((n) => (n === 1
      ? { status: 403, body: { message: 'You have exceeded a secondary rate limit.' }, headers: { 'retry-after': '1' } }
      : { status: 200, body: { data: [{ id: 'a', name: 'a', updated_at: '2026-01-01T00:00:00Z' }], next_cursor: null } }));
    const run = await pullRun();
    expect(run.state).toBe('done');
    expect(requests).toHaveLength(2);
    expect(requests[1] - requests[0]).toBeGreaterThanOrEqual(900);
  });

  test('a 503 with Retry-After (maintenance) waits that long, not the short backoff, then the run completes', async () => {
    // The harness's retry backoff is tens of milliseconds; the provider asks for 2 s.
    h = await Harness.start({ sandbox: { recordsPerEntity: 1 } });
    answerWith((n) => (n === 1
      ? { status: 503, body: { error: 'down for maintenance' }, headers: { 'retry-after': '2' } }
      : { status: 200, body: { data: [{ id: 'a', name: 'a', updated_at: '2026-01-01T00:00:00Z' }], next_cursor: null } }));
    const run = await pullRun();
    expect(run.state).toBe('done');
    expect(requests).toHaveLength(2);
    expect(requests[1] - requests[0]).toBeGreaterThanOrEqual(1900);
  });
});
