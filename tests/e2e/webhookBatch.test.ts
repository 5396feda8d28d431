import { inboundWorkerHandler } from '../../functions/inboundWorker';
import { createInvocationContext } from '../../local/invocation';
import { parseInboundQueueMessage, webhookBatchMessageId, type WebhookBatchInboundMessage } from '../../shared/core/runs/inboundMessage';
import { deliveryIdFor, webhookIntakeFor } from '../../shared/core/webhookIntake';
import type { Delivery } from '../../shared/ports/deliveryStore';
import { QUEUES } from '../../shared/ports/queue';
import { Harness } from '../support/harness';

/**
 * A `webhook-batch` message (what the local journal drain enqueues per connection) applies its
 * deliveries one after another, in its order, each exactly as its own `webhook` message would:
 * the real stack (local host, SQLite queue and stores), deliveries in the log as the drain writes
 * them.
 */
describe('webhook-batch messages', () => {
  let h: Harness;

  beforeAll(async () => {
    h = await Harness.start({ sandbox: { recordsPerEntity: 1 } });
  }, 60_000);

  afterAll(async () => h?.close());

  /** A delivery of a customers.updated event carrying its record, as the receiver logs it. */
  function delivery(webhookId: string, record: Record<string, unknown>): Delivery {
    const now = new Date().toISOString();
    return {
      id: deliveryIdFor('shop', webhookId),
      tenantId: 't1',
      connectionId: 'shop',
      provider: 'sandbox',
      webhookId,
      receivedAt: now,
      status: 'received',
      eventType: 'customers.updated',
      headers: {},
      body: JSON.stringify({ id: webhookId, type: 'customers.updated', data: { entity: 'customers', record } }),
      replays: 0,
      updatedAt: now,
    };
  }

  async function sendBatch(deliveries: Delivery[]): Promise<void> {
    await h.platform.deliveries.insertMany(deliveries);
    const body: WebhookBatchInboundMessage = { kind: 'webhook-batch', connectionId: 'shop', deliveryIds: deliveries.map((d) => d.id) };
    await h.platform.queue.send(QUEUES.inbound, { body, messageId: webhookBatchMessageId(body), sessionId: 'shop' });
  }

  const statusOf = async (id: string) => (await h.platform.deliveries.get(id))?.status;

  test('applies every delivery in order: the later state of a record wins', async () => {
    const older = delivery('batch_1', { id: 'cus_batch_a', name: 'First name', updated_at: '2026-06-01T00:00:00Z' });
    const newer = delivery('batch_2', { id: 'cus_batch_a', name: 'Second name', updated_at: '2026-06-01T00:00:05Z' });
    const other = delivery('batch_3', { id: 'cus_batch_b', name: 'Other', updated_at: '2026-06-01T00:00:00Z' });
    await sendBatch([older, newer, other]);
    await h.waitFor('the batch to be applied', async () => ((await Promise.all([older, newer, other].map((d) => statusOf(d.id)))).every((s) => s === 'applied') ? true : undefined));
    const scope = { tenantId: 't1', connectionId: 'shop', entity: 'customers' };
    expect((await h.platform.records.get(scope, 'cus_batch_a'))?.data.name).toBe('Second name');
    expect((await h.platform.records.get(scope, 'cus_batch_b'))?.data.name).toBe('Other');
  });

  test('a delivery a replay has settled since is left as the replay left it; the others apply', async () => {
    const replayed: Delivery = { ...delivery('batch_4', { id: 'cus_batch_c', name: 'Replayed', updated_at: '2026-06-01T00:00:00Z' }), replays: 1, status: 'ignored', detail: 'settled by its replay' };
    const plain = delivery('batch_5', { id: 'cus_batch_d', name: 'Plain', updated_at: '2026-06-01T00:00:00Z' });
    await sendBatch([replayed, plain]);
    await h.waitFor('the plain delivery to be applied', async () => ((await statusOf(plain.id)) === 'applied' ? true : undefined));
    await h.waitFor('the queue to be empty', async () => (h.platform.queue.depth(QUEUES.inbound).active === 0 ? true : undefined));
    expect(await h.platform.deliveries.get(replayed.id)).toMatchObject({ status: 'ignored', detail: 'settled by its replay' });
    expect(await h.platform.records.get({ tenantId: 't1', connectionId: 'shop', entity: 'customers' }, 'cus_batch_c')).toBeUndefined();
  });

  test('a batch the broker delivers again (sent back after it settled its deliveries) leaves each as it was', async () => {
    const older = delivery('batch_12', { id: 'cus_batch_h', name: 'Older', updated_at: '2026-06-01T00:00:00Z' });
    const newer = delivery('batch_13', { id: 'cus_batch_h', name: 'Newer', updated_at: '2026-06-01T00:00:05Z' });
    const notAnEvent: Delivery = { ...delivery('batch_14', {}), body: JSON.stringify({ type: 'ping' }) };
    await sendBatch([older, newer, notAnEvent]);
    await h.waitFor('the batch to settle', async () => ((await Promise.all([older, newer, notAnEvent].map((d) => statusOf(d.id)))).every((s) => s === 'applied' || s === 'ignored') ? true : undefined));
    await h.waitFor('the queue to be empty', async () => (h.platform.queue.depth(QUEUES.inbound).active === 0 ? true : undefined));
    const all = () => Promise.all([older, newer, notAnEvent].map((d) => h.platform.deliveries.get(d.id)));
    const before = await all();
    // Settled by the batch's message: the broker's sequence number, the same for the three.
    const sequence = before[0]?.settledBy;
    expect(sequence).toMatch(/^\d+$/);
    expect(before.map((d) => d?.settledBy)).toEqual([sequence, sequence, sequence]);

    // The inbound worker handed the same message again (a redelivery keeps its sequence number,
    // whatever its delivery count: Service Bus does not count a session closed with it unsettled).
    const again: WebhookBatchInboundMessage = { kind: 'webhook-batch', connectionId: 'shop', deliveryIds: [older.id, newer.id, notAnEvent.id] };
    const worker = (sequenceNumber: number) =>
      inboundWorkerHandler(again, createInvocationContext('inboundWorker', () => undefined, { deliveryCount: 1, sequenceNumber, messageId: webhookBatchMessageId(again) }));
    await worker(Number(sequence));
    // The older state was overtaken by the newer one of its batch: judged again it would be stale.
    expect(await all()).toEqual(before);
    expect((await h.platform.records.get({ tenantId: 't1', connectionId: 'shop', entity: 'customers' }, 'cus_batch_h'))?.data.name).toBe('Newer');

    // Another message (a provider's resend accepted past the dedupe window) is judged again.
    await worker(Number(sequence) + 1_000_000);
    expect(await statusOf(older.id)).toBe('ignored');
    expect((await h.platform.deliveries.get(older.id))?.detail).toMatch(/Stale/);
  });

  test('a delivery settled by an older message is judged by a newer one (a replay that overtook it), then left as that one settled it', async () => {
    const d = delivery('batch_15', { id: 'cus_batch_i', name: 'Replayed', updated_at: '2026-06-01T00:00:00Z' });
    await h.platform.deliveries.insertMany([d]);
    const at = () => new Date().toISOString();
    // The hand replay (send 1) was made while send 0's message still ran, and that message then settled the delivery.
    await h.platform.deliveries.update(d.id, { replays: 1, status: 'received', detail: undefined }, at());
    await h.platform.deliveries.update(d.id, { status: 'failed', detail: 'The provider refused the fetch.', settledBy: '7001' }, at());
    const applier = webhookIntakeFor(h.services).applier;
    const replay = { kind: 'webhook' as const, connectionId: 'shop', deliveryId: d.id, replay: 1 };
    expect(await applier.apply(replay, { messageSequence: '7002' })).toBe('applied');
    expect(await h.platform.deliveries.get(d.id)).toMatchObject({ status: 'applied', settledBy: '7002', replays: 1 });
    expect((await h.platform.records.get({ tenantId: 't1', connectionId: 'shop', entity: 'customers' }, 'cus_batch_i'))?.data.name).toBe('Replayed');
    // The replay's message delivered again: left as it settled it.
    const settled = await h.platform.deliveries.get(d.id);
    expect(await applier.apply(replay, { messageSequence: '7002' })).toBe('applied');
    expect(await h.platform.deliveries.get(d.id)).toEqual(settled);
  });

  test('reads the connection once for deliveries that apply in a row, and again after one that ends otherwise', async () => {
    const reads = jest.spyOn(h.platform.connections, 'get');
    try {
      const applied = ['batch_6', 'batch_7', 'batch_8'].map((id, i) => delivery(id, { id: `cus_batch_e${i}`, name: `Row ${i}`, updated_at: '2026-06-01T00:00:00Z' }));
      await sendBatch(applied);
      await h.waitFor('the batch to be applied', async () => ((await Promise.all(applied.map((d) => statusOf(d.id)))).every((s) => s === 'applied') ? true : undefined));
      await h.waitFor('the queue to be empty', async () => (h.platform.queue.depth(QUEUES.inbound).active === 0 ? true : undefined));
      expect(reads.mock.calls.filter(([id]) => id === 'shop')).toHaveLength(1);

      // Not a record event: ignored, so the delivery after it reads the connection again.
      reads.mockClear();
      const notAnEvent: Delivery = { ...delivery('batch_9', {}), body: JSON.stringify({ type: 'ping' }) };
      const after = [delivery('batch_10', { id: 'cus_batch_f', name: 'F', updated_at: '2026-06-01T00:00:00Z' }), delivery('batch_11', { id: 'cus_batch_g', name: 'G', updated_at: '2026-06-01T00:00:00Z' })];
      await sendBatch([notAnEvent, ...after]);
      await h.waitFor('the batch to be applied', async () => ((await Promise.all(after.map((d) => statusOf(d.id)))).every((s) => s === 'applied') ? true : undefined));
      await h.waitFor('the queue to be empty', async () => (h.platform.queue.depth(QUEUES.inbound).active === 0 ? true : undefined));
      expect(await statusOf(notAnEvent.id)).toBe('ignored');
      expect(reads.mock.calls.filter(([id]) => id === 'shop')).toHaveLength(2);
    } finally {
      reads.mockRestore();
    }
  });

  test('a batch message without deliveries is refused as malformed', () => {
    expect(() => parseInboundQueueMessage({ kind: 'webhook-batch', connectionId: 'shop', deliveryIds: [] })).toThrow(/not a webhook batch/);
    expect(() => parseInboundQueueMessage({ kind: 'webhook-batch', connectionId: 'shop', deliveryIds: [1] })).toThrow(/not a webhook batch/);
    expect(parseInboundQueueMessage({ kind: 'webhook-batch', connectionId: 'shop', deliveryIds: ['a', 'b'] })).toEqual({ kind: 'webhook-batch', connectionId: 'shop', deliveryIds: ['a', 'b'] });
  });
});
