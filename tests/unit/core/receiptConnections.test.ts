import type { Connection } from '../../../shared/core/model';
import { ReceiptConnections } from '../../../shared/core/webhookIntake/receiptConnections';
import { openDatabase, type SqliteDatabase } from '../../../shared/platform/local/database';
import { SqliteConnectionStore } from '../../../shared/platform/local/sqliteConnectionStore';

/**
 * The receiver's connection lookups (receiptConnections.ts) on a real SQLite connection store:
 * reused within the TTL, read again after it, never remembered when missing, bounded in size.
 */
describe('ReceiptConnections', () => {
  let db: SqliteDatabase;
  let store: SqliteConnectionStore;
  let reads: string[];
  let now: number;

  const connection = (id: string, tenantId = 't1', provider = 'sandbox'): Connection => ({
    id,
    tenantId,
    provider,
    config: { baseUrl: 'http://127.0.0.1:9' },
    entities: [{ name: 'customers', direction: 'pull' }],
    schedule: { enabled: false, cron: '0 * * * *', timeZone: 'UTC', mode: 'incremental' },
    status: 'active',
    syncState: {},
    createdAt: '2026-11-24T00:00:00.000Z',
    updatedAt: '2026-11-24T00:00:00.000Z',
    version: 1,
  });

  beforeEach(() => {
    db = openDatabase(':memory:');
    store = new SqliteConnectionStore(db);
    reads = [];
    const get = store.get.bind(store);
    store.get = (id: string) => {
      reads.push(id);
      return get(id);
    };
    now = 1_000_000;
  });
  afterEach(() => db.close());

  test('a connection read serves the next deliveries for the TTL, then is read again', async () => {
    await store.create(connection('c1', 'tenant-a', 'sandbox'));
    const connections = new ReceiptConnections(store, { ttlMs: 1000, now: () => now });
    expect(await connections.get('c1')).toEqual({ id: 'c1', tenantId: 'tenant-a', provider: 'sandbox' });
    now += 999;
    expect(await connections.get('c1')).toEqual({ id: 'c1', tenantId: 'tenant-a', provider: 'sandbox' });
    expect(reads).toEqual(['c1']);
    now += 1;
    await connections.get('c1');
    expect(reads).toEqual(['c1', 'c1']);
  });

  test('a missing connection is not remembered: one created after a miss is found at once', async () => {
    const connections = new ReceiptConnections(store, { now: () => now });
    expect(await connections.get('late')).toBeUndefined();
    await store.create(connection('late'));
    expect(await connections.get('late')).toEqual({ id: 'late', tenantId: 't1', provider: 'sandbox' });
    expect(reads).toEqual(['late', 'late']);
  });

  test('ttlMs 0 reads the store for every lookup', async () => {
    await store.create(connection('c1'));
    const connections = new ReceiptConnections(store, { ttlMs: 0, now: () => now });
    await connections.get('c1');
    await connections.get('c1');
    expect(reads).toEqual(['c1', 'c1']);
  });

  test('at most maxEntries are kept: the oldest read goes first', async () => {
    for (const id of ['a', 'b', 'c']) await store.create(connection(id));
    const connections = new ReceiptConnections(store, { maxEntries: 2, now: () => now });
    await connections.get('a');
    await connections.get('b');
    await connections.get('c'); // drops a
    reads = [];
    await connections.get('b');
    await connections.get('c');
    expect(reads).toEqual([]);
    await connections.get('a');
    expect(reads).toEqual(['a']);
  });

  test('only the fields receipt uses are kept, never the connection document', async () => {
    await store.create({ ...connection('c1'), config: { baseUrl: 'http://127.0.0.1:9', note: 'not for receipt' } });
    const connections = new ReceiptConnections(store, { now: () => now });
    expect(Object.keys((await connections.get('c1'))!).sort()).toEqual(['id', 'provider', 'tenantId']);
  });

  test('settings out of range are refused', () => {
    expect(() => new ReceiptConnections(store, { ttlMs: -1 })).toThrow(/ttlMs/);
    expect(() => new ReceiptConnections(store, { ttlMs: Infinity })).toThrow(/ttlMs/);
    expect(() => new ReceiptConnections(store, { maxEntries: 0 })).toThrow(/maxEntries/);
  });
});
