import type { RunningSandbox } from '../../sandbox/server';
import { control, startTestSandbox } from './sandboxTestClient';
import { WebhookTestReceiver, newSecret, verifyStandardWebhook, waitUntil } from './webhookTestReceiver';

interface TargetView {
  id: string;
  pending: number;
  delivered: number;
  failed: number;
  duplicatesSent: number;
}

interface DeliveryAttempt {
  targetId: string;
  messageId: string;
  type: string;
  attempt: number;
  duplicate: boolean;
  status: number | null;
  ok: boolean;
  error?: string;
  willRetry: boolean;
  at: string;
  durationMs: number;
}

async function register(sandbox: RunningSandbox, body: Record<string, unknown>): Promise<TargetView> {
  return control<TargetView>(sandbox, 'POST', 'webhooks', body);
}

async function targets(sandbox: RunningSandbox): Promise<TargetView[]> {
  return (await control<{ targets: TargetView[] }>(sandbox, 'GET', 'webhooks')).targets;
}

async function deliveries(sandbox: RunningSandbox, query = ''): Promise<DeliveryAttempt[]> {
  return (await control<{ deliveries: DeliveryAttempt[] }>(sandbox, 'GET', `webhooks/deliveries${query}`)).deliveries;
}

function v1Write(sandbox: RunningSandbox, method: string, path: string, body?: unknown): Promise<Response> {
  return fetch(`${sandbox.url}${path}`, { method, headers: { 'X-Api-Key': sandbox.apiKey }, body: body === undefined ? undefined : JSON.stringify(body) });
}

