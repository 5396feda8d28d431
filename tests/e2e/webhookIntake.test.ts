import { KEPT_HEADERS } from '../../shared/core/webhookIntake/schemeEvents';
import { deliveryIdFor } from '../../shared/core/webhookIntake/receiver';
import { createHmac, randomBytes } from 'node:crypto';
import { connect } from 'node:net';
import { QUEUES } from '../../shared/ports/queue';
import { Harness } from '../support/harness';
import { partialUpload } from '../support/partialUpload';
import { slowSender } from '../support/slowSender';

/**
 * Webhook intake on the real stack: the sandbox sends signed Standard Webhooks to the local host,
 * the receiver verifies and enqueues, the inbound worker applies through the pull pipeline.
 */
const secret = () => `whsec_${randomBytes(24).toString('base64')}`;

function sign(key: string, id: string, timestamp: number, body: string): string {
  const bytes = Buffer.from(key.slice('whsec_'.length), 'base64');
  return `v1,${createHmac('sha256', bytes).update(`${id}.${timestamp}.${body}`).digest('base64')}`;
}

describe('webhook intake (sandbox → local host)', () => {
  let h: Harness;
  const active = secret();
  const url = () => `${h.hostUrl}/api/webhooks/sandbox/shop`;

  /** Posts a hand-made delivery, signed with `key` unless a signature is given. */
  async function post(body: string, options: { key?: string; id?: string; timestamp?: number; signature?: string; path?: string } = {}) {
    const id = options.id ?? `msg_${randomBytes(8).toString('hex')}`;
    const timestamp = options.timestamp ?? Math.floor(Date.now() / 1000);
    const response = await fetch(options.path ? `${h.hostUrl}${options.path}` : url(), {
      method: 'POST',
      headers: {
        'content-type': 'application/json',
        'webhook-id': id,
        'webhook-timestamp': String(timestamp),
        'webhook-signature': options.signature ?? sign(options.key ?? active, id, timestamp, body),
      },
      body,
    });
    return { status: response.status, body: (await response.json().catch(() => undefined)) as any, id };
  }

  async function deliveries(limit = 500): Promise<any[]> {
    const response = await h.api('GET', `/api/connections/shop/deliveries?limit=${limit}`);
    expect(response.status).toBe(200);
    return response.body.deliveries;
  }

  async function stored(entity: string, id: string): Promise<any> {
    const page = await h.api('GET', `/api/connections/shop/records?entity=${entity}&limit=1000`);
    return page.body.records.find((r: any) => r.externalId === id);
  }

  beforeAll(async () => {
    // The provider's circuit (shared/http/connectionLimits.ts) opens after five 5xx in a row; a
    // short cool-down lets the failing-fetch test below run out its attempts in seconds, not minutes.
    h = await Harness.start({ sandbox: { recordsPerEntity: 30 }, connectionConfig: { circuitCoolDownMs: 50 } });
    await h.waitForRun(await h.startSync('full'));
    const set = await h.api('PUT', '/api/connections/shop/webhook', { secrets: [active] });
    expect(set.status).toBe(200);
    await h.sandbox('POST', 'webhooks', { url: url(), secret: active, idOnlyEntities: ['products'], duplicateRate: 1, initialRetryMs: 50 });
  }, 60_000);

  afterAll(async () => {
    await h?.close();
  });

  it('never returns the secrets, and shows health', async () => {
    const view = await h.api('GET', '/api/connections/shop/webhook');
    expect(view.status).toBe(200);
    expect(view.body).toMatchObject({ configured: true, secretCount: 1 });
    expect(JSON.stringify(view.body)).not.toContain(active.slice(6, 20));
  });

  it('brings a change made in the sandbox into the records API within a second, with no sync run', async () => {
    const runsBefore = (await h.api('GET', '/api/connections/shop/syncs')).body;
    const { updated } = await h.sandbox<{ updated: string[] }>('POST', 'mutate', { entity: 'customers', update: 1 });
    const expected = await h.sandbox('GET', `records/customers/${updated[0]}`);
    const started = Date.now();
    const record = await h.waitFor('the webhook change', async () => {
      const r = await stored('customers', updated[0]);
      return r && r.metadata.sourceUpdatedAt === expected.updated_at && r;
    }, 5_000);
    expect(Date.now() - started).toBeLessThan(1_500);
    expect(record.data).toEqual(expected);
    expect(record.metadata.lastAction).toBe('updated');
    expect((await h.api('GET', '/api/connections/shop/syncs')).body).toEqual(runsBefore);
    // Receipt-to-enqueued latency is reported per accepted delivery.
    const latencies = h.telemetryLines.map((l) => JSON.parse(l)).filter((l) => l.type === 'metric' && l.name === 'WebhookLatencyMs' && l.properties?.connectionId === 'shop');
    expect(latencies.length).toBeGreaterThan(0);
    expect(latencies.every((l) => typeof l.value === 'number' && l.value >= 0)).toBe(true);
  });

  it('applies creates and deletes, and fetches id-only entities from the provider', async () => {
    const { created } = await h.sandbox<{ created: string[] }>('POST', 'mutate', { entity: 'customers', create: 1 });
    const { deleted } = await h.sandbox<{ deleted: string[] }>('POST', 'mutate', { entity: 'customers', delete: 1 });
    const products = await h.sandbox<{ updated: string[] }>('POST', 'mutate', { entity: 'products', update: 1 });
    const product = await h.sandbox('GET', `records/products/${products.updated[0]}`);
    await h.waitFor('create, delete and id-only update', async () => {
      const [c, d, p] = await Promise.all([stored('customers', created[0]), stored('customers', deleted[0]), stored('products', products.updated[0])]);
      return c && !c.metadata.deleted && d?.metadata.deleted && p?.metadata.sourceUpdatedAt === product.updated_at;
    }, 5_000);
    expect((await stored('products', products.updated[0])).data).toEqual(product);
    const log = await deliveries();
    const idOnly = log.find((d) => d.eventType === 'products.updated');
    expect(idOnly.status).toBe('applied');
  });

  it('drops duplicates: the sandbox sends every event twice, and a hand-replayed identical request', async () => {
    await h.waitFor('the sandbox to deliver everything', async () => {
      const { targets } = await h.sandbox('GET', 'webhooks');
      return targets[0].pending === 0 && targets[0].duplicatesSent >= 4 && targets[0];
    });
    const log = await deliveries();
    const ids = log.map((d) => d.webhookId);
    expect(new Set(ids).size).toBe(ids.length);
    const sent = await h.sandbox('GET', 'webhooks/deliveries?limit=1000');
    const okIds = new Set(sent.deliveries.filter((d: any) => d.ok).map((d: any) => d.messageId));
    expect(new Set(ids)).toEqual(okIds);

    const body = JSON.stringify({ id: 'evt_hand', type: 'customers.updated', data: { entity: 'customers', record: { id: 'cus_0000002', name: 'Hand', updated_at: '2027-01-01T00:00:00Z' } } });
    const first = await post(body, { id: 'evt_hand_1' });
    expect(first.status).toBe(202);
    // The log row keeps the request headers that name or date the event, and none other (no
    // signature, no host): read in one pass over the request's headers.
    const kept = (await h.platform.deliveries.get(first.body.deliveryId))!.headers;
    expect(kept).toMatchObject({ 'webhook-id': 'evt_hand_1', 'content-type': 'application/json', 'content-length': String(Buffer.byteLength(body)) });
    expect(kept['webhook-timestamp']).toMatch(/^\d+$/);
    expect(Object.keys(kept).filter((name) => !KEPT_HEADERS.includes(name))).toEqual([]);
    expect(kept).not.toHaveProperty('webhook-signature');
    const depth = h.platform.queue.depth(QUEUES.inbound);
    const again = await post(body, { id: 'evt_hand_1' });
    expect(again.status).toBe(200);
    expect(again.body).toEqual({ deliveryId: first.body.deliveryId, duplicate: true });
    expect(h.platform.queue.depth(QUEUES.inbound).active).toBeLessThanOrEqual(depth.active);
    await h.waitFor('the hand delivery', async () => (await stored('customers', 'cus_0000002'))?.data.name === 'Hand');
    expect((await deliveries()).filter((d) => d.webhookId === 'evt_hand_1')).toHaveLength(1);

    // Taken earlier by the journal (a start with the applier thread on this data folder) under an
    // id that begins with its receipt time: this intake (the group commit) names that id, from the
    // claim, not one derived again.
    const journaledId = 'dlv_0mi9x2k3ptakenbyjournal01';
    await h.platform.idempotency.claim('webhook:shop:evt_journaled', 60_000);
    await h.platform.idempotency.complete('webhook:shop:evt_journaled', journaledId, { ttlMs: 60_000 });
    const resent = await post(body, { id: 'evt_journaled' });
    expect({ status: resent.status, body: resent.body }).toEqual({ status: 200, body: { deliveryId: journaledId, duplicate: true } });
    // One claimed before claims held ids (the word 'enqueued'): its delivery had the derived id.
    await h.platform.idempotency.claim('webhook:shop:evt_older', 60_000);
    await h.platform.idempotency.complete('webhook:shop:evt_older', 'enqueued', { ttlMs: 60_000 });
    const older = await post(body, { id: 'evt_older' });
    expect({ status: older.status, body: older.body }).toEqual({ status: 200, body: { deliveryId: deliveryIdFor('shop', 'evt_older'), duplicate: true } });
  });

  describe('bad input gets its status, with nothing stored or enqueued', () => {
    const event = JSON.stringify({ id: 'evt_bad', type: 'customers.updated', data: { entity: 'customers', record: { id: 'cus_0000004', name: 'Evil', updated_at: '2030-01-01T00:00:00Z' } } });

    async function expectNothingHappened<T extends { status: number; body: any }>(action: () => Promise<T>, status: number): Promise<T> {
      await h.waitFor('an idle queue', async () => h.platform.queue.depth(QUEUES.inbound).active === 0);
      const logBefore = (await deliveries()).length;
      const recordBefore = await stored('customers', 'cus_0000004');
      const depthBefore = h.platform.queue.depth(QUEUES.inbound);
      const response = await action();
      expect(response.status).toBe(status);
      expect(JSON.stringify(response.body ?? '')).not.toContain(active.slice(6, 20));
      expect(h.platform.queue.depth(QUEUES.inbound)).toEqual(depthBefore);
      await new Promise((r) => setTimeout(r, 150)); // had anything been enqueued, the worker would have run by now
      expect((await deliveries()).length).toBe(logBefore);
      expect(await stored('customers', 'cus_0000004')).toEqual(recordBefore);
      return response;
    }

    it('bad signature → 401 with a generic message', async () => {
      const response = await expectNothingHappened(() => post(event, { key: secret() }), 401);
      expect(response.body.error.message).toBe('The webhook signature could not be verified.');
      const health = (await h.api('GET', '/api/connections/shop/webhook')).body.health;
      expect(health.rejected).toBeGreaterThan(0);
    });

    it('a signature of another body → 401', async () => {
      const id = 'evt_tamper';
      const ts = Math.floor(Date.now() / 1000);
      await expectNothingHappened(() => post(event, { id, timestamp: ts, signature: sign(active, id, ts, event.replace('Evil', 'Nice')) }), 401);
    });

    it('stale timestamp → 401', async () => {
      await expectNothingHappened(() => post(event, { timestamp: Math.floor(Date.now() / 1000) - 3600 }), 401);
    });

    it('unknown connection → 404, and a wrong provider → 404', async () => {
      await expectNothingHappened(() => post(event, { path: '/api/webhooks/sandbox/nope' }), 404);
      await expectNothingHappened(() => post(event, { path: '/api/webhooks/stripe/shop' }), 404);
    });

    it('malformed JSON → 400 (signature valid)', async () => {
      await expectNothingHappened(() => post('{"id": "evt_x", "type": '), 400);
    });

    it('over 1 MB → 413', async () => {
      const big = JSON.stringify({ id: 'evt_big', type: 'customers.updated', data: { entity: 'customers', record: { id: 'cus_0000004', pad: 'x'.repeat(1024 * 1024) } } });
      await expectNothingHappened(() => post(big), 413);
    });

    describe('a body the receiver refuses is not read (HTTP streams on)', () => {
      const MB = 1024 * 1024;
      const port = () => Number(new URL(h.hostUrl).port);
      /** Signed headers for a body of which only part will be sent. */
      const signedHeaders = (body: string, extra: Record<string, string>) => {
        const id = `msg_${randomBytes(8).toString('hex')}`;
        const timestamp = Math.floor(Date.now() / 1000);
        return { 'content-type': 'application/json', 'webhook-id': id, 'webhook-timestamp': String(timestamp), 'webhook-signature': sign(active, id, timestamp, body), ...extra };
      };
      const bigEvent = JSON.stringify({ id: 'evt_huge', type: 'customers.updated', data: { entity: 'customers', record: { id: 'cus_0000004', pad: 'x'.repeat(4 * MB) } } });

      it('an unknown connection → 404 after 64 KB of its body, chunked (4 MB coming) or declared (900 KB), and the connection closes unread', async () => {
        const event = JSON.stringify({ id: 'evt_900k', type: 'customers.updated', data: { entity: 'customers', record: { id: 'cus_0000004', pad: 'x'.repeat(900 * 1024) } } });
        for (const [body, framing] of [[bigEvent, { 'transfer-encoding': 'chunked' }], [event, { 'content-length': String(Buffer.byteLength(event)) }]] as const) {
          const answer = await expectNothingHappened(async () => {
            const result = await partialUpload({ port: port(), path: '/api/webhooks/sandbox/nope', headers: signedHeaders(body, framing), send: Buffer.from(body).subarray(0, 64 * 1024) });
            return { status: result.status, body: undefined, result };
          }, 404);
          expect(answer.result).toMatchObject({ headers: { connection: 'close' }, serverClosed: true });
        }
      });

      it('a Content-Length over 1 MB → 413 before any of the body is sent', async () => {
        const answer = await expectNothingHappened(async () => {
          const result = await partialUpload({ port: port(), path: '/api/webhooks/sandbox/shop', headers: signedHeaders(bigEvent, { 'content-length': String(MB + 1) }), send: Buffer.alloc(0) });
          return { status: result.status, body: undefined, result };
        }, 413);
        expect(answer.result).toMatchObject({ headers: { connection: 'close' }, serverClosed: true });
      });

      it('a chunked body that grows past 1 MB → 413 as it crosses, without the rest', async () => {
        const answer = await expectNothingHappened(async () => {
          // 1 MB and 64 KB of a 4 MB event, in 64 KB chunks, and never the last chunk.
          const result = await partialUpload({ port: port(), path: '/api/webhooks/sandbox/shop', headers: signedHeaders(bigEvent, { 'transfer-encoding': 'chunked' }), send: Buffer.from(bigEvent).subarray(0, MB + 64 * 1024) });
          return { status: result.status, body: undefined, result };
        }, 413);
        expect(answer.result).toMatchObject({ headers: { connection: 'close' }, serverClosed: true });
      });

      it('a sender that hangs up mid-body → nothing stored or enqueued, and no exception in telemetry (it is not our failure)', async () => {
        const exceptions = () => h.telemetryLines.filter((l) => JSON.parse(l).type === 'exception').length;
        const before = exceptions();
        const framings: Array<Record<string, string>> = [{ 'content-length': String(Buffer.byteLength(bigEvent)) }, { 'transfer-encoding': 'chunked' }];
        for (const framing of framings) {
          await expectNothingHappened(async () => {
            await new Promise<void>((done, fail) => {
              const socket = connect(port(), '127.0.0.1', () => {
                const head = Object.entries(signedHeaders(bigEvent, framing)).map(([k, v]) => `${k}: ${v}`).join('\r\n');
                socket.write(`POST /api/webhooks/sandbox/shop HTTP/1.1\r\nhost: 127.0.0.1\r\n${head}\r\n\r\n`);
                const part = Buffer.from(bigEvent).subarray(0, 1000);
                socket.write(framing['transfer-encoding'] ? Buffer.concat([Buffer.from(`${part.length.toString(16)}\r\n`), part, Buffer.from('\r\n')]) : part);
                setTimeout(() => socket.destroy(), 100);
              });
              socket.on('close', () => done());
              socket.on('error', fail);
            });
            await new Promise((r) => setTimeout(r, 200)); // the handler's failed read has been answered by now
            return { status: 0, body: undefined };
          }, 0);
        }
        expect(exceptions()).toBe(before);
        expect((await post(event)).status).toBe(202); // and the host serves the next delivery
      });

      it('a signed delivery sent chunked, within the limit, is verified over its exact bytes and accepted', async () => {
        const event = JSON.stringify({ id: 'evt_chunked', type: 'customers.updated', data: { entity: 'customers', record: { id: 'cus_0000005', name: 'Chunked ✓', updated_at: '2031-01-01T00:00:00Z' } } });
        const bytes = Buffer.from(event);
        const pieces = new ReadableStream<Uint8Array>({
          start(controller) {
            // Split inside the multi-byte ✓ too: the signature is over the bytes, not the text.
            for (let at = 0; at < bytes.length; at += 13) controller.enqueue(bytes.subarray(at, at + 13));
            controller.close();
          },
        });
        const response = await fetch(url(), { method: 'POST', headers: signedHeaders(event, {}), body: pieces, duplex: 'half' } as RequestInit);
        expect(response.status).toBe(202);
        await h.waitFor('the chunked delivery applied', async () => (await stored('customers', 'cus_0000005'))?.data.name === 'Chunked ✓');
      });
    });

    it('a secret rotated out → 401, while the new and (during rotation) the old one verify', async () => {
      const next = secret();
      expect((await h.api('PUT', '/api/connections/shop/webhook', { secrets: [next, active] })).status).toBe(200);
      const body = (n: string) => JSON.stringify({ id: n, type: 'customers.updated', data: { entity: 'customers', record: { id: 'cus_0000006', name: n, updated_at: '2027-01-01T00:00:00Z' } } });
      expect((await post(body('old-during'), { key: active })).status).toBe(202);
      expect((await post(body('new-during'), { key: next })).status).toBe(202);
      expect((await h.api('PUT', '/api/connections/shop/webhook', { secrets: [next] })).status).toBe(200);
      await expectNothingHappened(() => post(body('old-after'), { key: active }), 401);
      expect((await post(body('new-after'), { key: next })).status).toBe(202);
      // Put the sandbox's secret back for the tests after this one.
      expect((await h.api('PUT', '/api/connections/shop/webhook', { secrets: [active] })).status).toBe(200);
    });

    it('rejects bad secrets on rotation and another tenant\'s connection', async () => {
      expect((await h.api('PUT', '/api/connections/shop/webhook', { secrets: ['not-a-secret'] })).status).toBe(400);
      expect((await h.api('PUT', '/api/connections/nope/webhook', { secrets: [secret()] })).status).toBe(404);
      expect((await h.api('GET', '/api/connections/nope/deliveries')).status).toBe(404);
      expect((await h.api('POST', '/api/deliveries/dlv_nope/replay')).status).toBe(404);
    });
  });

  it('logs unknown event types as ignored and acknowledges them', async () => {
    const response = await post(JSON.stringify({ id: 'evt_ping', type: 'endpoint.ping', data: {} }));
    expect(response.status).toBe(202);
    const entry = await h.waitFor('the ignored delivery', async () => (await deliveries()).find((d) => d.id === response.body.deliveryId && d.status !== 'received'));
    expect(entry).toMatchObject({ status: 'ignored', eventType: 'endpoint.ping' });
    expect(entry.detail).toContain('Not a record event');
  });

  it('replays a failed delivery once the provider is back', async () => {
    await h.sandbox('POST', 'faults', { error5xxRate: 1 });
    const { updated } = await h.sandbox<{ updated: string[] }>('POST', 'mutate', { entity: 'products', update: 1 });
    // Retried by scheduled messages with backoff until the attempts run out (webhookApplyFailures.test.ts).
    const failed = await h.waitFor('the id-only fetch to fail for good', async () => (await deliveries()).find((d) => d.eventType === 'products.updated' && d.status === 'failed'));
    expect(failed.detail).toMatch(/^Gave up after 8 attempts: /);
    await h.sandbox('POST', 'faults', {});
    const product = await h.sandbox('GET', `records/products/${updated[0]}`);
    expect((await stored('products', updated[0]))?.metadata.sourceUpdatedAt).not.toBe(product.updated_at);

    const replay = await h.api('POST', `/api/deliveries/${failed.id}/replay`);
    expect(replay.status).toBe(202);
    expect(replay.body).toEqual({ deliveryId: failed.id, replay: 1 });
    await h.waitFor('the replayed delivery', async () => (await stored('products', updated[0]))?.metadata.sourceUpdatedAt === product.updated_at);
    const entry = (await deliveries()).find((d) => d.id === failed.id);
    expect(entry).toMatchObject({ status: 'applied', replays: 1 });
    const health = (await h.api('GET', '/api/connections/shop/webhook')).body.health;
    expect(health.failures).toBeGreaterThan(0);
    expect(health.lastReceivedAt).not.toBeNull();
  });

  it('lists the delivery log newest first, paged, without bodies', async () => {
    const all = await deliveries();
    const first = await h.api('GET', '/api/connections/shop/deliveries?limit=2');
    expect(first.body.deliveries.map((d: any) => d.id)).toEqual(all.slice(0, 2).map((d) => d.id));
    const second = await h.api('GET', `/api/connections/shop/deliveries?limit=2&cursor=${first.body.nextCursor}`);
    expect(second.body.deliveries.map((d: any) => d.id)).toEqual(all.slice(2, 4).map((d) => d.id));
    expect(all[0].body).toBeUndefined();
    expect(all[0].headers['webhook-signature']).toBeUndefined();
    expect(Date.parse(all[0].receivedAt)).toBeGreaterThanOrEqual(Date.parse(all[all.length - 1].receivedAt));
  });

  it('keeps secrets out of the telemetry and host logs', () => {
    const logs = [...h.telemetryLines, ...h.hostLines].join('\n');
    expect(logs).not.toContain(active.slice(6, 20));
  });
});

