import { randomBytes } from 'node:crypto';
import { QUEUES } from '../../shared/ports/queue';
import { Harness } from '../support/harness';
import { deliveryById, postAcceptedWebhook } from '../support/signedWebhook';

/**
 * A delivery waiting for a scheduled fetch retry is replayed by hand meanwhile. Each message's
 * record writes are safe (their step ids differ), but the delivery's status was whichever message
 * finished last: the replay applied it, then the older retry fetched again, failed and marked it
 * `failed`. The delivery's status must be that of its newest attempt. The real stack (sandbox over
 * HTTP, local host and queue), with the delivery log on SQLite and on Cosmos DB (loopback).
 */
const secret = `whsec_${randomBytes(24).toString('base64')}`;

describe.each(['local', 'azure'] as const)('a fetch retry older than a hand replay (%s platform)', (platform) => {
  let h: Harness;
  let productId: string;

  /** Posts a signed Standard Webhooks delivery to the demo connection; returns its delivery id. */
  const post = (event: unknown) => postAcceptedWebhook(h, 'shop', secret, event);
  const delivery = (id: string) => deliveryById(h, 'shop', id);

  const error5xx = async () => (await h.sandbox<{ injected: { error5xx: number } }>('GET', 'stats')).injected.error5xx;

  beforeEach(async () => {
    // The first retry waits 3 s (random 0.5 of a 4 s ceiling): time for the replay to finish first.
    // Two attempts in all, so the stale retry, failing too, would give up and mark the delivery failed.
    h = await Harness.start({ platform, sandbox: { recordsPerEntity: 5 }, engine: { retry: { initialDelayMs: 4_000, maxDelayMs: 4_000, maxAttempts: 2 } } });
    await h.waitForRun(await h.startSync('full'));
    expect((await h.api('PUT', '/api/connections/shop/webhook', { secrets: [secret] })).status).toBe(200);
    productId = (await h.api('GET', '/api/connections/shop/records?entity=products&limit=1')).body.records[0].externalId;
  }, 60_000);

  afterEach(async () => h?.close());

  test('the retry that comes after the replay applied the delivery leaves it applied', async () => {
    await h.sandbox('POST', 'faults', { error5xxRate: 1 });
    const id = await post({ type: 'products.updated', data: { entity: 'products', id: productId } });
    const waiting = await h.waitFor('the delivery to wait for its retry', async () => {
      const entry = await delivery(id);
      return entry?.detail?.startsWith('Waiting to retry') ? entry : undefined;
    });
    expect(waiting.status).toBe('received');

    // The provider is back; the operator replays the delivery by hand before the retry is due.
    await h.sandbox('POST', 'faults', {});
    const replay = await h.api('POST', `/api/deliveries/${id}/replay`);
    expect(replay.status).toBe(202);
    const replayed = await h.waitFor('the replay to apply', async () => {
      const entry = await delivery(id);
      return entry?.status === 'applied' ? entry : undefined;
    });
    expect(replayed.replays).toBe(1);

    // The provider fails again; the older retry comes due and finds the delivery replayed since.
    await h.sandbox('POST', 'faults', { error5xxRate: 1 });
    const failedCallsBefore = await error5xx();
    await h.waitFor('the scheduled retry to be handled', async () => {
      const depth = h.platform.queue.depth(QUEUES.inbound);
      return depth.active === 0 && depth.scheduled === 0 && depth.locked === 0;
    }, 20_000);
    const after = await delivery(id);
    expect({ status: after.status, detail: after.detail, replays: after.replays }).toEqual({ status: 'applied', detail: null, replays: 1 });
    expect(await error5xx()).toBe(failedCallsBefore); // the stale retry did not call the provider
    expect((await h.api('GET', '/api/connections/shop/webhook')).body.health.failures).toBe(0);
    // The local platform's telemetry is lines in the harness (the azure one goes to Application Insights).
    if (platform === 'local') expect(h.telemetryLines.some((line) => line.includes('Webhook message skipped: the delivery was replayed since.') && line.includes(id))).toBe(true);
  }, 60_000);

  test('a replay the queue refused does not take over: the waiting retry still applies the delivery', async () => {
    await h.sandbox('POST', 'faults', { error5xxRate: 1 });
    const id = await post({ type: 'products.updated', data: { entity: 'products', id: productId } });
    await h.waitFor('the delivery to wait for its retry', async () => ((await delivery(id))?.detail?.startsWith('Waiting to retry') ? true : undefined));
    await h.sandbox('POST', 'faults', {});

    // The replay's send fails: the delivery is put back as it was (received, waiting), its count up.
    const queue = h.platform.queue as unknown as { send: (...args: unknown[]) => Promise<void> };
    queue.send = async () => {
      throw new Error('Service Bus send to sync-inbound failed: ServiceBusy (simulated).');
    };
    try {
      expect((await h.api('POST', `/api/deliveries/${id}/replay`)).status).toBe(503);
    } finally {
      delete (h.platform.queue as { send?: unknown }).send;
    }
    expect(await delivery(id)).toMatchObject({ status: 'received', replays: 1, detail: expect.stringMatching(/^Waiting to retry/) });

    // The retry (replay number 0) is the only message left: it applies the delivery.
    const settled = await h.waitFor('the retry to apply', async () => {
      const entry = await delivery(id);
      return entry?.status !== 'received' ? entry : undefined;
    }, 20_000);
    expect({ status: settled.status, detail: settled.detail }).toEqual({ status: 'applied', detail: null });
  }, 60_000);
});
