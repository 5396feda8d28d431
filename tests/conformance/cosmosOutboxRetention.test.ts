import { CosmosOutboxStore, DONE_OUTBOX_TTL_SECONDS } from '../../shared/platform/azure/cosmos/cosmosOutboxStore';
import type { OutboxEntry } from '../../shared/ports/outboxStore';
import { useCosmosDatabase } from '../support/cosmosServer';
import { uniqueId } from './fixtures';
import { change } from './outboxStore.conformance';

/**
 * Outbox entries live in their record's partition of `records`, one per local change: kept forever,
 * they would grow a busy connection's partition toward Cosmos DB's 20 GB per logical partition. A
 * `done` entry therefore carries its own `ttl`; every other state none, so the container's default
 * (-1: TTL on, nothing expires by default) keeps it. @vercel/cosmosdb-server stores `ttl` but never
 * expires an item (cosmosDeliveryRetention.test.ts), so this checks the field Cosmos DB acts on.
 */
describe('CosmosOutboxStore retention: done entries expire, others never', () => {
  const cosmos = useCosmosDatabase();

  const newScope = () => ({ tenantId: uniqueId('ten'), connectionId: uniqueId('con'), entity: 'customers' });
  const storedTtl = async (entry: OutboxEntry): Promise<number | undefined> => {
    const { resource } = await cosmos.db.container('records').item(entry.id, [entry.tenantId, entry.connectionId]).read<{ ttl?: number }>();
    expect(resource).toBeDefined();
    return resource!.ttl;
  };

  it('turns TTL on for records without a default: nothing expires unless it says so', async () => {
    const { resource } = await cosmos.db.container('records').read();
    expect(resource?.defaultTtl).toBe(-1);
  });

  it('keeps a pending entry with no ttl, gives it 30 days once done, and none again if it leaves done', async () => {
    const outbox = new CosmosOutboxStore(cosmos.db);
    const { record, entry } = change(newScope(), 'c1', 2, { name: 'after' });
    await outbox.commitLocalChange(record, entry);
    expect(await storedTtl(entry)).toBeUndefined();
    await outbox.update(entry.id, { state: 'pending', attempts: 1, lastError: 'provider down', nextAttemptAt: '2026-03-01T09:05:00.000Z' }, '2026-03-01T09:01:00.000Z');
    expect(await storedTtl(entry)).toBeUndefined();
    await outbox.update(entry.id, { state: 'done', attempts: 2 }, '2026-03-01T09:06:00.000Z');
    expect(DONE_OUTBOX_TTL_SECONDS).toBe(30 * 24 * 60 * 60);
    expect(await storedTtl(entry)).toBe(DONE_OUTBOX_TTL_SECONDS);
    // The field is the store's own: the port never hands it out.
    expect(await outbox.get(entry.id)).not.toHaveProperty('ttl');
    await outbox.update(entry.id, { state: 'pending' }, '2026-03-01T09:07:00.000Z');
    expect(await storedTtl(entry)).toBeUndefined();
  });

  it('never expires parked or dead entries (a person or a replay still has them to settle)', async () => {
    const outbox = new CosmosOutboxStore(cosmos.db);
    for (const state of ['parked', 'dead'] as const) {
      const { record, entry } = change(newScope(), `c-${state}`, 2, { name: 'after' });
      await outbox.commitLocalChange(record, entry);
      await outbox.update(entry.id, { state, lastError: 'refused' }, '2026-03-01T09:01:00.000Z');
      expect(await storedTtl(entry)).toBeUndefined();
    }
  });

  it('takes the retention of done entries as an option', async () => {
    const outbox = new CosmosOutboxStore(cosmos.db, { doneTtlSeconds: 3600 });
    const { record, entry } = change(newScope(), 'c2', 2, { name: 'after' });
    await outbox.commitLocalChange(record, entry);
    await outbox.update(entry.id, { state: 'done' }, '2026-03-01T09:01:00.000Z');
    expect(await storedTtl(entry)).toBe(3600);
  });
});