describe('webhook intake from a slow sender (local host request timeout, HTTP streams on)', () => {
  // Node's defaults (a 300 s request timeout checked every 30 s) would leave this sender connected,
  // and the receiver waiting on its body, far past the test's window.
  const timeouts = { headersTimeoutMs: 300, requestTimeoutMs: 600 };
  let h: Harness;
  const active = secret();

  beforeAll(async () => {
    h = await Harness.start({ sandbox: { recordsPerEntity: 5 }, host: timeouts });
    expect((await h.api('PUT', '/api/connections/shop/webhook', { secrets: [active] })).status).toBe(200);
  }, 60_000);

  afterAll(async () => {
    await h?.close();
  });

  it('a signed delivery whose body trickles past the request timeout → 408 and the connection closes; nothing stored or enqueued, no exception recorded', async () => {
    const event = JSON.stringify({ id: 'evt_slow', type: 'customers.updated', data: { entity: 'customers', record: { id: 'cus_0000001', name: 'Slow', updated_at: '2032-01-01T00:00:00Z' } } });
    const id = 'msg_slow';
    const timestamp = Math.floor(Date.now() / 1000);
    const headers = { 'content-type': 'application/json', 'content-length': String(Buffer.byteLength(event)), 'webhook-id': id, 'webhook-timestamp': String(timestamp), 'webhook-signature': sign(active, id, timestamp, event) };
    const head = `POST /api/webhooks/sandbox/shop HTTP/1.1\r\nhost: 127.0.0.1\r\n${Object.entries(headers).map(([k, v]) => `${k}: ${v}`).join('\r\n')}\r\n\r\n`;
    const deliveries = async () => (await h.api('GET', '/api/connections/shop/deliveries?limit=500')).body.deliveries as Array<{ webhookId: string }>;
    const stored = async () => (await h.api('GET', '/api/connections/shop/records?entity=customers&limit=1000')).body.records.find((r: any) => r.externalId === 'cus_0000001');
    const exceptions = () => h.telemetryLines.filter((l) => JSON.parse(l).type === 'exception').length;
    const before = { deliveries: (await deliveries()).length, depth: h.platform.queue.depth(QUEUES.inbound), record: await stored(), exceptions: exceptions() };

    // The headers at once, then the body a byte every 50 ms: far slower than the timeout allows.
    const client = await slowSender({ port: Number(new URL(h.hostUrl).port), first: head, trickle: event, giveUpAfterMs: 3_000 });
    expect(client.statuses).toEqual([408]);
    expect(client.closedAfterMs).toBeGreaterThanOrEqual(timeouts.requestTimeoutMs - 20);
    expect(client.closedAfterMs).toBeLessThan(timeouts.requestTimeoutMs + 300);
    expect(client.trickled).toBeLessThan(Buffer.byteLength(event));

    await new Promise((r) => setTimeout(r, 200)); // had anything been enqueued, the worker would have run by now
    expect(h.platform.queue.depth(QUEUES.inbound)).toEqual(before.depth);
    expect((await deliveries()).length).toBe(before.deliveries);
    expect(await stored()).toEqual(before.record);
    // The receiver's read failed as the sender's fault (a 400 nobody hears), not as a crash.
    expect(exceptions()).toBe(before.exceptions);
    expect(h.hostLines.filter((l) => /\[error\]/.test(l))).toEqual([]);
    expect(h.hostLines.filter((l) => l.includes('webhookReceiver ('))).toEqual([expect.stringMatching(/\[warning\] .*The request body could not be read to its end/)]);

    // The same delivery sent whole is accepted: the cut was about the pace, not the delivery.
    const whole = await fetch(`${h.hostUrl}/api/webhooks/sandbox/shop`, { method: 'POST', headers, body: event });
    expect(whole.status).toBe(202);
    expect((await deliveries()).map((d) => d.webhookId)).toContain(id);
  });
});
