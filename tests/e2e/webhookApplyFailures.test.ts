import { randomBytes } from 'node:crypto';
import { QUEUES } from '../../shared/ports/queue';
import { Harness } from '../support/harness';
import { deliveryById, postAcceptedWebhook } from '../support/signedWebhook';

/**
 * What the webhook worker does when applying a delivery fails, on the real stack (sandbox over
 * HTTP, local host, local queue with its real maxDeliveryCount of 10): a rate-limited or failing
 * provider is retried by scheduled messages, not by ten immediate redeliveries; so is our own
 * failure, and on its last try it is recorded as failed instead of left `received`.
 */
const secret = `whsec_${randomBytes(24).toString('base64')}`;

describe('webhook apply failures (sandbox → local host)', () => {
  let h: Harness;
  let productId: string;

  /** Posts a signed Standard Webhooks delivery to the demo connection; returns its delivery id. */
  const post = (event: unknown) => postAcceptedWebhook(h, 'shop', secret, event);
  const delivery = (id: string) => deliveryById(h, 'shop', id);

  async function failures(): Promise<number> {
    return (await h.api('GET', '/api/connections/shop/webhook')).body.health.failures;
  }

  const deadLettersOf = (deliveryId: string) => h.platform.queue.listDeadLetters(QUEUES.inbound).filter((m) => JSON.stringify(m).includes(deliveryId));
  const injected = async () => (await h.sandbox<{ injected: { rate429: number; error5xx: number } }>('GET', 'stats')).injected;

  /** The delivery once it left `received`, or its message once dead-lettered (whichever comes first). */
  function settled(id: string): Promise<{ entry: any; deadLetters: number }> {
    return h.waitFor(`delivery ${id} to settle`, async () => {
      const entry = await delivery(id);
      const deadLetters = deadLettersOf(id).length;
      return (entry && entry.status !== 'received') || deadLetters > 0 ? { entry, deadLetters } : undefined;
    });
  }

  beforeAll(async () => {
    // Backoff 100-400 ms and two rate-limit waits: the retries can be watched, and giving up is quick.
    h = await Harness.start({ sandbox: { recordsPerEntity: 5 }, engine: { retry: { initialDelayMs: 200, maxDelayMs: 400, maxRateLimitWaits: 2 } } });
    await h.waitForRun(await h.startSync('full'));
    expect((await h.api('PUT', '/api/connections/shop/webhook', { secrets: [secret] })).status).toBe(200);
    productId = (await h.api('GET', '/api/connections/shop/records?entity=products&limit=1')).body.records[0].externalId;
  }, 60_000);

  afterAll(async () => {
    await h?.close();
  });

  afterEach(async () => {
    await h.sandbox('POST', 'faults', {});
  });

  it('a 429 on an id-only fetch waits for Retry-After by scheduled messages, reads as waiting, and gives up once: one failure, no dead letter', async () => {
    const failuresBefore = await failures();
    const limitedBefore = (await injected()).rate429;
    await h.sandbox('POST', 'faults', { rate429: 1 }); // every call: 429 with Retry-After: 1
    const started = Date.now();
    const id = await post({ type: 'products.updated', data: { entity: 'products', id: productId } });

    const waiting = await h.waitFor('the delivery to wait for its retry', async () => {
      const entry = await delivery(id);
      return entry?.detail?.startsWith('Rate-limited by the provider') ? entry : undefined;
    });
    expect(waiting.status).toBe('received');

    const { entry, deadLetters } = await settled(id);
    const elapsedMs = Date.now() - started;
    expect({ status: entry?.status, deadLetters }).toEqual({ status: 'failed', deadLetters: 0 });
    expect(entry.detail).toMatch(/^Gave up after 2 rate-limit waits: The provider rate-limited GET /);
    // The first call and one per wait; each wait was Retry-After's second, not an immediate redelivery.
    expect((await injected()).rate429 - limitedBefore).toBe(3);
    expect(elapsedMs).toBeGreaterThanOrEqual(1_900);
    expect((await failures()) - failuresBefore).toBe(1);
  });

  it('a 5xx on an id-only fetch is retried with backoff while the delivery waits, and applies once the provider is back: no failure counted', async () => {
    const failuresBefore = await failures();
    await h.sandbox('POST', 'faults', { error5xxRate: 1 });
    const { updated } = await h.sandbox<{ updated: string[] }>('POST', 'mutate', { entity: 'products', update: 1 });
    const id = await post({ type: 'products.updated', data: { entity: 'products', id: updated[0] } });

    const waiting = await h.waitFor('the delivery to wait for its retry', async () => {
      const entry = await delivery(id);
      return entry?.status !== 'received' || entry?.detail?.startsWith('Waiting to retry') ? entry : undefined;
    });
    expect(waiting).toMatchObject({ status: 'received', detail: expect.stringMatching(/^Waiting to retry at .* \(attempt 2 of 8\): .*50\d/) });
    await h.sandbox('POST', 'faults', {});

    const { entry, deadLetters } = await settled(id);
    expect({ status: entry?.status, detail: entry?.detail, deadLetters }).toEqual({ status: 'applied', detail: null, deadLetters: 0 });
    const product = await h.sandbox('GET', `records/products/${updated[0]}`);
    const stored = (await h.api('GET', '/api/connections/shop/records?entity=products&limit=1000')).body.records.find((r: any) => r.externalId === updated[0]);
    expect(stored.metadata.sourceUpdatedAt).toBe(product.updated_at);
    expect(await failures()).toBe(failuresBefore);
  });

  describe('our own failure (the record store throws for one record)', () => {
    const original = () => Object.getPrototypeOf(h.platform.records).getStates as typeof h.platform.records.getStates;

    /** Fault injection on the real store: its `getStates` throws for a read of `externalId` the first `times` calls. */
    function failReads(externalId: string, times: number): { calls: () => number } {
      let calls = 0;
      const getStates = original();
      h.platform.records.getStates = async function (this: unknown, scope, ids) {
        if (ids.includes(externalId) && ++calls <= times) throw new Error('SQLITE_BUSY: database is locked (injected)');
        return getStates.call(h.platform.records, scope, ids);
      };
      return { calls: () => calls };
    }

    afterEach(() => {
      delete (h.platform.records as { getStates?: unknown }).getStates; // back to the prototype's
    });

    it('is retried, and applies when a retry succeeds', async () => {
      const failuresBefore = await failures();
      const reads = failReads('cus_flaky', 2);
      const id = await post({ type: 'customers.updated', data: { entity: 'customers', record: { id: 'cus_flaky', name: 'Flaky', updated_at: '2027-03-01T10:00:00Z' } } });
      const { entry, deadLetters } = await settled(id);
      expect({ status: entry?.status, deadLetters }).toEqual({ status: 'applied', deadLetters: 0 });
      expect(reads.calls()).toBe(3);
      expect(await failures()).toBe(failuresBefore);
    });

    it('is retried with backoff by scheduled messages, so a store hiccup of a second and a half does not fail the delivery', async () => {
      const failuresBefore = await failures();
      // Every read of this record fails for 1.5 s: the broker's ten immediate redeliveries would all land in it.
      const calls: number[] = [];
      const until = Date.now() + 1_500;
      const getStates = original();
      h.platform.records.getStates = async function (this: unknown, scope, ids) {
        if (ids.includes('cus_hiccup')) {
          calls.push(Date.now());
          if (Date.now() < until) throw new Error('SQLITE_BUSY: database is locked (injected)');
        }
        return getStates.call(h.platform.records, scope, ids);
      };
      const id = await post({ type: 'customers.updated', data: { entity: 'customers', record: { id: 'cus_hiccup', name: 'Hiccup', updated_at: '2027-03-01T10:00:00Z' } } });
      const waiting = await h.waitFor('the delivery to wait for its retry', async () => {
        const entry = await delivery(id);
        return entry?.status !== 'received' || entry?.detail ? entry : undefined;
      });
      expect(waiting).toMatchObject({ status: 'received', detail: expect.stringMatching(/^Waiting to retry at .* \(attempt 2 of 10\) after an internal error/) });
      expect(waiting.detail).not.toContain('SQLITE');

      const { entry, deadLetters } = await settled(id);
      expect({ status: entry?.status, detail: entry?.detail, deadLetters }).toEqual({ status: 'applied', detail: null, deadLetters: 0 });
      expect(calls.length).toBeLessThan(10);
      // Backoff (100-200 ms, then 200-400 ms), not immediate redeliveries.
      for (let i = 1; i < calls.length; i += 1) expect(calls[i] - calls[i - 1]).toBeGreaterThanOrEqual(90);
      expect(await failures()).toBe(failuresBefore);
    });

    it('on the last delivery marks the delivery failed with a reason that quotes nothing of the error, and counts one failure', async () => {
      const failuresBefore = await failures();
      const reads = failReads('cus_broken', Infinity);
      const id = await post({ type: 'customers.updated', data: { entity: 'customers', record: { id: 'cus_broken', name: 'Broken', updated_at: '2027-03-01T10:00:00Z' } } });
      const { entry, deadLetters } = await settled(id);
      expect({ status: entry?.status, deadLetters }).toEqual({ status: 'failed', deadLetters: 0 });
      expect(entry.detail).toContain('an internal error');
      expect(entry.detail).not.toContain('SQLITE');
      expect(reads.calls()).toBe(10); // every delivery the queue allows
      expect((await failures()) - failuresBefore).toBe(1);
      // The error itself is in the telemetry, with the delivery it stopped.
      expect(h.telemetryLines.some((line) => line.includes('SQLITE_BUSY') && line.includes(id))).toBe(true);
    });
  });

  it('a replay the queue refuses answers 503 and leaves the delivery as it was; replaying again applies it', async () => {
    const id = await post({ type: 'customers.updated', data: { entity: 'customers', record: { id: 'cus_replayed', name: 'Replayed', updated_at: '2027-03-02T10:00:00Z' } } });
    const before = (await settled(id)).entry;
    expect(before.status).toBe('applied');

    // Service Bus has a bad moment: the next send to sync-inbound fails.
    const queue = h.platform.queue as unknown as { send: (...args: unknown[]) => Promise<void> };
    let refused = 0;
    queue.send = async function (this: unknown, name: unknown, ...rest: unknown[]) {
      if (name === QUEUES.inbound && refused === 0) {
        refused += 1;
        throw new Error('Service Bus send to sync-inbound failed: ServiceBusy (simulated).');
      }
      return Object.getPrototypeOf(h.platform.queue).send.call(h.platform.queue, name, ...rest);
    };
    try {
      const replay = await h.api('POST', `/api/deliveries/${id}/replay`);
      expect(refused).toBe(1);
      expect(replay.status).toBe(503);
      expect(replay.body.error.message.startsWith(`Delivery ${id} could not be replayed: the queue did not accept it. It is applied as before; replay it again.`)).toBe(true);
      const after = await delivery(id);
      expect({ status: after.status, detail: after.detail }).toEqual({ status: 'applied', detail: null });
      expect(h.platform.queue.depth(QUEUES.inbound).active).toBe(0);

      const again = await h.api('POST', `/api/deliveries/${id}/replay`);
      expect(again.status).toBe(202);
      expect(again.body).toEqual({ deliveryId: id, replay: 2 }); // a new message id: the refused one may yet reach the broker
      expect((await settled(id)).entry.status).toBe('applied');
    } finally {
      delete (h.platform.queue as { send?: unknown }).send;
    }
  });

  it('events of a paused connection are acknowledged and held, and applied in receipt order once it is resumed', async () => {
    expect((await h.api('POST', '/api/connections/shop/pause')).body.status).toBe('paused');
    const ids: string[] = [];
    let resumed: Awaited<ReturnType<typeof h.api>> | undefined;
    try {
      // Three states of one record, oldest first: applied out of order, the older ones would be ignored as stale.
      for (const [n, name] of ['First', 'Second', 'Third'].entries()) {
        ids.push(await post({ type: 'customers.updated', data: { entity: 'customers', record: { id: 'cus_paused', name, updated_at: `2027-04-01T10:00:0${n}Z` } } }));
      }
      for (const id of ids) {
        const { entry, deadLetters } = await settled(id);
        expect({ status: entry?.status, deadLetters }).toEqual({ status: 'held', deadLetters: 0 });
        expect(entry.detail).toBe('Waiting for connection shop to be resumed: it is paused. The delivery is applied once the connection is resumed (POST /api/connections/shop/resume).');
      }
      expect(await h.platform.records.get({ tenantId: 't1', connectionId: 'shop', entity: 'customers' }, 'cus_paused')).toBeUndefined();
      expect(h.platform.queue.depth(QUEUES.inbound).active).toBe(0); // held in the log, not in the queue
    } finally {
      resumed = await h.api('POST', '/api/connections/shop/resume'); // the other cases need the connection active
    }
    expect(resumed.status).toBe(200);
    expect(resumed.body).toMatchObject({ status: 'active', releasedDeliveries: ids.length });
    for (const id of ids) {
      const { entry } = await settled(id);
      expect({ status: entry?.status, detail: entry?.detail, replays: entry?.replays }).toEqual({ status: 'applied', detail: null, replays: 1 });
    }
    const stored = await h.platform.records.get({ tenantId: 't1', connectionId: 'shop', entity: 'customers' }, 'cus_paused');
    expect(stored?.data.name).toBe('Third');
    // Resuming again finds nothing held.
    expect((await h.api('POST', '/api/connections/shop/resume')).body.releasedDeliveries).toBe(0);
  });

  it('a message whose delivery is no longer in the log is skipped with a warning and a metric', async () => {
    const deliveryId = `dlv_gone_${randomBytes(4).toString('hex')}`;
    await h.platform.queue.send(QUEUES.inbound, { body: { kind: 'webhook', connectionId: 'shop', deliveryId }, messageId: deliveryId, sessionId: 'shop' });
    const warning = await h.waitFor('the skip warning', async () => h.telemetryLines.find((line) => line.includes('Webhook delivery skipped') && line.includes(deliveryId)));
    expect(JSON.parse(warning)).toMatchObject({ type: 'log', level: 'warn', properties: { deliveryId, connectionId: 'shop' } });
    const metrics = h.telemetryLines.map((line) => JSON.parse(line)).filter((line) => line.type === 'metric' && line.name === 'WebhookDeliveriesSkipped');
    expect(metrics).toEqual([expect.objectContaining({ value: 1, properties: { connectionId: 'shop' } })]);
  });
});