describe('sandbox signed webhooks', () => {
  let sandbox: RunningSandbox;
  let receiver: WebhookTestReceiver;
  beforeEach(async () => {
    sandbox = await startTestSandbox({ recordsPerEntity: 50 });
    receiver = await WebhookTestReceiver.start();
  });
  afterEach(async () => {
    await sandbox.close();
    await receiver.close();
  });

  it('sends every change as an event signed the Standard Webhooks way', async () => {
    const { secret, key } = newSecret();
    await register(sandbox, { url: receiver.url, secret });
    await control(sandbox, 'POST', 'clock', { now: '2026-05-01T09:00:00Z' });
    const created = (await (await v1Write(sandbox, 'POST', '/v1/customers', { email: 'hook@example.com' })).json()) as { id: string };
    await control(sandbox, 'PATCH', 'records/customers/cus_0000002', { notes: 'changed in the provider UI' });
    await v1Write(sandbox, 'DELETE', '/v1/customers/cus_0000003');
    await waitUntil(() => receiver.received.length === 3, 5000, 'three webhooks');

    for (const webhook of receiver.received) {
      expect(verifyStandardWebhook(webhook, key)).toBe(true);
      expect(webhook.headers['content-type']).toBe('application/json');
      expect(webhook.headers['webhook-id']).toMatch(/^evt_[0-9a-f]{24}$/);
      expect(Math.abs(Number(webhook.headers['webhook-timestamp']) - Date.now() / 1000)).toBeLessThan(5);
      expect(JSON.parse(webhook.body).id).toBe(webhook.headers['webhook-id']);
    }
    const events = receiver.events();
    expect(events.map((event) => event.type)).toEqual(['customers.created', 'customers.updated', 'customers.deleted']);
    expect(events[0]).toEqual({
      id: expect.any(String),
      type: 'customers.created',
      created_at: '2026-05-01T09:00:00Z',
      data: { entity: 'customers', record: { id: created.id, email: 'hook@example.com', created_at: '2026-05-01T09:00:00Z', updated_at: '2026-05-01T09:00:00Z' } },
    });
    expect(events[1].data.record).toMatchObject({ id: 'cus_0000002', notes: 'changed in the provider UI' });
    expect(events[2].data.record).toEqual({ id: 'cus_0000003', deleted: true, updated_at: '2026-05-01T09:00:00Z' });
  });

  it('produces signatures that fail verification when one byte of the body, the id or the key differs', async () => {
    const { secret, key } = newSecret();
    await register(sandbox, { url: receiver.url, secret });
    await control(sandbox, 'PATCH', 'records/orders/ord_0000001', { note: 'x' });
    await waitUntil(() => receiver.received.length === 1);
    const [webhook] = receiver.received;
    expect(verifyStandardWebhook(webhook, key)).toBe(true);
    expect(verifyStandardWebhook({ ...webhook, body: webhook.body.replace('"x"', '"y"') }, key)).toBe(false);
    expect(verifyStandardWebhook({ ...webhook, headers: { ...webhook.headers, 'webhook-id': 'evt_other' } }, key)).toBe(false);
    expect(verifyStandardWebhook(webhook, newSecret().key)).toBe(false);
  });

  it('signs with every secret during rotation, so either one verifies', async () => {
    const oldSecret = newSecret();
    const newOne = newSecret();
    await register(sandbox, { url: receiver.url, secrets: [oldSecret.secret, newOne.secret] });
    await control(sandbox, 'POST', 'mutate', { entity: 'products', update: 1 });
    await waitUntil(() => receiver.received.length === 1);
    const [webhook] = receiver.received;
    expect(String(webhook.headers['webhook-signature']).split(' ')).toHaveLength(2);
    expect(verifyStandardWebhook(webhook, oldSecret.key)).toBe(true);
    expect(verifyStandardWebhook(webhook, newOne.key)).toBe(true);
  });

  it('filters by entity and sends only ids for idOnlyEntities', async () => {
    const other = await WebhookTestReceiver.start();
    try {
      await register(sandbox, { url: receiver.url, secret: newSecret().secret, entities: ['orders', 'payments'], idOnlyEntities: ['payments'] });
      await register(sandbox, { url: other.url, secret: newSecret().secret });
      await control(sandbox, 'PATCH', 'records/customers/cus_0000001', { notes: 'a' });
      await control(sandbox, 'PATCH', 'records/orders/ord_0000001', { note: 'b' });
      await control(sandbox, 'PATCH', 'records/payments/pay_0000001', { status: 'captured' });
      await waitUntil(() => receiver.received.length === 2 && other.received.length === 3);
      const events = receiver.events();
      expect(events.map((event) => event.type)).toEqual(['orders.updated', 'payments.updated']);
      expect(events[1].data).toEqual({ entity: 'payments', id: 'pay_0000001' });
      expect(other.events()[2].data.record).toMatchObject({ id: 'pay_0000001', status: 'captured' });
      // One change is one event, whichever target it goes to.
      expect(other.events()[1].id).toBe(events[0].id);
    } finally {
      await other.close();
    }
  });

  it('retries a 500 with backoff under the same id, and logs every attempt', async () => {
    const { secret, key } = newSecret();
    receiver.respond = (_webhook, index) => (index < 2 ? 500 : 200);
    const target = await register(sandbox, { url: receiver.url, secret, initialRetryMs: 50 });
    await control(sandbox, 'PATCH', 'records/customers/cus_0000005', { notes: 'retry me' });
    await waitUntil(() => receiver.received.length === 3, 5000, 'three attempts');
    expect(new Set(receiver.received.map((webhook) => webhook.headers['webhook-id'])).size).toBe(1);
    expect(receiver.received.every((webhook) => verifyStandardWebhook(webhook, key))).toBe(true);
    await waitUntil(async () => (await deliveries(sandbox)).length === 3);
    const log = await deliveries(sandbox, `?target=${target.id}`);
    // Backoff doubles: the second attempt starts at least 50 ms after the first ended, the third 100 ms after the second.
    const gaps = [1, 2].map((i) => Date.parse(log[i].at) - Date.parse(log[i - 1].at) - log[i - 1].durationMs);
    expect(gaps[0]).toBeGreaterThanOrEqual(49);
    expect(gaps[1]).toBeGreaterThanOrEqual(99);
    expect(log.map((entry) => [entry.attempt, entry.status, entry.ok, entry.willRetry])).toEqual([
      [1, 500, false, true],
      [2, 500, false, true],
      [3, 200, true, false],
    ]);
    expect(log[0].error).toContain('500');
    expect(await targets(sandbox)).toEqual([expect.objectContaining({ pending: 0, delivered: 1, failed: 0 })]);
  });

  it('gives an event up after maxAttempts and goes on with the next one', async () => {
    receiver.respond = (webhook) => (JSON.parse(webhook.body).data.record.notes === 'doomed' ? 503 : 204);
    await register(sandbox, { url: receiver.url, secret: newSecret().secret, maxAttempts: 3, initialRetryMs: 10 });
    await control(sandbox, 'PATCH', 'records/customers/cus_0000001', { notes: 'doomed' });
    await control(sandbox, 'PATCH', 'records/customers/cus_0000002', { notes: 'fine' });
    await waitUntil(async () => (await targets(sandbox))[0].pending === 0, 5000, 'the queue to drain');
    expect(await targets(sandbox)).toEqual([expect.objectContaining({ delivered: 1, failed: 1 })]);
    expect(receiver.events().map((event) => event.data.record?.notes)).toEqual(['doomed', 'doomed', 'doomed', 'fine']);
    const log = await deliveries(sandbox);
    expect(log.map((entry) => entry.willRetry)).toEqual([true, true, false, false]);
  });

  it('delivers in change order even when the receiver is slow and the first event needs retries', async () => {
    receiver.respond = async (_webhook, index) => {
      await new Promise((resolve) => setTimeout(resolve, (index * 7) % 13));
      return index === 0 ? 502 : 200;
    };
    await register(sandbox, { url: receiver.url, secret: newSecret().secret, initialRetryMs: 30 });
    for (let i = 1; i <= 25; i++) await control(sandbox, 'PATCH', 'records/inventory/inv_0000001', { lot_number: `LOT-${i}` });
    await waitUntil(() => receiver.received.length === 26, 10_000, '26 deliveries');
    const lots = receiver.events().map((event) => event.data.record?.lot_number);
    expect(lots).toEqual(['LOT-1', ...Array.from({ length: 25 }, (_, i) => `LOT-${i + 1}`)]);
  });

  it('sends a duplicate delivery with the same id when duplicateRate is 1', async () => {
    const { secret, key } = newSecret();
    await register(sandbox, { url: receiver.url, secret, duplicateRate: 1 });
    await control(sandbox, 'POST', 'mutate', { entity: 'orders', update: 2 });
    await waitUntil(() => receiver.received.length === 4);
    const ids = receiver.received.map((webhook) => webhook.headers['webhook-id']);
    expect(ids[0]).toBe(ids[1]);
    expect(ids[2]).toBe(ids[3]);
    expect(ids[0]).not.toBe(ids[2]);
    expect(receiver.received.every((webhook) => verifyStandardWebhook(webhook, key))).toBe(true);
    await waitUntil(async () => (await targets(sandbox))[0].duplicatesSent === 2);
    expect((await deliveries(sandbox)).map((entry) => entry.duplicate)).toEqual([false, true, false, true]);
  });

  it('does not make the mutation wait for a receiver that hangs, and times the attempt out', async () => {
    let release: () => void = () => undefined;
    const hanging = new Promise<number>((resolve) => (release = () => resolve(200)));
    receiver.respond = () => hanging;
    await register(sandbox, { url: receiver.url, secret: newSecret().secret, timeoutMs: 1000, maxAttempts: 1 });
    const response = await v1Write(sandbox, 'PATCH', '/v1/customers/cus_0000001', { notes: 'fast' });
    expect(response.status).toBe(200);
    // The write has answered while its only delivery attempt is still waiting for the receiver.
    expect(await deliveries(sandbox)).toEqual([]);
    expect((await targets(sandbox))[0]).toMatchObject({ pending: 1, delivered: 0, failed: 0 });
    await waitUntil(() => receiver.received.length === 1);
    await waitUntil(async () => (await deliveries(sandbox)).length === 1, 3000, 'the timed-out attempt');
    expect((await deliveries(sandbox))[0]).toMatchObject({ ok: false, status: null, error: expect.stringContaining('1000 ms') });
    expect((await targets(sandbox))[0]).toMatchObject({ pending: 0, failed: 1 });
    release();
  });

  it('logs a refused connection and stops sending once targets are cleared', async () => {
    const closed = await WebhookTestReceiver.start();
    const deadUrl = closed.url;
    await closed.close();
    await register(sandbox, { url: deadUrl, secret: newSecret().secret, maxAttempts: 1 });
    await control(sandbox, 'PATCH', 'records/customers/cus_0000001', { notes: 'nobody home' });
    await waitUntil(async () => (await deliveries(sandbox)).length === 1);
    expect((await deliveries(sandbox))[0]).toMatchObject({ ok: false, status: null, error: expect.stringContaining('ECONNREFUSED') });

    await register(sandbox, { url: receiver.url, secret: newSecret().secret });
    const response = await fetch(`${sandbox.url}/_sandbox/webhooks`, { method: 'DELETE' });
    expect(response.status).toBe(204);
    expect(await targets(sandbox)).toEqual([]);
    expect(await deliveries(sandbox)).toEqual([]);
    await control(sandbox, 'PATCH', 'records/customers/cus_0000001', { notes: 'after clearing' });
    await new Promise((resolve) => setTimeout(resolve, 100));
    expect(receiver.received).toEqual([]);
  });

  it.each([
    ['no secret', { url: 'http://127.0.0.1:1/x' }, "'secret'"],
    ['a secret without whsec_', { url: 'http://127.0.0.1:1/x', secret: 'abc' }, "'secret'"],
    ['a secret too short', { url: 'http://127.0.0.1:1/x', secret: 'whsec_YWJj' }, "'secret'"],
    ['a relative url', { url: '/x', secret: 'whsec_MDEyMzQ1Njc4OWFiY2RlZg==' }, "'url'"],
    ['an unknown entity', { url: 'http://127.0.0.1:1/x', secret: 'whsec_MDEyMzQ1Njc4OWFiY2RlZg==', entities: ['invoices'] }, "'entities'"],
    ['an unknown field', { url: 'http://127.0.0.1:1/x', secret: 'whsec_MDEyMzQ1Njc4OWFiY2RlZg==', retries: 3 }, "'retries'"],
  ])('refuses a registration with %s', async (_label, body, mention) => {
    const response = await fetch(`${sandbox.url}/_sandbox/webhooks`, { method: 'POST', body: JSON.stringify(body) });
    expect(response.status).toBe(400);
    expect(((await response.json()) as { error: string }).error).toContain(mention);
  });
});
