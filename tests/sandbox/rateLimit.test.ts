import type { RunningSandbox } from '../../sandbox/server';
import { RateLimiter } from '../../sandbox/rateLimiter';
import { control, providerGet, startTestSandbox } from './sandboxTestClient';

describe('sandbox rate limiting', () => {
  let sandbox: RunningSandbox;
  beforeEach(async () => {
    sandbox = await startTestSandbox({ recordsPerEntity: 20, rateLimit: { requests: 3, windowSeconds: 60 } });
  });
  afterEach(() => sandbox.close());

  it('reports the budget on every response and answers 429 with Retry-After once it is spent', async () => {
    const before = Math.floor(Date.now() / 1000);
    const remaining: string[] = [];
    for (let i = 0; i < 3; i++) {
      const response = await providerGet(sandbox, '/v1/products?limit=1');
      expect(response.status).toBe(200);
      expect(response.headers.get('x-ratelimit-limit')).toBe('3');
      const reset = Number(response.headers.get('x-ratelimit-reset'));
      expect(reset).toBeGreaterThanOrEqual(before + 59);
      expect(reset).toBeLessThanOrEqual(before + 62);
      remaining.push(response.headers.get('x-ratelimit-remaining') ?? '');
    }
    expect(remaining).toEqual(['2', '1', '0']);

    const limited = await providerGet(sandbox, '/v1/products?limit=1');
    expect(limited.status).toBe(429);
    expect(limited.headers.get('x-ratelimit-remaining')).toBe('0');
    const retryAfter = Number(limited.headers.get('retry-after'));
    expect(Number.isInteger(retryAfter)).toBe(true);
    expect(retryAfter).toBeGreaterThanOrEqual(1);
    expect(retryAfter).toBeLessThanOrEqual(60);
    expect(await limited.json()).toEqual({ error: expect.stringContaining('Rate limit') });

    const stats = await control<{ byKind: { list: Record<string, number> }; injected: { rateLimited: number } }>(sandbox, 'GET', 'stats');
    expect(stats.byKind.list).toEqual({ '200': 3, '429': 1 });
    expect(stats.injected.rateLimited).toBe(1);
  });

  it('keeps a separate window per API key, and 401s carry the headers too', async () => {
    for (let i = 0; i < 4; i++) await providerGet(sandbox, '/v1/products');
    const stranger = await providerGet(sandbox, '/v1/products', 'someone-else');
    expect(stranger.status).toBe(401);
    expect(stranger.headers.get('x-ratelimit-remaining')).toBe('2');
  });

  it('opens a fresh budget on reset', async () => {
    for (let i = 0; i < 4; i++) await providerGet(sandbox, '/v1/products');
    await control(sandbox, 'POST', 'reset');
    expect((await providerGet(sandbox, '/v1/products')).status).toBe(200);
  });
});

describe('RateLimiter windows', () => {
  it('refills the budget when the window has passed', () => {
    let nowMs = Date.UTC(2026, 5, 1, 12, 0, 0, 250);
    const limiter = new RateLimiter({ requests: 2, windowSeconds: 10 }, { now: () => new Date(nowMs) });
    expect(limiter.take('k').allowed).toBe(true);
    expect(limiter.take('k').allowed).toBe(true);
    const refused = limiter.take('k');
    expect(refused).toMatchObject({ allowed: false, remaining: 0, retryAfterSeconds: 10 });
    nowMs += 9_500;
    expect(limiter.take('k')).toMatchObject({ allowed: false, retryAfterSeconds: 1 });
    nowMs += 500;
    expect(limiter.take('k')).toMatchObject({ allowed: true, remaining: 1, resetSecond: Math.ceil((nowMs + 10_000) / 1000) });
  });
});
