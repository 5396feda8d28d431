import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { isSyncBridgeError } from '../../../shared/core/errors';
import { ProviderHttpClient } from '../../../shared/http/providerHttpClient';
import { systemClock } from '../../../shared/ports/clock';

/** A provider on loopback that accepts only `Bearer good` and answers scripted statuses otherwise. */
function provider(): Promise<{ url: string; server: Server; seen: string[] }> {
  const seen: string[] = [];
  const server = createServer((req, res) => {
    seen.push(String(req.headers.authorization));
    if (req.url?.startsWith('/status/')) {
      const status = Number(req.url.split('/')[2]);
      res.writeHead(status, { 'content-type': 'application/json', 'retry-after': '2' }).end('{"error":"scripted"}');
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
    res.writeHead(200, { 'content-type': 'application/json', 'x-ratelimit-remaining': '0', 'x-ratelimit-reset': '2000000000' }).end('{"ok":true}');
  });
  return new Promise((resolve) => server.listen(0, '127.0.0.1', () => resolve({ url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`, server, seen })));
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
    expect(response.rateLimit).toMatchObject({ remaining: 0, resetAt: new Date(2_000_000_000_000) });
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
      await client.request({ path: '/status/429' });
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
