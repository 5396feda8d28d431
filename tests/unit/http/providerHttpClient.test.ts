import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { isSyncBridgeError } from '../../../shared/core/errors';
import { ProviderHttpClient } from '../../../shared/http/providerHttpClient';
import { systemClock } from '../../../shared/ports/clock';

/** The window reset the provider below announces: two minutes after the tests start. */
const RESET_EPOCH_SECONDS = Math.floor(Date.now() / 1000) + 120;

/** A provider on loopback that accepts only `Bearer good` and answers scripted statuses otherwise. */
function provider(): Promise<{ url: string; server: Server; seen: string[] }> {
  const seen: string[] = [];
  const server = createServer((req, res) => {
    seen.push(String(req.headers.authorization));
    if (req.url?.startsWith('/status/')) {
      // `/status/403?retry-after=60`: the status from the path, the query's pairs as response headers.
      const url = new URL(req.url, 'http://x');
      const status = Number(url.pathname.split('/')[2]);
      res.writeHead(status, { 'content-type': 'application/json', ...Object.fromEntries(url.searchParams) }).end('{"error":"scripted"}');
      return;
    }
    if (req.url === '/echo') {
      // A provider whose error page dumps the request, credentials first.
      const echo = { authorization: req.headers.authorization, apiKey: req.headers['x-api-key'] };
      res.writeHead(400, { 'content-type': 'application/json' }).end(JSON.stringify({ echo, error: 'email is not a valid address' }));
      return;
    }
    if (req.url === '/broken') {
      res.writeHead(200, { 'content-type': 'application/json', 'content-length': '100' });
      res.write('{"data": [');
      res.destroy();
      return;
    }
    if (req.headers.authorization !== 'Bearer good') {
      res.writeHead(401, { 'content-type': 'application/json' }).end('{"error":"invalid_token"}');
      return;
    }
    res.writeHead(200, { 'content-type': 'application/json', 'x-ratelimit-remaining': '0', 'x-ratelimit-reset': String(RESET_EPOCH_SECONDS) }).end('{"ok":true}');
  });
  return new Promise((resolve) => server.listen(0, '127.0.0.1', () => resolve({ url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`, server, seen })));
}

/**
 * An epoch reset is read against the answer's `Date` (rateLimit.ts), which has whole seconds: on a
 * provider sharing our clock it lands up to a second after the epoch second, never before it.
 */
function expectAboutEpochSecond(at: Date, epochSeconds: number): void {
  expect(at.getTime()).toBeGreaterThanOrEqual(epochSeconds * 1000);
  expect(at.getTime()).toBeLessThan(epochSeconds * 1000 + 1_100);
}

async function codeOf(promise: Promise<unknown>): Promise<string> {
  try {
    await promise;
    return 'resolved';
  } catch (error) {
    return isSyncBridgeError(error) ? `${error.code}${error.status ? `:${error.status}` : ''}` : `other:${(error as Error).message}`;
  }
}

describe('provider HTTP client', () => {
  let p: Awaited<ReturnType<typeof provider>>;
  beforeEach(async () => {
    p = await provider();
  });
  afterEach(() => p.server.close());

  test('after a 401 it asks the authorizer to refresh and retries exactly once with the new token', async () => {
    let token = 'stale';
    let refreshes = 0;
    const client = new ProviderHttpClient({
      baseUrl: p.url, clock: systemClock,
      authorizer: { headers: async () => ({ authorization: `Bearer ${token}` }), refreshAfterUnauthorized: async () => { refreshes += 1; token = 'good'; return true; } },
    });
    const response = await client.request<{ ok: boolean }>({ path: '/v1/x' });
    expect(response.body).toEqual({ ok: true });
    expect(response.rateLimit).toMatchObject({ remaining: 0 });
    expectAboutEpochSecond(response.rateLimit!.resetAt!, RESET_EPOCH_SECONDS);
    expect(refreshes).toBe(1);
    expect(p.seen).toEqual(['Bearer stale', 'Bearer good']);
  });

  test('a 401 is final when the authorizer could not refresh, and it is never retried in a loop', async () => {
    const client = new ProviderHttpClient({
      baseUrl: p.url, clock: systemClock,
      authorizer: { headers: async () => ({ authorization: 'Bearer stale' }), refreshAfterUnauthorized: async () => false },
    });
    expect(await codeOf(client.request({ path: '/v1/x' }))).toBe('auth_failed:401');
    expect(p.seen).toHaveLength(1);
  });

  test('statuses become codes: 429 with its retry time, 5xx transient, other 4xx rejected', async () => {
    const client = new ProviderHttpClient({ baseUrl: p.url, clock: systemClock });
    const before = Date.now();
    try {
      await client.request({ path: '/status/429', query: { 'retry-after': '2' } });
      throw new Error('expected a rate limit');
    } catch (error) {
      expect(isSyncBridgeError(error, 'rate_limited')).toBe(true);
      expect((error as { retryAt: Date }).retryAt.getTime()).toBeGreaterThanOrEqual(before + 2000);
    }
    expect(await codeOf(client.request({ path: '/status/503' }))).toBe('transient:503');
    expect(await codeOf(client.request({ path: '/status/422' }))).toBe('provider_rejected:422');
    expect(await codeOf(client.request({ path: '/status/403' }))).toBe('auth_failed:403');
  });

  test('a 4xx body that echoes the credentials it was sent is quoted with them masked, and its words kept', async () => {
    const token = `at_${'Zx9'.repeat(20)}`;
    const bearer = new ProviderHttpClient({ baseUrl: p.url, clock: systemClock, authorizer: { headers: async () => ({ authorization: `Bearer ${token}` }) } });
    const rejected = (await bearer.request({ path: '/echo' }).catch((error: unknown) => error)) as Error;
    expect(isSyncBridgeError(rejected, 'provider_rejected')).toBe(true);
    expect(rejected.message).toContain('"authorization":"Bearer ***"');
    expect(rejected.message).not.toContain(token.slice(0, 12)); // not even the head of it
    // The quote is still cut, after masking: the provider's own words are inside the first 200 characters.
    const apiKey = 'sk_test_51Hxyz-echoed-api-key';
    const keyed = new ProviderHttpClient({ baseUrl: p.url, clock: systemClock, headers: { 'x-api-key': apiKey } });
    const refused = (await keyed.request({ path: '/echo' }).catch((error: unknown) => error)) as Error;
    expect(refused.message).toContain('"apiKey":"***"');
    expect(refused.message).toContain('email is not a valid address');
    expect(refused.message).not.toContain(apiKey);
  });

  test('a body cut off mid-way is a transient failure, not a crash and not data', async () => {
    const client = new ProviderHttpClient({ baseUrl: p.url, clock: systemClock });
    expect(await codeOf(client.request({ path: '/broken' }))).toBe('transient');
  });

  test('a provider that does not answer in time is a transient failure', async () => {
    const silent = createServer(() => undefined);
    await new Promise<void>((r) => silent.listen(0, '127.0.0.1', () => r()));
    const client = new ProviderHttpClient({ baseUrl: `http://127.0.0.1:${(silent.address() as AddressInfo).port}`, clock: systemClock, timeoutMs: 100 });
    expect(await codeOf(client.request({ path: '/' }))).toBe('transient');
    silent.closeAllConnections();
    silent.close();
  });
});

/** A server on loopback; `close` ends its open connections too (an endless body keeps one open). */
async function listen(handler: Parameters<typeof createServer>[1]): Promise<{ url: string; close: () => void }> {
  const server = createServer(handler);
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
  return { url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`, close: () => { server.closeAllConnections(); server.close(); } };
}

async function failureOf(promise: Promise<unknown>): Promise<{ code: string; status?: number; message: string; retryAt?: Date }> {
  const error = await promise.then(() => new Error('resolved'), (e: unknown) => e);
  if (!isSyncBridgeError(error)) throw new Error(`expected a SyncBridgeError, got: ${(error as Error).message}`);
  return { code: error.code, status: error.status, message: error.message, retryAt: error.retryAt };
}

describe('provider HTTP client: redirects', () => {
  test('a redirect to another origin is not followed: that origin gets neither the API key nor the body of a POST', async () => {
    const reached: Array<{ method?: string; apiKey?: unknown; idempotencyKey?: unknown }> = [];
    const other = await listen((req, res) => {
      reached.push({ method: req.method, apiKey: req.headers['x-api-key'], idempotencyKey: req.headers['idempotency-key'] });
      res.writeHead(200, { 'content-type': 'application/json' }).end('{"data":[],"next_cursor":null}');
    });
    // `/302/...` answers that status with a Location on the other origin.
    const mover = await listen((req, res) => res.writeHead(Number(req.url!.split('/')[1]), { location: `${other.url}/collect${req.url}?token=secret-in-location` }).end());
    try {
      const client = new ProviderHttpClient({ baseUrl: mover.url, clock: systemClock, headers: { 'x-api-key': 'sk_live_api_key' } });
      const get = await failureOf(client.request({ path: '/302/v1/customers' }));
      expect(get).toMatchObject({ code: 'configuration', status: 302 });
      expect(get.message).toContain(`redirect (HTTP 302) to ${other.url}`);
      expect(get.message).toContain('config.baseUrl');
      expect(get.message).not.toContain('secret-in-location');
      const post = await failureOf(client.request({ method: 'POST', path: '/307/v1/customers', body: { email: 'a@b.c' }, headers: { 'idempotency-key': 'k1' } }));
      expect(post).toMatchObject({ code: 'configuration', status: 307 });
      expect(reached).toEqual([]);
    } finally {
      other.close();
      mover.close();
    }
  });
});

describe('provider HTTP client: body size', () => {
  /** Answers `status` with a JSON body that never ends (64 KiB chunks as fast as the client reads them). */
  const endless = (status: number, headers: Record<string, string> = {}) => listen((req, res) => {
    res.writeHead(status, { 'content-type': 'application/json', ...headers });
    res.write('{"error":"the start of an endless body","pad":"');
    const chunk = Buffer.alloc(64 * 1024, 0x20);
    const pump = (): void => {
      while (!res.destroyed && res.write(chunk));
      if (!res.destroyed) res.once('drain', pump);
    };
    pump();
  });

  test('a successful body past maxResponseBytes fails as configuration, naming the limit, once the limit is read', async () => {
    const server = await endless(200);
    try {
      const client = new ProviderHttpClient({ baseUrl: server.url, clock: systemClock, timeoutMs: 5000, maxResponseBytes: 1024 * 1024 });
      const started = Date.now();
      const failure = await failureOf(client.request({ path: '/v1/customers' }));
      expect(failure).toMatchObject({ code: 'configuration', status: 200 });
      expect(failure.message).toContain('larger than maxResponseBytes (1048576 bytes)');
      expect(Date.now() - started).toBeLessThan(4000); // not the timeout: reading stopped at the limit
    } finally {
      server.close();
    }
  });

  test('a body whose declared length is past the limit is refused before it is read', async () => {
    const server = await listen((req, res) => res.writeHead(200, { 'content-type': 'application/json', 'content-length': String(2 * 1024 * 1024) }).end(`{"pad":"${' '.repeat(2 * 1024 * 1024 - 10)}"}`));
    try {
      const client = new ProviderHttpClient({ baseUrl: server.url, clock: systemClock, maxResponseBytes: 1024 * 1024 });
      expect(await failureOf(client.request({ path: '/v1/customers' }))).toMatchObject({ code: 'configuration', status: 200 });
      const roomy = new ProviderHttpClient({ baseUrl: server.url, clock: systemClock, maxResponseBytes: 4 * 1024 * 1024 });
      expect((await roomy.request<{ pad: string }>({ path: '/v1/customers' })).body.pad).toHaveLength(2 * 1024 * 1024 - 10);
    } finally {
      server.close();
    }
  });

  test.each([[500, 'transient'], [429, 'rate_limited'], [422, 'provider_rejected']])('an endless %i body is read only for its start: the status decides, not the timeout', async (status, code) => {
    const server = await endless(status);
    try {
      const client = new ProviderHttpClient({ baseUrl: server.url, clock: systemClock, timeoutMs: 5000 });
      const started = Date.now();
      const failure = await failureOf(client.request({ path: '/v1/customers' }));
      expect(failure).toMatchObject({ code, status });
      expect(failure.message).not.toContain('did not answer');
      if (status === 422) expect(failure.message).toContain('the start of an endless body');
      expect(Date.now() - started).toBeLessThan(4000);
    } finally {
      server.close();
    }
  });

  test('bad limits fail at construction, naming the option', () => {
    expect(() => new ProviderHttpClient({ baseUrl: 'http://127.0.0.1', clock: systemClock, maxResponseBytes: 0 })).toThrow(/maxResponseBytes/);
    expect(() => new ProviderHttpClient({ baseUrl: 'http://127.0.0.1', clock: systemClock, maxRetryWaitMs: -1 })).toThrow(/maxRetryWaitMs/);
  });
});

describe('provider HTTP client: waits the provider asks for', () => {
  let p: Awaited<ReturnType<typeof provider>>;
  beforeEach(async () => {
    p = await provider();
  });
  afterEach(() => p.server.close());

  test('a 403 with Retry-After (GitHub secondary limit) or with X-RateLimit-Remaining: 0 is rate_limited, not auth_failed', async () => {
    const client = new ProviderHttpClient({ baseUrl: p.url, clock: systemClock });
    const before = Date.now();
    const secondary = await failureOf(client.request({ path: '/status/403', query: { 'retry-after': '60' } }));
    expect(secondary).toMatchObject({ code: 'rate_limited', status: 403 });
    expect(secondary.retryAt!.getTime()).toBeGreaterThanOrEqual(before + 60_000);
    const reset = Math.ceil(Date.now() / 1000) + 120;
    const primary = await failureOf(client.request({ path: '/status/403', query: { 'x-ratelimit-remaining': '0', 'x-ratelimit-reset': String(reset) } }));
    expect(primary).toMatchObject({ code: 'rate_limited', status: 403 });
    expectAboutEpochSecond(primary.retryAt!, reset);
    // A 403 that says nothing of limits (or has requests left) is still a refusal of our credentials.
    expect(await codeOf(client.request({ path: '/status/403', query: { 'x-ratelimit-remaining': '4999' } }))).toBe('auth_failed:403');
  });

  test('a 503 with Retry-After is transient with that retry time; without it, with none', async () => {
    const client = new ProviderHttpClient({ baseUrl: p.url, clock: systemClock });
    const before = Date.now();
    const maintenance = await failureOf(client.request({ path: '/status/503', query: { 'retry-after': '600' } }));
    expect(maintenance).toMatchObject({ code: 'transient', status: 503 });
    expect(maintenance.retryAt!.getTime()).toBeGreaterThanOrEqual(before + 600_000);
    expect(maintenance.retryAt!.getTime()).toBeLessThanOrEqual(Date.now() + 600_000);
    expect((await failureOf(client.request({ path: '/status/503' }))).retryAt).toBeUndefined();
  });

  test('a wait asked for is capped at maxRetryWaitMs (1 h by default) and is never an Invalid Date', async () => {
    const client = new ProviderHttpClient({ baseUrl: p.url, clock: systemClock });
    const huge = await failureOf(client.request({ path: '/status/429', query: { 'retry-after': '99999999' } }));
    expect(huge.retryAt!.getTime()).toBeLessThanOrEqual(Date.now() + 3_600_000);
    expect(huge.retryAt!.getTime()).toBeGreaterThan(Date.now() + 3_500_000);
    const tight = new ProviderHttpClient({ baseUrl: p.url, clock: systemClock, maxRetryWaitMs: 60_000 });
    const epochMs = await failureOf(tight.request({ path: '/status/429', query: { 'x-ratelimit-remaining': '0', 'x-ratelimit-reset': String(Date.now() + 30 * 86_400_000) } }));
    expect(epochMs.retryAt!.getTime()).toBeLessThanOrEqual(Date.now() + 60_000);
    const unreadable = await failureOf(client.request({ path: '/status/429', query: { 'retry-after': '1e20' } }));
    expect(unreadable.retryAt).toBeUndefined(); // the caller backs off by its own count instead
  });
});
