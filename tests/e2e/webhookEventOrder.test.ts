import { createHmac, randomBytes, randomUUID } from 'node:crypto';
import { Harness } from '../support/harness';

/**
 * Webhook events that providers stamp with whole seconds, send out of order or leave without a
 * time: a replay, a late retry or a late-arriving update must not roll back what a later delivery
 * stored (shared/core/webhookIntake/eventOrder.ts), on the real receiver and worker.
 */
const hmac = (key: string, data: string, enc: 'hex' | 'base64') => createHmac('sha256', key).update(data).digest(enc);

describe('webhook event order', () => {
  let h: Harness;
  const stripeSecret = `whsec_${randomBytes(18).toString('base64url')}`;
  const shopifySecret = randomBytes(18).toString('base64url');

  beforeAll(async () => {
    h = await Harness.start({ sandbox: { recordsPerEntity: 1 } });
    for (const [provider, settings] of [
      ['stripe', { scheme: 'stripe', secrets: [stripeSecret] }],
      ['shopify', { scheme: 'shopify', secrets: [shopifySecret] }],
    ] as const) {
      expect((await h.api('POST', '/api/connections', { id: `order-${provider}`, provider, config: {}, credentials: { type: 'none' } })).status).toBe(201);
      expect((await h.api('PUT', `/api/connections/order-${provider}/webhook`, settings)).status).toBe(200);
    }
  }, 60_000);
  afterAll(async () => h?.close());

  async function post(provider: string, headers: Record<string, string>, body: string): Promise<string> {
    const response = await fetch(`${h.hostUrl}/api/webhooks/${provider}/order-${provider}`, { method: 'POST', headers: { 'content-type': 'application/json', ...headers }, body });
    const answer = (await response.json()) as { deliveryId: string };
    expect(response.status).toBe(202);
    return answer.deliveryId;
  }

  const stripe = (event: unknown) => {
    const body = JSON.stringify(event);
    const t = Math.floor(Date.now() / 1000);
    return post('stripe', { 'stripe-signature': `t=${t},v1=${hmac(stripeSecret, `${t}.${body}`, 'hex')}` }, body);
  };
  const shopify = (topic: string, payload: unknown, headers: Record<string, string> = {}) => {
    const body = JSON.stringify(payload);
    return post('shopify', { 'x-shopify-topic': topic, 'x-shopify-webhook-id': randomUUID(), 'x-shopify-hmac-sha256': hmac(shopifySecret, body, 'base64'), ...headers }, body);
  };

  const stored = async (provider: string, entity: string, id: string) =>
    (await h.api('GET', `/api/connections/order-${provider}/records?entity=${entity}&limit=100`)).body.records?.find((r: any) => r.externalId === id);

  /** Waits until the delivery was applied or ignored (after `replays` replays) and returns its log entry. */
  const settled = (provider: string, id: string, replays = 0) =>
    h.waitFor(`delivery ${id} settled`, async () => {
      const entry = (await h.api('GET', `/api/connections/order-${provider}/deliveries?limit=100`)).body.deliveries?.find((d: any) => d.id === id);
      return entry && entry.status !== 'received' && (entry.replays ?? 0) === replays ? entry : undefined;
    });

  it('a replay of the first of two same-second events does not roll the record back', async () => {
    const created = 1_790_000_000; // both events stamped the same second, as Stripe does
    const customer = (email: string) => ({ id: `evt_${randomUUID()}`, type: 'customer.updated', created, data: { object: { id: 'cus_same_second', object: 'customer', email } } });

    const first = await stripe(customer('first@example.com'));
    expect(await settled('stripe', first)).toMatchObject({ status: 'applied' });
    const second = await stripe(customer('second@example.com'));
    // Received later, same second: receipt order decides, so the second one applies.
    expect(await settled('stripe', second)).toMatchObject({ status: 'applied' });
    expect((await stored('stripe', 'customers', 'cus_same_second')).data.email).toBe('second@example.com');

    expect((await h.api('POST', `/api/deliveries/${first}/replay`)).status).toBe(202);
    const replayed = await settled('stripe', first, 1);
    expect(replayed).toMatchObject({ status: 'ignored', detail: expect.stringContaining('received later') });
    expect((await stored('stripe', 'customers', 'cus_same_second')).data.email).toBe('second@example.com');

    // The later one replayed is still the newest state: it applies (and changes nothing).
    expect((await h.api('POST', `/api/deliveries/${second}/replay`)).status).toBe(202);
    expect(await settled('stripe', second, 1)).toMatchObject({ status: 'applied' });
    expect((await stored('stripe', 'customers', 'cus_same_second')).data.email).toBe('second@example.com');
  });

  it('Shopify: an update made before a delete, arriving after it, does not bring the record back', async () => {
    const product = { id: 7001, title: 'Mug', updated_at: '2026-11-20T10:00:00Z' };
    await settled('shopify', await shopify('products/create', product));
    const deletion = await shopify('products/delete', { id: 7001 }, { 'x-shopify-triggered-at': '2026-11-20T10:00:10.123456789Z' });
    await settled('shopify', deletion);
    expect((await stored('shopify', 'products', '7001')).metadata.deleted).toBe(true);

    const late = await shopify('products/update', { ...product, title: 'Mug, renamed', updated_at: '2026-11-20T10:00:05Z' });
    expect(await settled('shopify', late)).toMatchObject({ status: 'ignored', detail: expect.stringContaining('Stale') });
    expect((await stored('shopify', 'products', '7001')).metadata.deleted).toBe(true);
  });

  it('Shopify: a delete without X-Shopify-Triggered-At stands for the moment it was received', async () => {
    const before = (seconds: number) => new Date(Date.now() - seconds * 1000).toISOString();
    const product = { id: 7002, title: 'Plate', updated_at: before(60) };
    await settled('shopify', await shopify('products/create', product));
    await settled('shopify', await shopify('products/delete', { id: 7002 }));
    const tombstone = await stored('shopify', 'products', '7002');
    expect(tombstone.metadata.deleted).toBe(true);

    const late = await shopify('products/update', { ...product, title: 'Plate, renamed', updated_at: before(30) });
    expect(await settled('shopify', late)).toMatchObject({ status: 'ignored', detail: expect.stringContaining('Stale') });
    expect((await stored('shopify', 'products', '7002')).metadata.deleted).toBe(true);
  });
});
