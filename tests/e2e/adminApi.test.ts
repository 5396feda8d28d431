import { connect } from 'node:net';
import { Harness } from '../support/harness';

describe('admin API: keys, roles, tenant isolation and honest errors', () => {
  let h: Harness;
  let otherKey: string;
  let viewerKey: string;
  let runId: string;

  beforeAll(async () => {
    h = await Harness.start({ sandbox: { recordsPerEntity: 20 } });
    await h.services.tenants.ensureTenant('t2', 'Tenant two');
    otherKey = (await h.services.tenants.issueApiKey('t2', 'admin', 'other')).key;
    viewerKey = (await h.services.tenants.issueApiKey('t1', 'viewer', 'viewer')).key;
    runId = await h.startSync('full');
    await h.waitForRun(runId);
  });
  afterAll(async () => h.close());

  test('health answers without a key and reports its dependency checks', async () => {
    const health = await h.api('GET', '/api/health', undefined, null);
    expect(health.status).toBe(200);
    expect(health.body).toMatchObject({ status: 'ok', platform: 'local', checks: { database: 'ok', queue: 'ok' } });
  });

  test('no key or an unknown key is 401, and nothing of the data leaks', async () => {
    const none = await h.api('GET', '/api/connections', undefined, null);
    expect(none.status).toBe(401);
    expect(none.body.error.message).toMatch(/x-api-key/);
    const bad = await h.api('GET', '/api/connections', undefined, 'sbk_not-a-real-key-at-all');
    expect(bad.status).toBe(401);
  });

  test('another tenant’s connection, runs and records are 404 to it, as if they did not exist', async () => {
    expect((await h.api('GET', '/api/connections', undefined, otherKey)).body.connections).toEqual([]);
    for (const path of ['/api/connections/shop', `/api/syncs/${runId}`, '/api/connections/shop/records?entity=customers', '/api/connections/shop/syncs']) {
      const response = await h.api('GET', path, undefined, otherKey);
      expect({ path, status: response.status }).toEqual({ path, status: 404 });
    }
    expect((await h.api('POST', '/api/connections/shop/syncs', { mode: 'full' }, otherKey)).status).toBe(404);
    expect((await h.api('POST', `/api/syncs/${runId}/cancel`, undefined, otherKey)).status).toBe(404);
  });

  test('a viewer may read but not start, steer or create', async () => {
    expect((await h.api('GET', '/api/connections/shop', undefined, viewerKey)).status).toBe(200);
    const start = await h.api('POST', '/api/connections/shop/syncs', { mode: 'full' }, viewerKey);
    expect(start.status).toBe(403);
    expect(start.body.error.message).toMatch(/operator/);
    expect((await h.api('POST', '/api/connections', { id: 'x', provider: 'sandbox', config: { baseUrl: h.sandboxUrl } }, viewerKey)).status).toBe(403);
  });

  test('bad input is a 400 that names the bad field, never a stack trace', async () => {
    const cases: Array<[string, string, unknown, RegExp]> = [
      ['POST', '/api/connections/shop/syncs', { mode: 'sideways' }, /^mode:/],
      ['POST', '/api/connections/shop/syncs', { mode: 'full', entities: ['planets'] }, /entities: "planets"/],
      ['POST', '/api/connections', { id: 'Bad Id!', provider: 'sandbox', config: { baseUrl: h.sandboxUrl } }, /^id must/],
      ['POST', '/api/connections', { id: 'ok', provider: 'nope', config: {} }, /Unknown provider "nope"/],
      ['POST', '/api/connections', { id: 'ok', provider: 'sandbox', config: { baseUrl: 'ftp://x' } }, /config.baseUrl/],
      ['POST', '/api/connections', { id: 'ok', provider: 'sandbox', config: { baseUrl: h.sandboxUrl }, schedule: { cron: '61 * * * * *' } }, /schedule.cron/],
      ['POST', '/api/connections', { id: 'ok', provider: 'sandbox', config: { baseUrl: h.sandboxUrl }, schedule: { timeZone: 'Mars/Olympus' } }, /schedule.timeZone/],
      ['POST', '/api/connections', '{"id": "broken', /not valid JSON/],
      ['GET', '/api/connections/shop/records?limit=0', undefined, /^limit:/],
      ['GET', '/api/connections/shop/records?modifiedAfter=yesterday', undefined, /^modifiedAfter:/],
    ];
    for (const [method, path, body, message] of cases) {
      const response = await h.api(method, path, body);
      expect({ path, body, status: response.status }).toEqual({ path, body, status: 400 });
      expect(response.body.error.message).toMatch(message);
      expect(JSON.stringify(response.body)).not.toMatch(/at .*\.ts:\d+/);
    }
  });

  test('JSON bodies are read from the streamed request (HTTP streams on), sent chunked or in pieces', async () => {
    // No Content-Length: fetch sends a stream body chunked, one piece per enqueue.
    const chunked = (text: string) => new ReadableStream<Uint8Array>({
      start(controller) {
        for (let at = 0; at < text.length; at += 7) controller.enqueue(Buffer.from(text.slice(at, at + 7)));
        controller.close();
      },
    });
    const send = (method: string, path: string, text: string) =>
      fetch(`${h.hostUrl}${path}`, { method, headers: { 'x-api-key': h.apiKey, 'content-type': 'application/json' }, body: chunked(text), duplex: 'half' } as RequestInit);
    const created = await send('POST', '/api/connections', JSON.stringify({ id: 'chunked', provider: 'sandbox', config: { baseUrl: h.sandboxUrl }, entities: ['customers'] }));
    expect(created.status).toBe(201);
    expect(await created.json()).toMatchObject({ id: 'chunked', provider: 'sandbox' });
    const bad = await send('POST', '/api/connections/chunked/syncs', '{"mode": "sideways"}');
    expect(bad.status).toBe(400);
    expect(((await bad.json()) as any).error.message).toMatch(/^mode:/);
    const broken = await send('POST', '/api/connections', '{"id": "broken');
    expect(broken.status).toBe(400);
    expect(((await broken.json()) as any).error.message).toMatch(/not valid JSON/);
  });

  test('a sender that hangs up mid-body is its failure: no 500, no exception in telemetry, nothing created', async () => {
    const exceptions = () => h.telemetryLines.filter((l) => JSON.parse(l).type === 'exception').length;
    const before = exceptions();
    const port = Number(new URL(h.hostUrl).port);
    for (const framing of ['content-length: 5000', 'transfer-encoding: chunked']) {
      const part = '{"id": "hung-up", ';
      await new Promise<void>((done, fail) => {
        const socket = connect(port, '127.0.0.1', () => {
          socket.write(`POST /api/connections HTTP/1.1\r\nhost: 127.0.0.1\r\nx-api-key: ${h.apiKey}\r\ncontent-type: application/json\r\n${framing}\r\n\r\n`);
          socket.write(framing.startsWith('transfer') ? `${part.length.toString(16)}\r\n${part}\r\n` : part);
          setTimeout(() => socket.destroy(), 100);
        });
        socket.on('close', () => done());
        socket.on('error', fail);
      });
    }
    await new Promise((r) => setTimeout(r, 300)); // the handlers' failed reads are answered by now
    expect(exceptions()).toBe(before);
    expect((await h.api('GET', '/api/connections/hung-up')).status).toBe(404);
  });

  test('unknown routes are 404, a wrong method is 405', async () => {
    expect((await h.api('GET', '/api/nothing/here')).status).toBe(404);
    expect((await h.api('DELETE', '/api/connections')).status).toBe(405);
  });

  test('without a valid key every non-public path and method is the same 401, so the API cannot be mapped', async () => {
    const probes: Array<[string, string]> = [
      ['GET', '/api/connections'], // a route
      ['DELETE', '/api/connections'], // a route's path, another method
      ['GET', '/api/nothing/here'], // no route
      ['PATCH', '/api/syncs/run_x/pause'],
      ['GET', '/api/webhooks/sandbox/shop'], // the receiver's path, a method it does not take
      ['POST', '/api/health'],
      ['GET', '/api/connect/sandbox/extra'], // below the connect flow's start route
    ];
    for (const key of [null, 'sbk_not-a-real-key-at-all']) {
      const answers = [];
      for (const [method, path] of probes) {
        const response = await h.api(method, path, undefined, key, { accept: 'application/json' }); // the connect flow answers HTML otherwise
        answers.push({ method, path, status: response.status, error: response.body?.error });
      }
      const expected = key === null ? 'Send your API key in the x-api-key header.' : 'The API key is not valid.';
      expect(answers).toEqual(probes.map(([method, path]) => ({ method, path, status: 401, error: { code: 'unauthorized', message: expected } })));
    }
    // The routes that are public by design still answer without a key.
    expect((await h.api('GET', '/api/health', undefined, null)).status).toBe(200);
    expect((await h.api('POST', '/api/webhooks/sandbox/shop', { id: 'evt_0' }, null)).status).toBe(404);
    expect((await h.api('GET', '/api/connect/callback?state=nope&code=x', undefined, null)).status).toBe(400);
  });

  test('GET /api/connections pages by limit (default 100, at most 1000) and an opaque cursor', async () => {
    await h.services.tenants.ensureTenant('t3', 'Tenant three');
    const key = (await h.services.tenants.issueApiKey('t3', 'admin', 'many')).key;
    const ids = Array.from({ length: 101 }, (_, i) => `many-${String(i).padStart(3, '0')}`);
    for (const id of ids) {
      const created = await h.api('POST', '/api/connections', { id, provider: 'sandbox', config: { baseUrl: h.sandboxUrl }, schedule: { enabled: false } }, key);
      expect(created.status).toBe(201);
    }
    const pageOf = async (query: string) => {
      const response = await h.api('GET', `/api/connections${query}`, undefined, key);
      expect(response.status).toBe(200);
      return response.body as { connections: Array<{ id: string }>; nextCursor: string | null };
    };

    const first = await pageOf('');
    expect(first.connections.map((c) => c.id)).toEqual(ids.slice(0, 100));
    expect(typeof first.nextCursor).toBe('string');
    const last = await pageOf(`?cursor=${encodeURIComponent(first.nextCursor!)}`);
    expect(last).toEqual({ connections: [expect.objectContaining({ id: ids[100] })], nextCursor: null });
    // A page shows each connection as GET /api/connections/{id} does (no credentials).
    expect(first.connections[0]).toEqual((await h.api('GET', `/api/connections/${ids[0]}`, undefined, key)).body);

    const sizes: number[] = [];
    const seen: string[] = [];
    let cursor: string | null = null;
    do {
      const page = await pageOf(`?limit=40${cursor === null ? '' : `&cursor=${encodeURIComponent(cursor)}`}`);
      sizes.push(page.connections.length);
      seen.push(...page.connections.map((c) => c.id));
      cursor = page.nextCursor;
    } while (cursor !== null && sizes.length < 10);
    expect([sizes, seen]).toEqual([[40, 40, 21], ids]);
    expect((await pageOf('?limit=1000')).connections).toHaveLength(101);

    for (const [query, message] of [['?limit=0', /^limit:/], ['?limit=1001', /^limit:/], ['?limit=ten', /^limit:/], ['?cursor=bm90LW91cnM', /cursor/]] as const) {
      const response = await h.api('GET', `/api/connections${query}`, undefined, key);
      expect({ query, status: response.status, code: response.body.error?.code }).toEqual({ query, status: 400, code: 'validation' });
      expect(response.body.error.message).toMatch(message);
    }
  });

  test('a second run for a connection with an open run is refused with 409', async () => {
    await h.sandbox('POST', 'faults', { slowMs: 100 });
    const first = await h.startSync('full');
    const second = await h.api('POST', '/api/connections/shop/syncs', { mode: 'incremental' });
    expect(second.status).toBe(409);
    expect(second.body.error.message).toContain(first);
    await h.api('POST', `/api/syncs/${first}/cancel`);
    await h.sandbox('POST', 'faults', { slowMs: 0 });
  });

  test('the connection view never shows credentials', async () => {
    const view = await h.api('GET', '/api/connections/shop');
    expect(view.body.hasCredentials).toBe(true);
    expect(JSON.stringify(view.body)).not.toContain('sandbox-api-key');
    expect(view.body.credentialRef).toBeUndefined();
  });

  test('the webhook route answers 404 for a connection without webhook secrets, and enqueues nothing', async () => {
    const before = h.platform.queue.depth('sync-inbound');
    const response = await h.api('POST', '/api/webhooks/sandbox/shop', { id: 'evt_1' }, null);
    expect(response.status).toBe(404); // docs/webhook-intake.md; the full matrix is tests/e2e/webhookIntake.test.ts
    expect(response.body.error.code).toBe('not_found');
    expect(h.platform.queue.depth('sync-inbound')).toEqual(before);
  });
});
