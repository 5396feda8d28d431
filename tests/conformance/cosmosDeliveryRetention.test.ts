import type { Delivery } from '../../shared/ports/deliveryStore';
import { CosmosDeliveryStore } from '../../shared/platform/azure/cosmos/cosmosDeliveryStore';
import { useCosmosDatabase } from '../support/cosmosServer';
import { uniqueId } from './fixtures';

/**
 * Retention on Cosmos is the `deliveries` container's TTL (30 days from a document's last write),
 * and a delivery still `received` must outlive it. @vercel/cosmosdb-server keeps a container's
 * `defaultTtl` but never expires an item (an item with `ttl: 1` is still there seconds later), so
 * this checks the per-item `ttl` the store writes, which is what Cosmos DB acts on: -1 (never
 * expires) while received, absent (the container's 30 days, counted from that write) once settled.
 */
describe('CosmosDeliveryStore retention: a delivery not applied yet never expires', () => {
  const cosmos = useCosmosDatabase();

  const makeDelivery = (overrides: Partial<Delivery> = {}): Delivery => {
    const connectionId = uniqueId('conn');
    return {
      id: `${connectionId}-dlv-1`, tenantId: uniqueId('tenant'), connectionId, provider: 'sandbox', webhookId: 'evt_1',
      receivedAt: '2026-01-01T00:00:00.000Z', status: 'received', headers: {}, body: '{}', replays: 0, updatedAt: '2026-01-01T00:00:00.000Z',
      ...overrides,
    };
  };
  const storedTtl = async (delivery: Delivery): Promise<number | undefined> => {
    const { resource } = await cosmos.db.container('deliveries').item(delivery.id, [delivery.tenantId, delivery.connectionId]).read<{ ttl?: number }>();
    expect(resource).toBeDefined();
    return resource!.ttl;
  };

  it('stores a received delivery with ttl -1, and gives it back to the container TTL once applied, ignored or failed', async () => {
    const store = new CosmosDeliveryStore(cosmos.db);
    const delivery = makeDelivery();
    await store.insert(delivery);
    expect(await storedTtl(delivery)).toBe(-1);
    await store.update(delivery.id, { status: 'failed', detail: 'provider down' }, '2026-01-01T00:01:00.000Z');
    expect(await storedTtl(delivery)).toBeUndefined();
    // A replay puts it back in the queue: it must outlive the TTL again until handled.
    await store.update(delivery.id, { status: 'received', detail: undefined, replays: 1 }, '2026-01-02T00:00:00.000Z');
    expect(await storedTtl(delivery)).toBe(-1);
    // A change that leaves the status alone keeps it.
    await store.update(delivery.id, { eventType: 'customers.updated' }, '2026-01-02T00:00:01.000Z');
    expect(await storedTtl(delivery)).toBe(-1);
    await store.update(delivery.id, { status: 'applied' }, '2026-01-02T00:01:00.000Z');
    expect(await storedTtl(delivery)).toBeUndefined();
    // The field is the store's own: the port never hands it out.
    expect(await store.get(delivery.id)).not.toHaveProperty('ttl');
  });

  it('keeps a held delivery (its connection paused) with ttl -1 until it is released and applied', async () => {
    const store = new CosmosDeliveryStore(cosmos.db);
    const delivery = makeDelivery();
    await store.insert(delivery);
    await store.update(delivery.id, { status: 'held', detail: 'Waiting for the connection to be resumed.' }, '2026-01-01T00:01:00.000Z');
    expect(await storedTtl(delivery)).toBe(-1);
    await store.update(delivery.id, { status: 'applied', detail: undefined }, '2026-03-01T00:00:00.000Z');
    expect(await storedTtl(delivery)).toBeUndefined();
  });

  it('keeps webhook health counters past the log\'s 30 days (ttl -1), through every kind of count', async () => {
    const store = new CosmosDeliveryStore(cosmos.db);
    const connectionId = uniqueId('conn');
    const healthTtl = async (): Promise<number | undefined> => {
      const { resources } = await cosmos.db.container('deliveries').items
        .query<{ ttl?: number }>({ query: "SELECT * FROM c WHERE c.docType = 'health' AND c.connectionId = @c", parameters: [{ name: '@c', value: connectionId }] })
        .fetchAll();
      expect(resources).toHaveLength(1);
      return resources[0].ttl;
    };
    await store.recordHealth(connectionId, 'received', '2026-01-01T00:00:00.000Z');
    expect(await healthTtl()).toBe(-1);
    await store.recordHealth(connectionId, 'rejected', '2026-01-01T00:00:01.000Z', 'bad signature');
    await store.recordHealth(connectionId, 'failed', '2026-01-01T00:00:02.000Z', 'apply failed');
    expect(await healthTtl()).toBe(-1);
    expect(await store.health(connectionId)).toMatchObject({ received: 1, rejected: 1, failures: 1 });
  });

  it('stores a delivery inserted already settled with the container TTL', async () => {
    const store = new CosmosDeliveryStore(cosmos.db);
    const delivery = makeDelivery({ status: 'ignored', detail: 'unknown event type' });
    await store.insert(delivery);
    expect(await storedTtl(delivery)).toBeUndefined();
    expect(await store.get(delivery.id)).toEqual(delivery);
  });
});
