import type { Delivery } from '../../shared/ports/deliveryStore';
import { CosmosDeliveryStore } from '../../shared/platform/azure/cosmos/cosmosDeliveryStore';
import { useCosmosDatabase } from '../support/cosmosServer';
import { uniqueId } from './fixtures';

/**
 * A burst of one connection's deliveries stored with one insertMany (the intake's group commit
 * batches up to 256): every delivery's "received" shares the connection's health document, which
 * is updated with If-Match and retried on a lost race.
 */
describe('CosmosDeliveryStore: a burst of one connection\'s deliveries', () => {
  const cosmos = useCosmosDatabase();

  function delivery(connectionId: string, i: number): Delivery {
    const at = new Date(Date.UTC(2025, 0, 1, 12, 0, i)).toISOString();
    return { id: `dlv_${connectionId}_${i}`, tenantId: 't1', connectionId, provider: 'sandbox', webhookId: `msg_${i}`, receivedAt: at, status: 'received', headers: {}, body: '{}', replays: 0, updatedAt: at };
  }

  it('stores every delivery of a batch and counts each once, however many share a connection', async () => {
    const store = new CosmosDeliveryStore(cosmos.db);
    const [busy, other] = [uniqueId('conn-burst'), uniqueId('conn-burst')];
    const batch = [...Array.from({ length: 40 }, (_, i) => delivery(busy, i)), delivery(other, 0), delivery(other, 1)];
    expect(await store.insertMany(batch)).toEqual(batch.map(() => true));
    expect(await store.health(busy)).toMatchObject({ received: 40, lastReceivedAt: delivery(busy, 39).receivedAt });
    expect(await store.health(other)).toMatchObject({ received: 2, lastReceivedAt: delivery(other, 1).receivedAt });
    for (const d of batch) expect(await store.get(d.id)).toEqual(d);
    // Stored already: nothing is counted again.
    expect(await store.insertMany([delivery(busy, 0), delivery(busy, 40)])).toEqual([false, true]);
    expect(await store.health(busy)).toMatchObject({ received: 41, lastReceivedAt: delivery(busy, 40).receivedAt });
    expect(await store.insert(delivery(busy, 41))).toBe(true);
    expect(await store.insert(delivery(busy, 41))).toBe(false);
    expect((await store.health(busy)).received).toBe(42);
  });
});
