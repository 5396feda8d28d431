import type { RunningSandbox } from '../../sandbox/server';
import { control, providerGet, providerJson, startTestSandbox } from './sandboxTestClient';

interface Stats {
  total: number;
  byStatus: Record<string, number>;
  injected: Record<string, number>;
}

describe('sandbox fault injection', () => {
  let sandbox: RunningSandbox;
  beforeEach(async () => {
    sandbox = await startTestSandbox({ recordsPerEntity: 200 });
  });
  afterEach(() => sandbox.close());

  it('answers a share of requests with 500, 502 or 503 JSON errors', async () => {
    await control(sandbox, 'POST', 'faults', { error5xxRate: 0.5, seed: 1 });
    const statuses: number[] = [];
    for (let i = 0; i < 60; i++) {
      const response = await providerGet(sandbox, '/v1/customers?limit=1');
      statuses.push(response.status);
      if (response.status >= 500) expect(await response.json()).toEqual({ error: expect.stringContaining('Injected') });
      else await response.arrayBuffer();
    }
    const failures = statuses.filter((status) => status >= 500);
    expect(failures.length).toBeGreaterThan(15);
    expect(failures.length).toBeLessThan(45);
    expect(new Set(failures)).toEqual(new Set([500, 502, 503]));
    const stats = await control<Stats>(sandbox, 'GET', 'stats');
    expect(stats.injected.error5xx).toBe(failures.length);
    expect(stats.byStatus['200']).toBe(60 - failures.length);
  });

  it('repeats the same fault sequence for the same fault seed', async () => {
    const run = async () => {
      await control(sandbox, 'POST', 'faults', { error5xxRate: 0.3, rate429: 0.2, seed: 77 });
      const statuses: number[] = [];
      for (let i = 0; i < 30; i++) {
        const response = await providerGet(sandbox, '/v1/orders?limit=1');
        await response.arrayBuffer();
        statuses.push(response.status);
      }
      return statuses;
    };
    const first = await run();
    expect(await run()).toEqual(first);
    expect(first.some((status) => status !== 200)).toBe(true);
  });

  it('answers a share of requests with 429 and Retry-After: 1', async () => {
    await control(sandbox, 'POST', 'faults', { rate429: 1 });
    const response = await providerGet(sandbox, '/v1/orders');
    expect(response.status).toBe(429);
    expect(response.headers.get('retry-after')).toBe('1');
    expect(response.headers.get('x-ratelimit-limit')).toBe('1000000');
    expect(await response.json()).toEqual({ error: expect.any(String) });
  });

  it('delays every provider response by slowMs, but not the control API', async () => {
    await control(sandbox, 'POST', 'faults', { slowMs: 300 });
    const started = Date.now();
    const response = await providerGet(sandbox, '/v1/inventory?limit=1');
    expect(response.status).toBe(200);
    expect(Date.now() - started).toBeGreaterThanOrEqual(290);
    const controlStarted = Date.now();
    await control(sandbox, 'GET', 'faults');
    expect(Date.now() - controlStarted).toBeLessThan(290);
    // A client that gives up first sees a timeout, which is what slowMs is for.
    await expect(fetch(`${sandbox.url}/v1/inventory`, { headers: { 'X-Api-Key': sandbox.apiKey }, signal: AbortSignal.timeout(50) })).rejects.toThrow();
  });

  it('cuts bodies short so that reading a truncated response fails', async () => {
    await control(sandbox, 'POST', 'faults', { truncateRate: 1 });
    const response = await providerGet(sandbox, '/v1/payments?limit=50');
    expect(response.status).toBe(200);
    const declared = Number(response.headers.get('content-length'));
    expect(declared).toBeGreaterThan(1000);
    await expect(response.text()).rejects.toThrow();
    expect((await control<Stats>(sandbox, 'GET', 'stats')).injected.truncated).toBe(1);
  });

  it('echoes the credential headers in a 400 body, before routing, while echoCredentials is on', async () => {
    await control(sandbox, 'POST', 'faults', { echoCredentials: true });
    const keyed = await providerGet(sandbox, '/v1/customers?limit=1');
    expect(keyed.status).toBe(400);
    const text = await keyed.text();
    expect(text.indexOf(sandbox.apiKey)).toBeLessThan(100); // early, where a client's quote of the body reaches
    expect(JSON.parse(text)).toEqual({ echo: { authorization: null, 'x-api-key': sandbox.apiKey }, error: expect.stringContaining('Injected fault') });
    const bearer = await fetch(`${sandbox.url}/v1/customers/cus_0000001`, { method: 'PATCH', headers: { authorization: 'Bearer made-up-token-123' }, body: '{}' });
    expect(await bearer.json()).toMatchObject({ echo: { authorization: 'Bearer made-up-token-123', 'x-api-key': null } });
    expect((await control<Stats>(sandbox, 'GET', 'stats')).injected.echoedCredentials).toBe(2);
    await control(sandbox, 'POST', 'faults', {});
    expect((await providerGet(sandbox, '/v1/customers?limit=1')).status).toBe(200);
  });

  it('refuses the next writes with the status asked for, before writing, then writes again; reads pass', async () => {
    await control(sandbox, 'POST', 'faults', { rejectWrites: { status: 409, times: 2 } });
    const patch = () =>
      fetch(`${sandbox.url}/v1/customers/cus_0000001`, { method: 'PATCH', headers: { 'X-Api-Key': sandbox.apiKey, 'Content-Type': 'application/json' }, body: JSON.stringify({ name: 'Written At Last' }) });
    expect((await providerGet(sandbox, '/v1/customers/cus_0000001')).status).toBe(200);
    const refused = await patch();
    expect(refused.status).toBe(409);
    expect(await refused.json()).toEqual({ error: 'Injected fault: the provider refused the PATCH with HTTP 409; nothing was written.' });
    expect(await control(sandbox, 'GET', 'faults')).toMatchObject({ rejectWrites: { status: 409, times: 1 } });
    expect((await patch()).status).toBe(409);
    expect(((await providerJson<{ name: string }>(sandbox, '/v1/customers/cus_0000001')).name)).not.toBe('Written At Last');
    expect((await patch()).status).toBe(200);
    expect(((await providerJson<{ name: string }>(sandbox, '/v1/customers/cus_0000001')).name)).toBe('Written At Last');
    expect(await control(sandbox, 'GET', 'faults')).toMatchObject({ rejectWrites: null });
    const stats = await control<Stats & { writes: Record<string, number> }>(sandbox, 'GET', 'stats');
    expect(stats.injected.rejectedWrites).toBe(2);
    expect(stats.writes.updated).toBe(1);
  });

  it('sends the Retry-After asked for with a refused write (a 429 without one says 1)', async () => {
    const del = () => fetch(`${sandbox.url}/v1/orders/ord_0000003`, { method: 'DELETE', headers: { 'X-Api-Key': sandbox.apiKey } });
    await control(sandbox, 'POST', 'faults', { rejectWrites: { status: 429, retryAfterSeconds: 600 } });
    const limited = await del();
    expect([limited.status, limited.headers.get('retry-after')]).toEqual([429, '600']);
    await control(sandbox, 'POST', 'faults', { rejectWrites: { status: 429 } });
    expect((await del()).headers.get('retry-after')).toBe('1');
    await control(sandbox, 'POST', 'faults', { rejectWrites: { status: 413 } });
    const tooLarge = await del();
    expect([tooLarge.status, tooLarge.headers.get('retry-after')]).toEqual([413, null]);
    expect((await del()).status).toBe(204);
  });

  it('reports the settings, rejects bad ones by name and clears them with an empty body', async () => {
    const applied = await control(sandbox, 'POST', 'faults', { error5xxRate: 0.25, slowMs: 10 });
    expect(applied).toEqual({ error5xxRate: 0.25, rate429: 0, slowMs: 10, truncateRate: 0, echoCredentials: false, rejectWrites: null, seed: 42 });
    expect(await control(sandbox, 'GET', 'faults')).toEqual(applied);
    for (const [body, name] of [
      [{ error5xxRate: 2 }, 'error5xxRate'],
      [{ slowMs: -1 }, 'slowMs'],
      [{ error5xx: 0.1 }, 'error5xx'],
      [{ echoCredentials: 1 }, 'echoCredentials'],
      [{ rejectWrites: 409 }, 'rejectWrites'],
      [{ rejectWrites: { status: 200 } }, 'rejectWrites.status'],
      [{ rejectWrites: { status: 409, times: 0 } }, 'rejectWrites.times'],
      [{ rejectWrites: { status: 429, retryAfterSeconds: -1 } }, 'rejectWrites.retryAfterSeconds'],
      [{ rejectWrites: { status: 409, reason: 'x' } }, 'rejectWrites.reason'],
    ] as const) {
      const response = await fetch(`${sandbox.url}/_sandbox/faults`, { method: 'POST', body: JSON.stringify(body) });
      expect(response.status).toBe(400);
      expect(((await response.json()) as { error: string }).error).toContain(`'${name}'`);
    }
    expect(await control(sandbox, 'POST', 'faults', {})).toEqual({ error5xxRate: 0, rate429: 0, slowMs: 0, truncateRate: 0, echoCredentials: false, rejectWrites: null, seed: 42 });
    expect((await providerGet(sandbox, '/v1/customers')).status).toBe(200);
  });

  it('closes promptly while a slowed response is pending', async () => {
    await control(sandbox, 'POST', 'faults', { slowMs: 60_000 });
    const pending = providerGet(sandbox, '/v1/customers').catch((error: unknown) => error);
    await new Promise((resolve) => setTimeout(resolve, 50));
    const started = Date.now();
    await sandbox.close();
    expect(Date.now() - started).toBeLessThan(1000);
    // fetch rejects with a TypeError from Node's realm, not jest's, so compare by name.
    expect((await pending as Error).name).toBe('TypeError');
  });
});
